// `npm run bench -- pipeline [--events N] [--runs R] [--against DIR] [--json]`
// Recording end to end: synthetic event generation + recorder + sinks (none, Arrow, SQLite without
// indexes, or both), in ns/event, medians of R runs (default 5; 2,000,000 events). What the sinks bench
// cannot show: whether work saved in a sink was only moved into the recorder.
//
// --against DIR compares with another built checkout (DIR/dist, e.g. an earlier commit:
// `git worktree add /tmp/old REV && (cd /tmp/old && npm ci)`), loaded into the same process and run
// interleaved with this tree, so both see the same machine state; prints both and the ratios.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, parseBenchArgs, printFigures } from './util.js';

interface Tree {
  Recorder: new (sinks: unknown[], info: unknown) => { close(complete: boolean): void };
  runInfo: (profile: string, seed: number, config: unknown) => unknown;
  writeSyntheticEvents: (rec: unknown, n: number) => void;
  ArrowStreamSink: new (path: string) => unknown;
  SqliteSink: new (path: string, opts: { indexes: boolean }) => unknown;
}

async function loadTree(traceDir: string): Promise<Tree> {
  const m = async (f: string) => import(pathToFileURL(join(traceDir, f)).href);
  return {
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

export async function benchPipeline(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 2_000_000, runs: 5 });
  const trees: [string, Tree][] = [['this', await loadTree(join(import.meta.dirname, '../src/trace'))]];
  if (typeof args.against === 'string') trees.push(['against', await loadTree(resolve(args.against, 'dist/src/trace'))]);
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-pipe-'));
  const runs: Record<string, number[]> = {};
  try {
    for (let r = 0; r < args.runs; r++) {
      for (const sink of SINKS) for (const [name, t] of trees) (runs[`${name}_${sink}_ns_per_event`] ??= []).push(runOnce(t, sink, args.events, dir));
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
  }
  printFigures('pipeline', fig, args, runs);
}
