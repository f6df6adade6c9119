// hvtrace record: run the emulator (or the synthetic generator) and record to SQLite and/or Arrow.
import { buildIndex, defaultIndexPath } from '../../src/replay/checkpoints.js';
import { openTrace } from '../../src/trace/reader.js';
import { UserError } from '../../src/trace/errors.js';
import { Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { writeSyntheticEvents } from '../../src/trace/synthetic.js';
import { progress } from '../progress.js';
import { loadScenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { WORKLOAD_NAMES, loadWorkload, parseWorkload, type Workload } from '../../src/guest/workloads.js';
import { recordWorkloadRun } from '../../src/machine/workload-run.js';
import { removeTrace, sinkFor } from '../sinks.js';

export interface RecordOptions {
  output?: string;
  arrow?: string;
  compress?: 'zstd';
  synthetic?: number;
  scenario?: string;
  workload?: string;
  profile?: 'power7' | 'ppc970';
  kernel?: '3.3' | '3.4' | '4.20';
  vcpus?: number;
  guestMb?: number;
  hostMb?: number;
  pressure?: number;
  accesses?: number;
  check?: boolean;
  checkpointEvery?: number;
  seed?: number;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
  /** false with --no-index: do not write the checkpoint index after recording. */
  index?: boolean;
}

/**
 * A run that fails on bad input (a UserError, e.g. a machine the model cannot build) leaves no
 * half-written trace behind: the outputs were created by this run (existing files are refused
 * without --force), so they are removed. Other failures keep the partial trace for a post-mortem.
 */
export function abandon(rec: Recorder, opts: RecordOptions, e: unknown): never {
  rec.close(false);
  if (e instanceof UserError) {
    for (const p of [opts.output, opts.arrow]) {
      if (!p) continue;
      removeTrace(p);
    }
  }
  throw e;
}

/**
 * Write the replay checkpoints (state snapshots for fast seek, see src/replay/checkpoints.ts)
 * beside each finished trace, so `state`/`replay` start fast; skipped with --no-index.
 */
async function writeCheckpoints(opts: RecordOptions): Promise<void> {
  if (opts.index === false) return;
  for (const p of [opts.output, opts.arrow]) {
    if (!p) continue;
    const reader = await openTrace(p);
    try {
      await buildIndex(reader, defaultIndexPath(p));
    } finally {
      reader.close();
    }
  }
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
  const sources = [opts.scenario, opts.synthetic, opts.workload].filter((x) => x !== undefined).length;
  if (sources > 1) throw new UserError('choose one of --scenario, --workload and --synthetic');
  if (opts.scenario !== undefined) return recordScenario(opts, opts.scenario);
  if (opts.workload !== undefined) return recordWorkload(opts, opts.workload);
  if (opts.synthetic === undefined) throw new UserError('record needs --workload NAME|FILE, --scenario FILE or --synthetic N');
  const seed = opts.seed ?? 1;
  const sinks = openSinks(opts);
  const rec = new Recorder(sinks, runInfo('synthetic', seed, { synthetic: opts.synthetic, seed }));
  const bar = progress('record', opts.synthetic, opts.quiet);
  rec.onFlush = (n) => bar.update(n);
  writeSyntheticEvents(rec, opts.synthetic, seed);
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
    bar.stop();
    abandon(rec, opts, e);
  }
  bar.stop();
  await writeCheckpoints(opts);
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

/** A named workload (or a workload JSON file) with CLI overrides, validated by the schema. */
export function resolveWorkload(spec: string, opts: Pick<RecordOptions, 'seed' | 'vcpus' | 'guestMb' | 'hostMb' | 'pressure' | 'accesses'>): Workload {
  const base: Record<string, unknown> = /\.json$/i.test(spec)
    ? { ...loadWorkload(spec) }
    : (WORKLOAD_NAMES as readonly string[]).includes(spec)
      ? { name: spec }
      : (() => {
          throw new UserError(`unknown workload '${spec}' (choose ${WORKLOAD_NAMES.join(', ')}, or give a .json file)`);
        })();
  const over: Record<string, unknown> = { seed: opts.seed, vcpus: opts.vcpus, guest_mb: opts.guestMb, host_mb: opts.hostMb, pressure: opts.pressure, accesses: opts.accesses };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) base[k] = v;
  return parseWorkload(base, spec);
}

async function recordWorkload(opts: RecordOptions, spec: string): Promise<number> {
  const wl = resolveWorkload(spec, opts);
  const profile = opts.profile ?? 'power7';
  const sinks = openSinks(opts);
  const rec = new Recorder(sinks, runInfo(profile, wl.seed, { workload: wl, kernel: opts.kernel ?? '3.4', checkpointEvery: opts.checkpointEvery }));
  const bar = progress(`record ${wl.name} on ${profile}`, wl.accesses, opts.quiet);
  let r;
  try {
    r = recordWorkloadRun(wl, profile, rec, { check: opts.check, checkpointEvery: opts.checkpointEvery, kernel: opts.kernel, onProgress: (n) => bar.update(n) });
  } catch (e) {
    bar.stop();
    abandon(rec, opts, e);
  }
  bar.stop();
  await writeCheckpoints(opts);
  const summary = { events: rec.eventCount, outputs: [opts.output, opts.arrow].filter(Boolean), workload: wl.name, profile, ...r.driver, violation: r.violation };
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!opts.quiet) process.stderr.write(`recorded ${summary.events} events (${r.driver.accesses} guest accesses, ${wl.name} on ${profile}) to ${summary.outputs.join(' and ')}\n`);
  if (r.violation) {
    process.stderr.write(`hvtrace: invariant violated at seq ${r.violation.seq}: ${r.violation.code}: ${r.violation.message}\n`);
    return 4;
  }
  return 0;
}
