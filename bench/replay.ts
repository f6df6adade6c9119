// `npm run bench -- replay [--events N] [--interval I] [--full-every F] [--seeks S] [--json]`
// Records a real workload trace (recordWorkloadRun: guest OS, 'mix' workload, host pressure) of at
// least N events (default 10,000,000) to Arrow once, then in a fresh child process (peak RSS):
//   - builds the checkpoint index (one full fold + snapshots; fold time measured alone),
//   - full fold events/s: fold time only (reading excluded) and end to end (read + fold),
//   - S random seeks (default 100, seeded) through the index: median and p90 ms,
//   - index size as % of the trace, peak RSS.
// The trace is cached in $TMPDIR/hvtrace-bench-replay/ (keyed by N) so reruns skip the recording.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWorkload } from '../src/guest/workloads.js';
import { Prng } from '../src/base/prng.js';
import { recordWorkloadRun } from '../src/machine/workload-run.js';
import { Seeker } from '../src/replay/seek.js';
import { StateFold } from '../src/replay/state.js';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { openTrace } from '../src/trace/reader.js';
import { Recorder } from '../src/trace/recorder.js';
import { runInfo } from '../src/trace/run-info.js';
import { median, parseBenchArgs, printFigures } from './util.js';

/** Accesses of the 'mix' workload giving ≈ N events (≈ 13 events per access measured on a 5M-event run of this configuration). */
const EVENTS_PER_ACCESS = 12;

function workloadFor(events: number) {
  return parseWorkload({ name: 'mix', seed: 7, accesses: Math.ceil(events / EVENTS_PER_ACCESS), guest_mb: 512, host_mb: 640, pressure: 0.5, hpt_order: 22, vcpus: 4 });
}

export function ensureTrace(events: number, log: (s: string) => void): string {
  const dir = join(tmpdir(), 'hvtrace-bench-replay');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `w${events}.arrow`);
  if (existsSync(path)) return path;
  log(`recording a workload trace of ≥ ${events} events (once; cached at ${path})...\n`);
  const wl = workloadFor(events);
  const tmp = `${path}.tmp`;
  const rec = new Recorder([new ArrowStreamSink(tmp)], runInfo('power7', wl.seed, { workload: wl }));
  recordWorkloadRun(wl, 'power7', rec, {});
  renameSync(tmp, path);
  return path;
}

/** Child: build the index, fold, seek; print figures as JSON. */
export async function replayChild(path: string, interval: number, fullEvery: number, seeks: number): Promise<void> {
  const idx = `${path}.bench-${interval}-${fullEvery}.hvidx`;
  rmSync(idx, { force: true });
  // Full fold, reading included and fold time alone.
  const r = await openTrace(path);
  const fold = new StateFold();
  let foldMs = 0;
  const t0 = performance.now();
  for await (const b of r.batches()) {
    const t = performance.now();
    fold.foldBatch(b);
    foldMs += performance.now() - t;
  }
  const totalMs = performance.now() - t0;
  const events = fold.lastSeq + 1;
  r.close();
  // Index build (fold + snapshots), then seeks from a fresh open (index loaded from disk).
  const tb = performance.now();
  const iv = interval || undefined;
  const fe = fullEvery || undefined;
  (await Seeker.open(path, { indexPath: idx, interval: iv, fullEvery: fe })).close();
  const buildMs = performance.now() - tb;
  const s = await Seeker.open(path, { indexPath: idx, interval: iv, fullEvery: fe });
  const rng = new Prng(12345);
  const times: number[] = [];
  for (let k = 0; k < seeks; k++) {
    const seq = rng.below(events);
    const t = performance.now();
    const f = await s.seek({ seq });
    times.push(performance.now() - t);
    if (f.lastSeq !== seq) throw new Error(`seek ${seq} landed at ${f.lastSeq}`);
  }
  const indexBytes = statSync(idx).size;
  const checkpoints = s.checkpointIndex.header.checkpoints.length;
  const usedInterval = s.checkpointIndex.header.interval;
  s.close();
  rmSync(idx, { force: true });
  times.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      events,
      fold_events_per_s: events / (foldMs / 1000),
      read_fold_events_per_s: events / (totalMs / 1000),
      index_build_s: buildMs / 1000,
      seek_median_ms: median(times),
      seek_p90_ms: times[Math.floor(times.length * 0.9)],
      seek_max_ms: times[times.length - 1],
      checkpoints,
      interval: usedInterval,
      index_mb: indexBytes / 2 ** 20,
      index_pct_of_trace: (100 * indexBytes) / statSync(path).size,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
}

export async function benchReplay(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 10_000_000, runs: 1 });
  const interval = (args.interval as number | undefined) ?? 0;
  const fullEvery = (args['full-every'] as number | undefined) ?? 0;
  const seeks = (args.seeks as number | undefined) ?? 100;
  const log = (s: string) => void (!args.json && process.stderr.write(s));
  const path = ensureTrace(args.events, log);
  const self = fileURLToPath(new URL('./run.js', import.meta.url));
  const runs: Record<string, number[]> = {};
  let fig: Record<string, number> = {};
  for (let i = 0; i < args.runs; i++) {
    const c = spawnSync(process.execPath, [self, 'replay-child', path, String(interval), String(fullEvery), String(seeks)], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (c.status !== 0) throw new Error(`replay child failed: ${c.stderr}`);
    const r = JSON.parse(c.stdout) as Record<string, number>;
    for (const [k, v] of Object.entries(r)) (runs[k] ??= []).push(v);
    log(`run ${i + 1}/${args.runs} done\n`);
  }
  fig = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)]));
  fig.trace_mb = statSync(path).size / 2 ** 20;
  printFigures('replay', fig, args, runs);
}
