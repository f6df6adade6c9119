// hvtrace record: run the emulator (or the synthetic generator) and record to SQLite and/or Arrow.
import { UserError } from '../../src/trace/errors.js';
import { Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { writeSyntheticEvents } from '../../src/trace/synthetic.js';
import { progress } from '../progress.js';
import { loadScenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { sinkFor } from './convert.js';

export interface RecordOptions {
  output?: string;
  arrow?: string;
  compress?: 'zstd';
  synthetic?: number;
  scenario?: string;
  check?: boolean;
  checkpointEvery?: number;
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
  if (opts.scenario !== undefined && opts.synthetic !== undefined) throw new UserError('choose one of --scenario and --synthetic');
  if (opts.scenario !== undefined) return recordScenario(opts, opts.scenario);
  if (opts.synthetic === undefined) throw new UserError('record needs --scenario FILE or --synthetic N');
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

async function recordScenario(opts: RecordOptions, path: string): Promise<number> {
  const scenario = loadScenario(path);
  // Validate everything before any output file is created.
  const sinks = openSinks(opts);
  const rec = new Recorder(sinks, runInfo(scenario.machine.profile, scenario.seed, { scenario: scenarioToJson(scenario), checkpointEvery: opts.checkpointEvery }));
  const bar = progress('record', scenario.ops.length, opts.quiet);
  let result;
  try {
    result = recordScenarioRun(scenario, rec, { check: opts.check === true, checkpointEvery: opts.checkpointEvery, onProgress: (d) => bar.update(d) });
  } catch (e) {
    rec.close(false);
    bar.stop();
    throw e;
  }
  bar.stop();
  const summary = {
    events: rec.eventCount,
    outputs: [opts.output, opts.arrow].filter(Boolean),
    ops: scenario.ops.length,
    expectation_failures: result.failures,
    violation: result.violation,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!opts.quiet) process.stderr.write(`recorded ${summary.events} events (${summary.ops} ops) to ${summary.outputs.join(' and ')}\n`);
  if (result.violation) {
    process.stderr.write(`hvtrace: invariant violated at seq ${result.violation.seq} (after ops[${result.violation.op}]): ${result.violation.code}: ${result.violation.message}\n`);
    return 4;
  }
  if (result.failures.length) {
    for (const f of result.failures) process.stderr.write(`hvtrace: ops[${f.op}]: expectation failed: ${f.message}\n`);
    return 5;
  }
  return 0;
}
