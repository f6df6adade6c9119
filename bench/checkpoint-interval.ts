// `npm run bench -- checkpoint-interval [--accesses N] [--runs R] [--json]`
// Recording time of a `mix` workload (order-22 HPT) into a null sink with digest checkpoint events
// every K events (none, 4,096, 16,384, 65,536): each checkpoint digests the whole VM state, so K
// trades recording time against how narrowly `replay --verify` localises a divergence.

import { parseWorkload } from '../src/guest/workloads.js';
import { recordWorkloadRun } from '../src/machine/workload-run.js';
import { Recorder, type EventSink } from '../src/trace/recorder.js';
import { runInfo } from '../src/trace/run-info.js';
import { median, parseBenchArgs, printFigures } from './util.js';

export async function benchCheckpointInterval(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const accesses = (args.accesses as number | undefined) ?? 200_000;
  const wl = parseWorkload({ name: 'mix', seed: 1, accesses, guest_mb: 96, host_mb: 128, pressure: 0.85, hpt_order: 22 });
  const nul: EventSink = { open() {}, writeBatch() {}, close() {} };
  const runs: Record<string, number[]> = {};
  let events = 0;
  for (let r = 0; r < args.runs; r++) {
    for (const k of [0, 4096, 16384, 65536]) {
      const rec = new Recorder([nul], runInfo('power7', wl.seed, {}));
      const t0 = performance.now();
      recordWorkloadRun(wl, 'power7', rec, { checkpointEvery: k === 0 ? Number.MAX_SAFE_INTEGER : k });
      (runs[`seconds_interval_${k === 0 ? 'none' : k}`] ??= []).push((performance.now() - t0) / 1000);
      events = rec.eventCount;
    }
  }
  const fig: Record<string, number> = { accesses, events };
  for (const [key, v] of Object.entries(runs)) fig[key] = median(v);
  printFigures('checkpoint-interval', fig, args, runs);
}
