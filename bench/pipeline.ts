// `npm run bench -- pipeline [--events N] [--runs R] [--against DIR] [--workload-accesses A] [--json]`
// Recording end to end: synthetic event generation + recorder + sinks (none, Arrow, SQLite without
// indexes, or both), in ns/event, medians of R runs (default 5; 2,000,000 events). What the sinks bench
// cannot show: whether work saved in a sink was only moved into the recorder.
//
// --against DIR compares with another built checkout (DIR/dist, e.g. an earlier commit:
// `git worktree add /tmp/old REV && (cd /tmp/old && npm ci)`), loaded into the same process and run
// interleaved with this tree, so both see the same machine state; prints both and the ratios.
// --workload-accesses A adds a real recording: the power7 'mix' workload (demo configuration, seed 1)
// with A guest accesses recorded to Arrow, in seconds.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, parseBenchArgs, printFigures } from './util.js';

interface Tree {
  Recorder: new (sinks: unknown[], info: unknown) => { close(complete: boolean): void };
  parseWorkload: (json: unknown) => unknown;
  recordWorkloadRun: (wl: unknown, profile: string, rec: unknown) => unknown;
  runInfo: (profile: string, seed: number, config: unknown) => unknown;
  writeSyntheticEvents: (rec: unknown, n: number) => void;
  ArrowStreamSink: new (path: string) => unknown;
  SqliteSink: new (path: string, opts: { indexes: boolean }) => unknown;
}

/** The modules a tree's `src` directory (compiled) offers the bench. */
async function loadTree(srcDir: string): Promise<Tree> {
  const m = async (f: string) => import(pathToFileURL(join(srcDir, 'trace', f)).href);
  const top = async (f: string) => import(pathToFileURL(join(srcDir, f)).href);
  return {
    parseWorkload: (await top('guest/workloads.js')).parseWorkload,
    recordWorkloadRun: (await top('machine/workload-run.js')).recordWorkloadRun,
    Recorder: (await m('recorder.js')).Recorder,
    runInfo: (await m('run-info.js')).runInfo,
    writeSyntheticEvents: (await m('synthetic.js')).writeSyntheticEvents,
    ArrowStreamSink: (await m('arrow-sink.js')).ArrowStreamSink,
    SqliteSink: (await m('sqlite-sink.js')).SqliteSink,
  };
}

const SINKS = ['none', 'arrow', 'sqlite', 'both'] as const;

function runOnce(t: Tree, sink: (typeof SINKS)[number], n: number, dir: string): number {
  const sq = join(dir, 'p.sqlite');
  const ar = join(dir, 'p.arrow');
  for (const f of [sq, `${sq}-wal`, `${sq}-shm`, ar]) rmSync(f, { force: true });
  const sinks: unknown[] = [];
  if (sink === 'none') sinks.push({ open() {}, writeBatch() {}, close() {} });
  if (sink === 'sqlite' || sink === 'both') sinks.push(new t.SqliteSink(sq, { indexes: false }));
  if (sink === 'arrow' || sink === 'both') sinks.push(new t.ArrowStreamSink(ar));
  const t0 = performance.now();
  const rec = new t.Recorder(sinks, t.runInfo('synthetic', 1, { bench: 'pipeline' }));
  t.writeSyntheticEvents(rec, n);
  rec.close(true);
  return ((performance.now() - t0) * 1e6) / n;
}

/** Seconds to record the power7 'mix' workload (A accesses) to an Arrow stream. */
function workloadOnce(t: Tree, accesses: number, dir: string): number {
  const path = join(dir, 'w.arrow');
  rmSync(path, { force: true });
  const wl = t.parseWorkload({ name: 'mix', seed: 1, accesses, guest_mb: 96, host_mb: 128, pressure: 0.85 });
  const t0 = performance.now();
  const rec = new t.Recorder([new t.ArrowStreamSink(path)], t.runInfo('power7', 1, { workload: wl }));
  t.recordWorkloadRun(wl, 'power7', rec);
  return (performance.now() - t0) / 1000;
}

export async function benchPipeline(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 2_000_000, runs: 5 });
  const trees: [string, Tree][] = [['this', await loadTree(join(import.meta.dirname, '../src'))]];
  if (typeof args.against === 'string') trees.push(['against', await loadTree(resolve(args.against, 'dist/src'))]);
  const accesses = typeof args['workload-accesses'] === 'number' ? args['workload-accesses'] : 0;
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-pipe-'));
  const runs: Record<string, number[]> = {};
  try {
    for (let r = 0; r < args.runs; r++) {
      // Alternate which tree goes first, so neither always runs on the other's leftover heap and caches.
      const order = r % 2 === 0 ? trees : [...trees].reverse();
      for (const sink of SINKS) for (const [name, t] of order) (runs[`${name}_${sink}_ns_per_event`] ??= []).push(runOnce(t, sink, args.events, dir));
      if (accesses > 0) for (const [name, t] of order) (runs[`${name}_workload_arrow_s`] ??= []).push(workloadOnce(t, accesses, dir));
      if (!args.json) process.stderr.write(`run ${r + 1}/${args.runs} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig: Record<string, number> = { events: args.events };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  if (trees.length > 1) {
    for (const sink of SINKS) {
      const a = runs[`this_${sink}_ns_per_event`];
      const b = runs[`against_${sink}_ns_per_event`];
      fig[`${sink}_this_vs_against`] = median(a.map((v, i) => v / b[i]));
    }
    if (accesses > 0) {
      const a = runs.this_workload_arrow_s;
      fig.workload_arrow_this_vs_against = median(a.map((v, i) => v / runs.against_workload_arrow_s[i]));
    }
  }
  printFigures('pipeline', fig, args, runs);
}
