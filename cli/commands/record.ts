// hvtrace record: run the emulator (or the synthetic generator) and record to SQLite and/or Arrow.
import { UserError } from '../../src/trace/errors.js';
import { Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { writeSyntheticEvents } from '../../src/trace/synthetic.js';
import { progress } from '../progress.js';
import { sinkFor } from './convert.js';

export interface RecordOptions {
  output?: string;
  arrow?: string;
  compress?: 'zstd';
  synthetic?: number;
  seed: number;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function openSinks(opts: RecordOptions): EventSink[] {
  if (!opts.output && !opts.arrow) throw new UserError('nothing to record to: give -o FILE.sqlite and/or --arrow FILE.arrow');
  const sinks: EventSink[] = [];
  if (opts.output) sinks.push(sinkFor(opts.output, opts));
  if (opts.arrow) {
    if (!/\.(arrow|arrows|ipc)$/i.test(opts.arrow)) throw new UserError(`--arrow ${opts.arrow}: expected a .arrow file name`);
    sinks.push(sinkFor(opts.arrow, opts));
  }
  return sinks;
}

export async function recordCommand(opts: RecordOptions): Promise<number> {
  if (opts.synthetic === undefined) throw new UserError('record needs --synthetic N (scenario and workload recording arrive with the emulator)');
  const sinks = openSinks(opts);
  const rec = new Recorder(sinks, runInfo('synthetic', opts.seed, { synthetic: opts.synthetic, seed: opts.seed }));
  const bar = progress('record', opts.synthetic, opts.quiet);
  rec.onFlush = (n) => bar.update(n);
  writeSyntheticEvents(rec, opts.synthetic, opts.seed);
  rec.close(true);
  bar.stop();
  const summary = { events: rec.eventCount, outputs: [opts.output, opts.arrow].filter(Boolean) };
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!opts.quiet) process.stderr.write(`recorded ${summary.events} events to ${summary.outputs.join(' and ')}\n`);
  return 0;
}
