// `hvtrace stats`: exits by trap, hcalls by name, virtual-mode page faults by outcome (samples,
// samples %, time %, min / max / avg / total time), plus fault triage decisions, notifier callbacks,
// host page operations and per-core partition switches and TLB invalidations, in the shape of
// `perf kvm stat report` on POWER. Every number comes from the perf replay handler
// (src/replay/handlers/perf.ts, where the pairing rules are written); nothing here counts events.
//
// The fold: when the trace has a valid checkpoint index (<trace>.hvidx, written by `record` and by
// the first `state`), the state at the end = the last checkpoint + a fold of the events after it
// (Seeker); without one, one pass of the perf handler alone over the whole trace (nothing is
// written).
//
// Rows: one per (section, group, name). Grouping (`by`): none = per name over every lpid, vcpu and
// core (the cores section is still per core: that is what it is for); 'vcpu' = per (lpid, vcpu)
// (vcpu ids are per VM); 'lpid'; 'core'. Percentages are within a section and group. Times are
// timebase ticks and µs at the trace's timebase (meta timebase_hz; null without one).

import { BOOK3S_INTERRUPT_NAMES } from '../arch/reg.js';
import { CORE_TLBIE, OUTCOME_UNFINISHED, PATH_UNFINISHED, PERF_SECTIONS, type PerfData, PerfHandler, type PerfRow, type PerfSectionName, SEC_CORES, SEC_EXITS, SEC_FAULTS, SEC_HCALLS, SEC_HOST_PAGES, SEC_NOTIFIER, SEC_PAGE_FAULTS, TIMED_SECTIONS } from '../replay/handlers/perf.js';
import { endFromIndex } from '../replay/seek.js';
import { UserError } from '../trace/errors.js';
import { ENUMS } from '../trace/kinds.js';
import { openTrace } from '../trace/reader.js';
import type { RunInfo } from '../trace/run-info.js';
import { hcallName } from '../trace/names.js';

export const STATS_BY = ['vcpu', 'lpid', 'core'] as const;
export type StatsBy = (typeof STATS_BY)[number];
export const STATS_SORT = ['samples', 'time'] as const;
export type StatsSort = (typeof STATS_SORT)[number];

export interface StatsOptions {
  by?: StatsBy;
  sort?: StatsSort;
  /** Only events of this LPID (host-context events, lpid -1, are left out then). */
  lpid?: number;
}

export interface StatsRow {
  section: PerfSectionName;
  /** Group columns: set for the --by key, null when aggregated over it. */
  lpid: number | null;
  vcpu: number | null;
  core: number | null;
  name: string;
  /** Trap number (exits) or hcall number (hcalls); null elsewhere (the name says it). */
  code: number | null;
  samples: number;
  samples_pct: number;
  /** Timed sections only (exits, hcalls, page_faults); null in count sections. */
  time_pct: number | null;
  total_ticks: number | null;
  min_ticks: number | null;
  max_ticks: number | null;
  avg_ticks: number | null;
  total_us: number | null;
  min_us: number | null;
  max_us: number | null;
  avg_us: number | null;
}

/** The row schema, in order (names of StatsRow), with how each prints (cli/format.ts types). */
export const STATS_COLUMNS = [
  ['section', 'text'],
  ['lpid', 'int'],
  ['vcpu', 'int'],
  ['core', 'int'],
  ['name', 'text'],
  ['code', 'hex'],
  ['samples', 'int'],
  ['samples_pct', 'real'],
  ['time_pct', 'real'],
  ['total_ticks', 'int'],
  ['min_ticks', 'int'],
  ['max_ticks', 'int'],
  ['avg_ticks', 'real'],
  ['total_us', 'real'],
  ['min_us', 'real'],
  ['max_us', 'real'],
  ['avg_us', 'real'],
] as const satisfies readonly (readonly [keyof StatsRow, 'text' | 'int' | 'real' | 'hex'])[];

const enumName = (t: readonly string[], v: number) => t[v] ?? String(v);

/** Name and code of an accumulator row. */
export function rowName(section: number, code: number): { name: string; code: number | null } {
  switch (section) {
    case SEC_EXITS:
      return { name: BOOK3S_INTERRUPT_NAMES.get(code) ?? `0x${code.toString(16)}`, code };
    case SEC_HCALLS: {
      const nr = Math.floor(code / 4);
      const path = code % 4;
      return { name: `${hcallName(nr)}/${path === PATH_UNFINISHED ? 'unfinished' : enumName(ENUMS.hcall_path, path)}`, code: nr };
    }
    case SEC_PAGE_FAULTS:
      return { name: code === OUTCOME_UNFINISHED ? 'unfinished' : enumName(ENUMS.page_fault_outcome, code), code: null };
    case SEC_FAULTS:
      return { name: `${enumName(ENUMS.fault_kind, code >> 3)}/${enumName(ENUMS.fault_decision, code & 7)}`, code: null };
    case SEC_NOTIFIER:
      return { name: `${enumName(ENUMS.notifier_kind, code >> 3)}/${enumName(ENUMS.notifier_effect, code & 7)}`, code: null };
    case SEC_HOST_PAGES:
      return { name: `${enumName(ENUMS.host_page_op, code >> 1)}/${code & 1 ? 'other' : 'guest'}`, code: null };
    case SEC_CORES:
      return { name: code >= CORE_TLBIE ? `tlbie/${enumName(ENUMS.tlb_scope, code - CORE_TLBIE)}` : `switch/${enumName(ENUMS.switch_direction, code)}`, code: null };
    default:
      throw new Error(`unknown stats section ${section}`);
  }
}

/** The group of a row under `by` (the cores section defaults to per core). */
function groupOf(r: PerfRow, by: StatsBy | undefined): { lpid: number | null; vcpu: number | null; core: number | null } {
  const g = by ?? (r.section === SEC_CORES ? 'core' : undefined);
  return { lpid: g === 'vcpu' || g === 'lpid' ? r.lpid : null, vcpu: g === 'vcpu' ? r.vcpu : null, core: g === 'core' ? r.core : null };
}

const cmpNull = (a: number | null, b: number | null) => (a ?? -Infinity) - (b ?? -Infinity);

/** Rows of `hvtrace stats` from the perf handler's data. */
export function statsRows(data: PerfData, opts: StatsOptions = {}, timebaseHz?: number): StatsRow[] {
  const sort = opts.sort ?? 'samples';
  const us = (ticks: number | null) => (ticks === null || !timebaseHz ? null : (ticks * 1e6) / timebaseHz);
  interface Acc {
    section: number;
    lpid: number | null;
    vcpu: number | null;
    core: number | null;
    name: string;
    code: number | null;
    samples: number;
    total: number;
    min: number;
    max: number;
  }
  const acc = new Map<string, Acc>();
  for (const r of data.rows) {
    if (opts.lpid !== undefined && r.lpid !== opts.lpid) continue;
    if (r.samples === 0) continue;
    const g = groupOf(r, opts.by);
    const { name, code } = rowName(r.section, r.code);
    const k = `${r.section}|${g.lpid}|${g.vcpu}|${g.core}|${name}`;
    const a = acc.get(k);
    if (!a) acc.set(k, { section: r.section, ...g, name, code, samples: r.samples, total: r.total, min: r.min, max: r.max });
    else {
      a.samples += r.samples;
      a.total += r.total;
      a.min = Math.min(a.min, r.min);
      a.max = Math.max(a.max, r.max);
    }
  }
  // Section and group totals for the percentages.
  const groupKey = (a: Acc) => `${a.section}|${a.lpid}|${a.vcpu}|${a.core}`;
  const sums = new Map<string, { samples: number; total: number }>();
  for (const a of acc.values()) {
    const s = sums.get(groupKey(a)) ?? { samples: 0, total: 0 };
    s.samples += a.samples;
    s.total += a.total;
    sums.set(groupKey(a), s);
  }
  const list = [...acc.values()].sort(
    (x, y) =>
      x.section - y.section ||
      cmpNull(x.lpid, y.lpid) ||
      cmpNull(x.vcpu, y.vcpu) ||
      cmpNull(x.core, y.core) ||
      (sort === 'time' && TIMED_SECTIONS[x.section] ? y.total - x.total : 0) ||
      y.samples - x.samples ||
      (x.name < y.name ? -1 : x.name > y.name ? 1 : 0),
  );
  return list.map((a) => {
    const s = sums.get(groupKey(a))!;
    const timed = TIMED_SECTIONS[a.section];
    const pct = (v: number, of: number) => (of === 0 ? 0 : (v * 100) / of);
    return {
      section: PERF_SECTIONS[a.section],
      lpid: a.lpid,
      vcpu: a.vcpu,
      core: a.core,
      name: a.name,
      code: a.code,
      samples: a.samples,
      samples_pct: pct(a.samples, s.samples),
      time_pct: timed ? pct(a.total, s.total) : null,
      total_ticks: timed ? a.total : null,
      min_ticks: timed ? a.min : null,
      max_ticks: timed ? a.max : null,
      avg_ticks: timed ? a.total / a.samples : null,
      total_us: timed ? us(a.total) : null,
      min_us: timed ? us(a.min) : null,
      max_us: timed ? us(a.max) : null,
      avg_us: timed ? us(a.total / a.samples) : null,
    };
  });
}

export interface TraceStats {
  info: RunInfo;
  events: number;
  /** seq of the checkpoint the fold started from (null: folded from the start). */
  fromCheckpoint: number | null;
  data: PerfData;
}

/**
 * Fold a trace to its end for stats: the last checkpoint of a valid index + the tail, or the whole
 * trace when it has no valid index. `onProgress(events folded, total or undefined)` on long folds.
 */
export async function traceStats(path: string, opts: { onProgress?: (done: number, total: number | undefined) => void; indexPath?: string } = {}): Promise<TraceStats> {
  const end = await endFromIndex(path, { indexPath: opts.indexPath, perf: true });
  if (end) {
    const { fold, info, fromCheckpoint } = end;
    return { info, events: fold.lastSeq + 1, fromCheckpoint, data: fold.perf.data(fold.lastTime) };
  }
  const reader = await openTrace(path);
  // No index: the perf handler alone over every event. It has no deps and no handler depends on
  // it, so its state is the one a full StateFold would hold (tested: index = this fold), at half
  // the cost on Arrow (the other handlers' HPT, rmap and TLB work is skipped).
  try {
    const perf = new PerfHandler(true);
    const total = reader.eventCount;
    let events = 0;
    let lastTime = 0;
    for await (const b of reader.batches()) {
      perf.seeRange(b, 0, b.length);
      events = b.firstSeq + b.length;
      if (b.length) lastTime = b.time[b.length - 1];
      opts.onProgress?.(events, total);
    }
    if (events === 0) throw new UserError(`${path}: the trace has no events`);
    perf.finalize();
    return { info: reader.info, events, fromCheckpoint: null, data: perf.data(lastTime) };
  } finally {
    reader.close();
  }
}
