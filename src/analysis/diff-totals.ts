// `hvtrace diff A B`, section 2: totals side by side (issue 12), with delta (B − A) and ratio (B / A).
//
// Nothing here counts events. Every count comes from the ONE counting path: the replay's counters
// handler (src/replay/handlers/counters.ts), read through the run summary (summary.ts summaryOf)
// for the named totals, and the perf handler's rows (stats.ts statsRows: exits by trap); the fold
// is the `stats` fold — the last checkpoint of a valid .hvidx index plus the events after it
// (Seeker), or one StateFold over the whole trace when there is no index (nothing is written).
// Fault latencies come from the derived tables' fault_chain.latency (derived-cache.ts openDerived,
// the FAULT LATENCY rule in derived.ts), with mean, p50 and p99 computed here in SQL.
// Two traces are two independent folds (instances only, no module state).
//
// NOISE RULE (documented in the output legend and README "Comparing runs: diff"): a difference is
// "within seed noise" only when the two runs differ in seed (a seed changes the guest's operation
// stream, so counts move by chance) and
//   counts          |a − b| ≤ 3·√(a + b)   (two Poisson counts: the difference's standard deviation
//                                          is √(a + b); 3σ)
//   latency mean    |mean_a − mean_b| ≤ 3·√(var_a/n_a + var_b/n_b)   (Welch's standard error, 3σ)
//   latency p50/p99 the two quantiles' distribution-free 3σ confidence intervals overlap (order
//                   statistics at ranks n·q ± 3·√(n·q·(1−q)) of each run)
// When the seeds are equal the emulator is deterministic: the same seed gives the same guest
// operations, so ANY difference is caused by the configuration and is never noise. Only
// differences beyond noise make the section differ.

import { SEC_FAULTS, SEC_HOST_PAGES, SEC_NOTIFIER } from '../replay/handlers/perf.js';
import { endFromIndex } from '../replay/seek.js';
import { StateFold } from '../replay/state.js';
import { UserError } from '../trace/errors.js';
import { ENUMS, KIND_BY_CODE } from '../trace/kinds.js';
import { hcallName, hretName } from '../trace/names.js';
import { openTrace } from '../trace/reader.js';
import type { RunInfo } from '../trace/run-info.js';
import { openDerived } from './derived-cache.js';
import type { DiffSection } from './diff-section.js';
import { rowName, statsRows } from './stats.js';
import { summaryOf } from './summary.js';

/** One family of totals, in output order. */
export const TOTAL_FAMILIES = [
  'run',
  'events',
  'exits',
  'hcalls',
  'hcall_returns',
  'faults_by_interrupt',
  'faults',
  'page_faults',
  'notifier',
  'host_pages',
  'mmu',
  'latency',
] as const;
export type TotalFamily = (typeof TOTAL_FAMILIES)[number];

const FAMILY_TITLES: Record<TotalFamily, string> = {
  run: 'Run',
  events: 'Events by kind',
  exits: 'Exits by trap',
  hcalls: 'Hcalls by name (hcall_enter)',
  hcall_returns: 'Hcalls by name and return code (hcall_exit)',
  faults_by_interrupt: 'Storage faults by interrupt',
  faults: 'Storage faults by interrupt and triage decision',
  page_faults: 'Virtual-mode page faults by outcome',
  notifier: 'MMU-notifier callbacks by callback and effect',
  host_pages: 'Host page operations by owner (guest = guest RAM, other = other processes)',
  mmu: 'Re-faults, pins, swap-outs, partition switches, TLB',
  latency: 'Fault latency, trap to the guest\'s resume (fault_chain.latency; µs at each trace\'s timebase)',
};

export type TotalStatus = 'same' | 'noise' | 'differs';

export interface TotalRow {
  family: TotalFamily;
  name: string;
  a: number | null;
  b: number | null;
  /** b − a (null if a side has no value). */
  delta: number | null;
  /** b / a (null if a is 0 or a side has no value). */
  ratio: number | null;
  status: TotalStatus;
}

/** Latency statistics of one group of faults (ticks). */
export interface LatencyStats {
  n: number;
  mean: number | null;
  variance: number | null;
  p50: number | null;
  p99: number | null;
  /** Distribution-free 3σ confidence intervals of p50 and p99: [lo, hi] values. */
  p50ci: [number, number] | null;
  p99ci: [number, number] | null;
}

/** Everything the totals section compares, for one trace. */
export interface RunTotals {
  info: RunInfo;
  events: number;
  /** seq of the checkpoint the fold started from (null: one fold from the start). */
  fromCheckpoint: number | null;
  /** family → name → count (counts only; latency is separate). */
  counts: Map<TotalFamily, Map<string, number>>;
  /** 'all' (every fault with a resume) and each interrupt kind present (hdsi, hisi, dsi, isi). */
  latency: Map<string, LatencyStats>;
}

const enumName = (t: readonly string[], v: number) => t[v] ?? String(v);

/** Rank of a quantile q over n values (nearest-rank rule, 1-based): ⌈q·n⌉, at least 1. */
export const quantileRank = (n: number, q: number) => Math.max(1, Math.ceil(q * n));

/** Ranks bounding the distribution-free 3σ confidence interval of the q-quantile of n values. */
export function quantileCiRanks(n: number, q: number): [number, number] {
  const c = n * q;
  const h = 3 * Math.sqrt(n * q * (1 - q));
  return [Math.max(1, Math.floor(c - h)), Math.min(n, Math.ceil(c + h))];
}

/** Two Poisson counts are within seed noise: |a − b| ≤ 3·√(a + b). */
export const countsWithinNoise = (a: number, b: number) => Math.abs(a - b) <= 3 * Math.sqrt(a + b);

/**
 * The fold for the totals: the index's last checkpoint + the tail when a valid .hvidx exists, else
 * one StateFold (counters + perf) over the whole trace. `onProgress(done, total)` on a whole fold.
 */
async function foldToEnd(path: string, onProgress?: (done: number, total: number | undefined) => void): Promise<{ fold: StateFold; info: RunInfo; fromCheckpoint: number | null }> {
  const end = await endFromIndex(path, { perf: true });
  if (end) return end;
  const reader = await openTrace(path);
  try {
    const fold = new StateFold({ perf: true });
    const total = reader.eventCount;
    for await (const b of reader.batches()) {
      fold.foldBatch(b);
      onProgress?.(fold.lastSeq + 1, total);
    }
    fold.finalize();
    return { fold, info: reader.info, fromCheckpoint: null };
  } finally {
    reader.close();
  }
}

/** Latency statistics per fault group from the derived tables (built now if absent or stale). */
async function latencyOf(path: string, onBuild?: (events: number) => void): Promise<Map<string, LatencyStats>> {
  const reader = await openTrace(path);
  try {
    const cache = await openDerived(reader, { onProgress: onBuild });
    try {
      const db = cache.db;
      const out = new Map<string, LatencyStats>();
      const groups: [string, string, unknown[]][] = [['all', '', []]];
      for (const r of db.prepare('SELECT DISTINCT interrupt FROM fault_chain WHERE latency IS NOT NULL ORDER BY interrupt').all() as { interrupt: number }[])
        groups.push([enumName(ENUMS.fault_kind, r.interrupt), 'AND interrupt = ?', [r.interrupt]]);
      for (const [name, where, params] of groups) {
        const s = db.prepare(`SELECT count(*) AS n, avg(latency) AS mean, avg(latency * latency) AS sq FROM fault_chain WHERE latency IS NOT NULL ${where}`).get(...params) as { n: number; mean: number | null; sq: number | null };
        const at = db.prepare(`SELECT latency FROM fault_chain WHERE latency IS NOT NULL ${where} ORDER BY latency LIMIT 1 OFFSET ?`).pluck();
        const value = (rank: number) => at.get(...params, rank - 1) as number;
        const n = s.n;
        const q = (p: number) => (n ? value(quantileRank(n, p)) : null);
        const ci = (p: number): [number, number] | null => {
          if (!n) return null;
          const [lo, hi] = quantileCiRanks(n, p);
          return [value(lo), value(hi)];
        };
        const variance = n && s.mean !== null && s.sq !== null ? Math.max(0, s.sq - s.mean * s.mean) : null;
        out.set(name, { n, mean: s.mean, variance, p50: q(0.5), p99: q(0.99), p50ci: ci(0.5), p99ci: ci(0.99) });
      }
      return out;
    } finally {
      cache.close();
    }
  } finally {
    reader.close();
  }
}

export interface TotalsOptions {
  /** Progress of a long fold or derived-table build: (what, events done, total if known). */
  onProgress?: (what: string, done: number, total: number | undefined) => void;
}

/** The totals of one trace. */
export async function runTotals(path: string, opts: TotalsOptions = {}): Promise<RunTotals> {
  const { fold, info, fromCheckpoint } = await foldToEnd(path, (d, t) => opts.onProgress?.(`fold ${path}`, d, t));
  const s = summaryOf(fold, info.profile, info.seed);
  if (s.events === 0) throw new UserError(`${path}: the trace has no events`);
  const c = fold.counters;
  const counts = new Map<TotalFamily, Map<string, number>>(TOTAL_FAMILIES.filter((f) => f !== 'latency').map((f) => [f, new Map()]));
  const put = (f: TotalFamily, name: string, v: number) => {
    const m = counts.get(f)!;
    m.set(name, (m.get(name) ?? 0) + v);
  };
  put('run', 'events', s.events);
  put('run', 'guest_ops', s.guest_ops);
  put('run', 'anomalies', s.anomalies);
  c.byKind.forEach((v, code) => v && put('events', KIND_BY_CODE[code] ?? `kind ${code}`, v));
  for (const r of statsRows(fold.perf.data(fold.lastTime), {}, info.timebaseHz)) if (r.section === 'exits') put('exits', r.name, r.samples);
  for (const [name, v] of Object.entries(s.hcalls_by_name)) put('hcalls', name, v);
  put('hcalls', '(virtual mode)', s.hcalls_virtual_mode);
  put('hcalls', '(to userspace)', s.hcalls_to_userspace);
  for (const [key, v] of c.hcalls) put('hcall_returns', `${hcallName(Math.floor(key / 65536))}/${hretName(((key & 0xffff) << 16) >> 16)}`, v);
  for (const [name, v] of Object.entries(s.faults_by_interrupt)) put('faults_by_interrupt', name, v);
  c.faults.forEach((v, j) => v && put('faults', rowName(SEC_FAULTS, j).name, v));
  for (const [name, v] of Object.entries(s.page_faults_by_outcome)) put('page_faults', name, v);
  c.notifierEffect.forEach((v, j) => v && put('notifier', rowName(SEC_NOTIFIER, j).name, v));
  put('notifier', '(callbacks)', s.notifier_callbacks);
  put('notifier', '(HPTEs invalidated)', s.hptes_invalidated_by_notifiers);
  c.hostOps.forEach((v, j) => v && put('host_pages', rowName(SEC_HOST_PAGES, j).name, v));
  put('mmu', 'refaults_after_invalidation', s.refaults_after_invalidation);
  put('mmu', 'pinned_pages', s.pinned_pages);
  put('mmu', 'host_swapouts_guest', s.host_swapouts_guest);
  put('mmu', 'host_swapouts_other', s.host_swapouts_other);
  put('mmu', 'host_swapins_guest', s.host_swapins_guest);
  put('mmu', 'partition_switches', s.partition_switches);
  put('mmu', 'tlbies', s.tlbies);
  put('mmu', 'tlb_flushes', s.tlb_flushes);
  put('mmu', 'absent_hpte_writes', s.absent_hpte_writes);
  put('mmu', 'mmio_exits', s.mmio_exits);
  const latency = await latencyOf(path, (d) => opts.onProgress?.(`derived tables ${path}`, d, s.events));
  return { info, events: s.events, fromCheckpoint, counts, latency };
}

function row(family: TotalFamily, name: string, a: number | null, b: number | null, noise: (a: number, b: number) => boolean): TotalRow {
  const both = a !== null && b !== null;
  const delta = both ? b - a : null;
  const ratio = both && a !== 0 ? b / a : null;
  const status: TotalStatus = a === b ? 'same' : both && noise(a, b) ? 'noise' : 'differs';
  return { family, name, a, b, delta, ratio, status };
}

/** Latencies compare in µs when both traces carry a timebase (profiles tick at different rates), else in ticks. */
export const latencyUnit = (ta: RunTotals, tb: RunTotals): 'us' | 'ticks' => (ta.info.timebaseHz && tb.info.timebaseHz ? 'us' : 'ticks');

function scaled(l: LatencyStats | undefined, k: number): LatencyStats | undefined {
  if (!l || k === 1) return l;
  const m = (v: number | null) => (v === null ? null : v * k);
  const ci = (c: [number, number] | null): [number, number] | null => (c ? [c[0] * k, c[1] * k] : null);
  return { n: l.n, mean: m(l.mean), variance: l.variance === null ? null : l.variance * k * k, p50: m(l.p50), p99: m(l.p99), p50ci: ci(l.p50ci), p99ci: ci(l.p99ci) };
}

/** The side-by-side rows of two runs' totals, with each difference's status under the noise rule. */
export function compareTotals(ta: RunTotals, tb: RunTotals): TotalRow[] {
  const seedsDiffer = ta.info.seed !== tb.info.seed;
  const out: TotalRow[] = [];
  for (const f of TOTAL_FAMILIES) {
    if (f === 'latency') continue;
    const ma = ta.counts.get(f)!;
    const mb = tb.counts.get(f)!;
    const names = [...new Set([...ma.keys(), ...mb.keys()])];
    // Largest first within a family (by the larger side), then by name: stable for one input.
    names.sort((x, y) => Math.max(mb.get(y) ?? 0, ma.get(y) ?? 0) - Math.max(mb.get(x) ?? 0, ma.get(x) ?? 0) || (x < y ? -1 : x > y ? 1 : 0));
    for (const n of names) {
      const a = ma.get(n) ?? 0;
      const b = mb.get(n) ?? 0;
      if (a === 0 && b === 0) continue;
      out.push(row(f, n, a, b, (x, y) => seedsDiffer && countsWithinNoise(x, y)));
    }
  }
  const groups = [...new Set([...ta.latency.keys(), ...tb.latency.keys()])];
  const unit = latencyUnit(ta, tb);
  for (const g of groups) {
    const la = scaled(ta.latency.get(g), unit === 'us' ? 1e6 / ta.info.timebaseHz! : 1);
    const lb = scaled(tb.latency.get(g), unit === 'us' ? 1e6 / tb.info.timebaseHz! : 1);
    const n = (l: LatencyStats | undefined) => l?.n ?? 0;
    out.push(row('latency', `${g} faults`, n(la), n(lb), (x, y) => seedsDiffer && countsWithinNoise(x, y)));
    const meanNoise = () => {
      if (!la?.n || !lb?.n || la.variance === null || lb.variance === null) return false;
      return Math.abs(la.mean! - lb.mean!) <= 3 * Math.sqrt(la.variance / la.n + lb.variance / lb.n);
    };
    const overlap = (x: [number, number] | null | undefined, y: [number, number] | null | undefined) => !!x && !!y && x[0] <= y[1] && y[0] <= x[1];
    out.push(row('latency', `${g} mean`, la?.mean ?? null, lb?.mean ?? null, () => seedsDiffer && meanNoise()));
    out.push(row('latency', `${g} p50`, la?.p50 ?? null, lb?.p50 ?? null, () => seedsDiffer && overlap(la?.p50ci, lb?.p50ci)));
    out.push(row('latency', `${g} p99`, la?.p99 ?? null, lb?.p99 ?? null, () => seedsDiffer && overlap(la?.p99ci, lb?.p99ci)));
  }
  return out;
}

/** How far a difference is beyond noise, for ordering the top differences: |Δ| / √(a + b + 1). */
const weight = (r: TotalRow) => (r.a === null || r.b === null ? 0 : Math.abs(r.b - r.a) / Math.sqrt(Math.abs(r.a) + Math.abs(r.b) + 1));

const fmtNum = (v: number | null) => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(3));
const fmtRatio = (r: TotalRow) => (r.ratio !== null ? `${r.ratio.toFixed(2)}x` : r.a === 0 && r.b !== null && r.b !== 0 ? 'new' : '-');
const fmtDelta = (v: number | null) => (v === null ? '-' : `${v > 0 ? '+' : ''}${fmtNum(v)}`);

export const NOISE_LEGEND = [
  'Legend: "*" differs beyond seed noise, "~" within seed noise, blank = equal. Delta = B − A, ratio = B / A.',
  'Seed noise is only possible when the seeds differ: counts |A − B| ≤ 3·√(A + B) (Poisson, 3σ); latency means within 3 Welch',
  'standard errors; p50/p99 when their distribution-free 3σ confidence intervals overlap. With one seed the emulator is',
  'deterministic: every difference is caused by the configuration.',
];

/** Section 2 of `hvtrace diff`: totals of `a` and `b` side by side. */
export async function totalsSection(a: string, b: string, opts: TotalsOptions = {}): Promise<DiffSection> {
  const ta = await runTotals(a, opts);
  const tb = await runTotals(b, opts);
  return totalsSectionOf(ta, tb);
}

/** The section from two runs' totals (tests build it from totals they made). */
export function totalsSectionOf(ta: RunTotals, tb: RunTotals): DiffSection {
  const rows = compareTotals(ta, tb);
  const seedsDiffer = ta.info.seed !== tb.info.seed;
  const differing = rows.filter((r) => r.status === 'differs');
  const noisy = rows.filter((r) => r.status === 'noise');
  const mark = { same: ' ', noise: '~', differs: '*' } as const;
  const cells = rows.map((r) => [mark[r.status], r.name, fmtNum(r.a), fmtNum(r.b), fmtDelta(r.delta), fmtRatio(r)]);
  const w = [1, 4, 1, 1, 5, 5].map((m, j) => Math.max(m, ...cells.map((c) => c[j].length)));
  const line = (c: string[]) => `  ${c[0]} ${c[1].padEnd(w[1])}  ${c[2].padStart(w[2])}  ${c[3].padStart(w[3])}  ${c[4].padStart(w[4])}  ${c[5].padStart(w[5])}`.trimEnd();
  const lines: string[] = [];
  const from = (t: RunTotals) => (t.fromCheckpoint === null ? 'one fold of the whole trace' : `checkpoint at seq ${t.fromCheckpoint} + the tail`);
  lines.push(`  A: ${ta.events} events (${from(ta)}); B: ${tb.events} events (${from(tb)})`);
  lines.push(
    seedsDiffer
      ? `  seeds differ (${ta.info.seed} vs ${tb.info.seed}): differences within seed noise are marked "~" and do not count`
      : `  same seed (${ta.info.seed}): the emulator is deterministic, so every difference below is caused by the configuration`,
  );
  for (const f of TOTAL_FAMILIES) {
    const idx = rows.map((r, i) => [r, i] as const).filter(([r]) => r.family === f);
    if (!idx.length) continue;
    const title = f === 'latency' && latencyUnit(ta, tb) === 'ticks' ? FAMILY_TITLES[f].replace('µs at each trace\'s timebase', 'ticks: a trace has no timebase') : FAMILY_TITLES[f];
    lines.push('', `  ${title}`, line(['', '', 'A', 'B', 'delta', 'ratio']));
    for (const [, i] of idx) lines.push(line(cells[i]));
  }
  lines.push('', ...NOISE_LEGEND.map((l) => `  ${l}`));
  const top = [...differing].sort((x, y) => weight(y) - weight(x)).slice(0, 3);
  const summary: string[] = [];
  if (differing.length) {
    summary.push(`${differing.length} total${differing.length === 1 ? '' : 's'} differ${seedsDiffer ? ` beyond seed noise (${noisy.length} more within it)` : ' (same seed: caused by the configuration)'}`);
    summary.push(`largest: ${top.map((r) => `${r.family}/${r.name} ${fmtNum(r.a)} → ${fmtNum(r.b)}`).join('; ')}`);
  } else if (noisy.length) summary.push(`every total agrees within seed noise (${noisy.length} differ by no more than the seed alone would vary)`);
  else summary.push('every total is equal');
  return {
    key: 'totals',
    title: 'Totals (counters and stats of each run, side by side)',
    differs: differing.length > 0,
    summary,
    lines,
    json: {
      seeds_differ: seedsDiffer,
      latency_unit: latencyUnit(ta, tb),
      noise_rule: NOISE_LEGEND.slice(1).join(' '),
      a: { events: ta.events, from_checkpoint: ta.fromCheckpoint },
      b: { events: tb.events, from_checkpoint: tb.fromCheckpoint },
      differing: differing.length,
      within_noise: noisy.length,
      rows,
    },
  };
}
