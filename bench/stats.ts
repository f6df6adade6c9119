// `hvtrace stats` on a big trace, SQLite and Arrow side by side, cold (no checkpoint index: one fold
// of the whole trace) and with the index (last checkpoint + the tail), wall clock of the CLI as a
// user runs it (`node bin/hvtrace.js stats TRACE -q --json > /dev/null`), plus the fold rate of the
// replay with the perf handler on (fold time only, Arrow reading excluded) and without it.
//
//   npm run build && node dist/bench/stats.js --sqlite /tmp/big.sqlite --arrow /tmp/big.arrow [--runs 3] [--json]
//
// The two files must be the same recording (`record -o X.sqlite --arrow X.arrow`). The bench
// DELETES each trace's index (<trace>.hvidx) for the cold runs and then builds it with
// `hvtrace state TRACE --at end` (timed as index_build_s): point it at traces in /tmp.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { defaultIndexPath } from '../src/replay/checkpoints.js';
import { StateFold } from '../src/replay/state.js';
import { openTrace } from '../src/trace/reader.js';
import { median, parseBenchArgs, printFigures } from './util.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');

function timed(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`hvtrace ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return s;
}

/** Fold rate (fold time only) of a default replay and of one with the perf handler, on the same batches, alternating which goes first. */
async function foldRates(path: string): Promise<[number, number]> {
  const r = await openTrace(path);
  const folds = [new StateFold(), new StateFold({ perf: true })];
  const ms = [0, 0];
  let k = 0;
  for await (const b of r.batches()) {
    for (const j of k++ & 1 ? [1, 0] : [0, 1]) {
      const t = performance.now();
      folds[j].foldBatch(b);
      ms[j] += performance.now() - t;
    }
  }
  r.close();
  const n = folds[0].lastSeq + 1;
  return [n / (ms[0] / 1000), n / (ms[1] / 1000)];
}

export async function benchStats(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const traces = { sqlite: String(args.sqlite ?? ''), arrow: String(args.arrow ?? '') };
  for (const p of Object.values(traces)) if (!p || !existsSync(p)) throw new Error('usage: stats --sqlite TRACE.sqlite --arrow TRACE.arrow [--runs R] [--json]');
  const r = await openTrace(traces.arrow);
  let events = 0;
  for await (const b of r.batches()) events = b.firstSeq + b.length;
  r.close();
  const runs: Record<string, number[]> = {};
  const put = (k: string, v: number) => (runs[k] ??= []).push(v);
  for (let i = 0; i < args.runs; i++) {
    for (const [fmt, path] of Object.entries(traces)) {
      const idx = defaultIndexPath(path);
      if (existsSync(idx)) unlinkSync(idx);
      put(`stats_${fmt}_cold_s`, timed(['stats', path, '-q', '--json']));
      put(`index_build_${fmt}_s`, timed(['state', path, '--at', 'end', '--json']));
      put(`stats_${fmt}_index_s`, timed(['stats', path, '-q', '--json']));
    }
    const [plain, perf] = await foldRates(traces.arrow);
    put('fold_events_per_s', plain);
    put('fold_perf_events_per_s', perf);
  }
  const fig: Record<string, number> = { events, sqlite_mb: statSync(traces.sqlite).size / 2 ** 20, arrow_mb: statSync(traces.arrow).size / 2 ** 20 };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  printFigures('stats', fig, args, runs);
}

if (process.argv[1]?.endsWith('stats.js')) await benchStats(process.argv.slice(2));
