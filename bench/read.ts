// `npm run bench -- read [--events N] [--runs R] [--json]`
// Records N (default 10,000,000) synthetic events to SQLite and Arrow once, then reads each trace
// back R times in a fresh child process that reports events/s and its peak RSS (bounded memory).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { openTrace } from '../src/trace/reader.js';
import { Recorder } from '../src/trace/recorder.js';
import { runInfo } from '../src/trace/run-info.js';
import { SqliteSink } from '../src/trace/sqlite-sink.js';
import { writeSyntheticEvents } from '../src/trace/synthetic.js';
import { median, parseBenchArgs, printFigures } from './util.js';

/** Child mode: read one trace, print {events, seconds, max_rss_mb}. */
export async function readChild(path: string): Promise<void> {
  const t0 = performance.now();
  const r = await openTrace(path);
  let n = 0;
  let x = 0;
  for await (const b of r.batches()) {
    n += b.length;
    x ^= b.kind[b.length - 1];
  }
  r.close();
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ events: n, seconds, max_rss_mb: process.resourceUsage().maxRSS / 1024, x })}\n`);
}

export async function benchRead(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 10_000_000, runs: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-read-'));
  const sq = join(dir, 'r.sqlite');
  const ar = join(dir, 'r.arrow');
  const runs: Record<string, number[]> = {};
  const add = (k: string, v: number) => (runs[k] ??= []).push(v);
  try {
    if (!args.json) process.stderr.write(`recording ${args.events} events...\n`);
    const rec = new Recorder([new SqliteSink(sq, { indexes: false }), new ArrowStreamSink(ar)], runInfo('synthetic', 1, { bench: 'read' }));
    writeSyntheticEvents(rec, args.events);
    rec.close(true);
    const self = fileURLToPath(new URL('./run.js', import.meta.url));
    for (let i = 0; i < args.runs; i++) {
      for (const [name, p] of [['arrow', ar], ['sqlite', sq]] as const) {
        const c = spawnSync(process.execPath, [self, 'read-child', p], { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (c.status !== 0) throw new Error(`read child failed: ${c.stderr}`);
        const r = JSON.parse(c.stdout) as { events: number; seconds: number; max_rss_mb: number };
        add(`${name}_read_events_per_s`, r.events / r.seconds);
        add(`${name}_read_peak_rss_mb`, r.max_rss_mb);
      }
      if (!args.json) process.stderr.write(`run ${i + 1}/${args.runs} done\n`);
    }
    const fig: Record<string, number> = { events: rec.eventCount, arrow_mb: statSync(ar).size / 2 ** 20, sqlite_mb: statSync(sq).size / 2 ** 20 };
    for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
    printFigures('read', fig, args, runs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
