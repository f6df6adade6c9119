// `npm run bench -- workloads [--accesses N] [--runs R] [--json]`
// A seeded 'mix' workload under host memory pressure (default 1,000,000 guest accesses, guest
// 96 MiB, host 128 MiB, pressure 0.85: the demo's configuration) on power7 and ppc970, each run
// unrecorded and recorded to an Arrow stream side by side: guest accesses/s, events/s, and the
// recording cost (recorded time / unrecorded time).

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkload } from '../src/guest/workloads.js';
import { type Profile, recordWorkloadRun } from '../src/machine/workload-run.js';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { Recorder } from '../src/trace/recorder.js';
import { runInfo } from '../src/trace/run-info.js';
import { median, parseBenchArgs, printFigures } from './util.js';

export async function benchWorkloads(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const accesses = (args.accesses as number | undefined) ?? 1_000_000;
  const wl = parseWorkload({ name: 'mix', seed: 1, accesses, guest_mb: 96, host_mb: 128, pressure: 0.85 });
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-wl-'));
  const runs: Record<string, number[]> = {};
  const add = (k: string, v: number) => (runs[k] ??= []).push(v);
  try {
    for (let r = 0; r < args.runs; r++) {
      for (const profile of ['power7', 'ppc970'] as Profile[]) {
        let t0 = performance.now();
        const plain = recordWorkloadRun(wl, profile, Recorder.disabled());
        const tPlain = (performance.now() - t0) / 1000;
        const p = join(dir, `${profile}.arrow`);
        const rec = new Recorder([new ArrowStreamSink(p)], runInfo(profile, wl.seed, { workload: wl }));
        t0 = performance.now();
        recordWorkloadRun(wl, profile, rec);
        const tRec = (performance.now() - t0) / 1000;
        add(`${profile}_accesses_per_s`, plain.driver.accesses / tPlain);
        add(`${profile}_recorded_accesses_per_s`, plain.driver.accesses / tRec);
        add(`${profile}_events_per_s`, rec.eventCount / tRec);
        add(`${profile}_events`, rec.eventCount);
        add(`${profile}_recording_cost`, tRec / tPlain);
        add(`${profile}_bytes_per_event`, statSync(p).size / rec.eventCount);
        add(`${profile}_guest_swapouts`, plain.reclaim.swapoutsGuest);
        rmSync(p);
      }
      if (!args.json) process.stderr.write(`run ${r + 1}/${args.runs} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig: Record<string, number> = { accesses };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  printFigures('workloads', fig, args, runs);
}
