// `npm run bench -- query [--events N] [--runs R] [--probes P] [--json]`: issue 11's figures on one
// trace of ≥ N events (default 10,000,000), recorded once as in `bench replay` (mix workload, host
// pressure; cached in $TMPDIR/hvtrace-bench-replay/) and converted once to SQLite beside it.
//
// Setup (timed from here, as a user meets it, through the CLI; skipped when already built): the
// SQLite conversion, each format's checkpoint index (.hvidx), the derived tables (.hvd) and the
// Arrow trace's SQLite copy (.hvq). Then, in a fresh child process (its peak RSS is the figure),
// what one command does after Node start-up, median of R runs:
//   history_gfn_ms / history_hpte_ms: `history --gfn` of the median guest frame and `--hpte` of the
//     median HPTE slot (by touch rows), every row rendered as CSV;
//   faults_gfn_ms: `faults --gfn` of the median frame that has faults;
//   stats_sqlite_s / stats_arrow_s: `stats` from the index (last checkpoint + tail), each format;
//   hpte_at_probe_us: one `hpte_at` probe (slot of a random fault at its seq), median of P, warm;
//   fault_hpte_join_s: `SELECT … FROM faults f, hpte_at(f.seq) h WHERE h.hpte_index = f.hpte_index
//     AND h.lpid = f.lpid`, every row read;
//   peak_rss_mb: the child's maximum resident set.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { faultRows, FAULT_COLUMNS, historyRows, HISTORY_COLUMNS, type CannedCell, type CannedColumn } from '../src/analysis/canned.js';
import { openDerived } from '../src/analysis/derived-cache.js';
import { SPACE } from '../src/analysis/derived.js';
import { sqliteEventLookup } from '../src/analysis/event-lookup.js';
import { openQueryDb } from '../src/analysis/query-db.js';
import { registerStateTables } from '../src/analysis/state-tables.js';
import { traceStats } from '../src/analysis/stats.js';
import { Prng } from '../src/base/prng.js';
import { openTrace } from '../src/trace/reader.js';
import { RowWriter } from '../cli/format.js';
import { ensureTrace } from './replay.js';
import { median, parseBenchArgs, printFigures } from './util.js';

const BIN = join(fileURLToPath(import.meta.url), '../../../bin/hvtrace.js');
const RUN = join(fileURLToPath(import.meta.url), '../run.js');

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

function cli(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`hvtrace ${args.join(' ')}: exit ${r.status}`);
  return round((performance.now() - t) / 1000, 1);
}

export async function benchQuery(argv: string[]): Promise<void> {
  const a = parseBenchArgs(argv, { events: 10_000_000, runs: 5 });
  const log = (s: string) => process.stderr.write(s);
  const arrow = ensureTrace(a.events, log);
  const sqlite = arrow.replace(/\.arrow$/, '.sqlite');
  const setup: Record<string, number> = {};
  if (!existsSync(sqlite)) {
    log(`converting to ${sqlite} (once)...\n`);
    setup.convert_s = cli(['convert', arrow, '-o', `${sqlite}.tmp.sqlite`, '-q']);
    renameSync(`${sqlite}.tmp.sqlite`, sqlite);
  }
  for (const t of [sqlite, arrow]) {
    const f = t === sqlite ? 'sqlite' : 'arrow';
    if (!existsSync(`${t}.hvidx`)) setup[`index_build_${f}_s`] = cli(['state', t, '--at', 'end', '--json']);
    if (!existsSync(`${t}.hvd`)) setup[`derived_build_${f}_s`] = cli(['faults', t, '--gfn', '0', '-q', '--csv']);
  }
  if (!existsSync(`${arrow}.hvq`)) setup.arrow_hvq_build_s = cli(['query', arrow, 'SELECT 1', '-q', '--csv']);
  log(`measuring in a child process (${a.runs} runs each)...\n`);
  const child = spawnSync(process.execPath, [RUN, 'query-child', sqlite, arrow, String(a.runs), String(a.probes ?? 2000)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`query-child: exit ${child.status}`);
  const fig = JSON.parse(child.stdout) as Record<string, number>;
  const sizes = {
    events: fig.events,
    sqlite_mb: round(statSync(sqlite).size / 2 ** 20, 0),
    arrow_mb: round(statSync(arrow).size / 2 ** 20, 0),
    hvd_mb: round(statSync(`${sqlite}.hvd`).size / 2 ** 20, 0),
    hvq_mb: round(statSync(`${arrow}.hvq`).size / 2 ** 20, 0),
  };
  printFigures('query', { ...sizes, ...fig, ...setup }, a);
}

async function csvRows(columns: readonly CannedColumn[], rows: Iterable<CannedCell[]>): Promise<number> {
  const w = new RowWriter(columns, { format: 'csv', out: { write: () => true, once: () => undefined } });
  for (const r of rows) w.push(r);
  return (await w.end()).rows;
}

/** The measured part, in a fresh process. */
export async function queryChild(sqlite: string, arrow: string, runs: number, probes: number): Promise<void> {
  const timeMs = async (f: () => Promise<number> | number): Promise<{ ms: number; rows: number }> => {
    const ms: number[] = [];
    let rows = 0;
    for (let k = 0; k < runs; k++) {
      const t = performance.now();
      rows = await f();
      ms.push(performance.now() - t);
    }
    return { ms: median(ms), rows };
  };
  // Subjects: the median frame and slot by touch rows; the median frame among those with faults.
  let reader = await openTrace(sqlite);
  let cache = await openDerived(reader);
  const pick = (sql: string) => {
    const keys = cache.db.prepare(sql).pluck().all() as number[];
    return keys[keys.length >> 1];
  };
  const gfn = pick(`SELECT key FROM touch WHERE space = ${SPACE.gfn} GROUP BY lpid, key ORDER BY count(*), key`);
  const slot = pick(`SELECT key FROM touch WHERE space = ${SPACE.slot} GROUP BY lpid, key ORDER BY count(*), key`);
  const faultGfn = pick('SELECT gfn FROM fault_chain WHERE gfn >= 0 GROUP BY gfn ORDER BY count(*), gfn');
  const events = cache.meta.events;
  cache.close();
  reader.close();
  // Each run opens the trace and its caches (fingerprint checks included), as one command does.
  const canned = async <T>(f: (c: Awaited<ReturnType<typeof openDerived>>, r: Awaited<ReturnType<typeof openTrace>>) => Promise<T>) => {
    reader = await openTrace(sqlite);
    cache = await openDerived(reader);
    try {
      return await f(cache, reader);
    } finally {
      cache.close();
      reader.close();
    }
  };
  const hist = (sel: Parameters<typeof historyRows>[2]) =>
    canned(async (c, r) => {
      const lookup = sqliteEventLookup((r as unknown as { db: Parameters<typeof sqliteEventLookup>[0] }).db);
      return csvRows(HISTORY_COLUMNS, historyRows(c, lookup, sel));
    });
  const hg = await timeMs(() => hist({ gfn }));
  const hh = await timeMs(() => hist({ hpte: slot }));
  const fg = await timeMs(() => canned((c) => csvRows(FAULT_COLUMNS, faultRows(c, { gfn: faultGfn }))));
  const st = async (p: string) => (await traceStats(p)).events;
  const ss = await timeMs(() => st(sqlite));
  const sa = await timeMs(() => st(arrow));
  // hpte_at probes and the join, on the SQLite trace.
  const q = await openQueryDb(sqlite);
  const tables = registerStateTables(q.db);
  const faults = q.db.prepare('SELECT seq, lpid, hpte_index FROM faults WHERE hpte_index >= 0').raw(true).all() as number[][];
  const probe = q.db.prepare('SELECT v, r FROM hpte_at(?) WHERE lpid = ? AND hpte_index = ?').raw(true).safeIntegers(true);
  const rng = new Prng(11);
  const picks = Array.from({ length: probes }, () => faults[rng.below(faults.length)]);
  for (const [s, l, i] of picks) probe.get(s, l, i); // warm
  const us: number[] = [];
  for (const [s, l, i] of picks) {
    const t = performance.now();
    probe.get(s, l, i);
    us.push((performance.now() - t) * 1000);
  }
  const join = q.db.prepare('SELECT f.seq, h.v, h.r FROM faults f, hpte_at(f.seq) h WHERE h.hpte_index = f.hpte_index AND h.lpid = f.lpid').raw(true).safeIntegers(true);
  const jn = await timeMs(() => {
    let n = 0;
    for (const _ of join.iterate()) n++;
    return n;
  });
  tables.close();
  q.close();
  const out = {
    events,
    history_gfn: gfn,
    history_gfn_rows: hg.rows,
    history_gfn_ms: round(hg.ms, 1),
    history_hpte: slot,
    history_hpte_rows: hh.rows,
    history_hpte_ms: round(hh.ms, 1),
    faults_gfn: faultGfn,
    faults_gfn_rows: fg.rows,
    faults_gfn_ms: round(fg.ms, 1),
    stats_sqlite_s: round(ss.ms / 1000, 3),
    stats_arrow_s: round(sa.ms / 1000, 3),
    hpte_at_probe_us: round(median(us), 1),
    hpte_at_probe_p90_us: round([...us].sort((x, y) => x - y)[Math.floor(us.length * 0.9)], 1),
    fault_hpte_join_rows: jn.rows,
    fault_hpte_join_s: round(jn.ms / 1000, 2),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
