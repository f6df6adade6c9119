// Canned-query benchmark: `npm run bench -- canned --trace T [--runs R] [--rebuild 1] [--json]`.
// Builds (or reuses) the derived tables of T (<T>.hvd), then times, in this process, what one CLI
// call does after start-up: open the trace and the cache (fingerprint check included), run the
// query, and render every row as CSV (into a string, not a terminal). Subjects: the busiest and a
// median guest frame and HPTE slot (by rows in the touch table), and the busiest frame's faults.
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { faultRows, FAULT_COLUMNS, historyRows, HISTORY_COLUMNS, type CannedColumn, type CannedCell } from '../src/analysis/canned.js';
import { openDerived } from '../src/analysis/derived-cache.js';
import { SPACE } from '../src/analysis/derived.js';
import { eventLookup } from '../src/analysis/event-lookup.js';
import { openTrace } from '../src/trace/reader.js';
import { RowWriter } from '../cli/format.js';
import { median, parseBenchArgs } from './util.js';

async function render(columns: readonly CannedColumn[], rows: Iterable<CannedCell[]>): Promise<number> {
  let bytes = 0;
  const w = new RowWriter(columns, { format: 'csv', out: { write: (s: string) => ((bytes += s.length), true), once: () => {} } as never });
  for (const r of rows) w.push(r);
  const { rows: n } = await w.end();
  return n + bytes * 0;
}

export async function benchCanned(argv: string[]): Promise<void> {
  const a = parseBenchArgs(argv, { events: 0, runs: 5 });
  const trace = String(a.trace ?? '');
  if (!trace) throw new Error('bench canned needs --trace T (record one: hvtrace record -w mix --accesses 1000000 -o T -q)');
  const reader = await openTrace(trace);
  const t0 = performance.now();
  const cache = await openDerived(reader, { rebuild: a.rebuild === 1 });
  const build = (performance.now() - t0) / 1000;
  const db = cache.db;
  const pick = (space: number) => {
    const counts = db.prepare('SELECT lpid, key, count(*) AS n FROM touch WHERE space = ? GROUP BY lpid, key ORDER BY n DESC, key').raw(true).all(space) as number[][];
    return { busiest: counts[0], median: counts[counts.length >> 1] };
  };
  const gfns = pick(SPACE.gfn);
  const slots = pick(SPACE.slot);
  cache.close();
  reader.close();
  const time = async (q: (r: Awaited<ReturnType<typeof openTrace>>, c: Awaited<ReturnType<typeof openDerived>>) => Promise<number>) => {
    const ms: number[] = [];
    let rows = 0;
    for (let k = 0; k < a.runs; k++) {
      const s = performance.now();
      const r = await openTrace(trace);
      const c = await openDerived(r);
      rows = await q(r, c);
      c.close();
      r.close();
      ms.push(performance.now() - s);
    }
    return { ms: Math.round(median(ms) * 10) / 10, rows };
  };
  const hist = (sel: Parameters<typeof historyRows>[2]) => time(async (r, c) => {
    const l = eventLookup(r);
    const n = await render(HISTORY_COLUMNS, historyRows(c, l, sel));
    l.close();
    return n;
  });
  const out = {
    trace,
    events: cache.meta.events,
    trace_mb: Math.round(statSync(trace).size / 2 ** 20),
    hvd_mb: Math.round(statSync(cache.path).size / 2 ** 20),
    touch_rows: cache.meta.touchRows,
    rows_per_event: Math.round((cache.meta.touchRows / cache.meta.events) * 100) / 100,
    faults: cache.meta.faults,
    open_or_build_s: Math.round(build * 10) / 10,
    built: cache.built,
    history_gfn_busiest: { gfn: gfns.busiest[1], ...(await hist({ gfn: gfns.busiest[1] })) },
    history_gfn_median: { gfn: gfns.median[1], ...(await hist({ gfn: gfns.median[1] })) },
    history_hpte_busiest: { hpte: slots.busiest[1], ...(await hist({ hpte: slots.busiest[1] })) },
    history_hpte_median: { hpte: slots.median[1], ...(await hist({ hpte: slots.median[1] })) },
    faults_gfn_busiest: { gfn: gfns.busiest[1], ...(await time(async (_r, c) => render(FAULT_COLUMNS, faultRows(c, { gfn: gfns.busiest[1] })))) },
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else for (const [k, v] of Object.entries(out)) process.stdout.write(`${k.padEnd(22)} ${typeof v === 'object' ? JSON.stringify(v) : v}\n`);
}
