// Recording a scenario: build the machine, wire the hardware model, run every op, and (with check)
// verify the KVM invariants after each op. The Recorder is owned by the caller (it closes it).

import type { Scenario } from '../guest/scenario.js';
import { ScenarioRunner, type ExpectationFailure } from './scenario-runner.js';
import { RunChecker, type RunViolation } from './invariants.js';
import { Checkpointer, DEFAULT_CHECKPOINT_INTERVAL } from './checkpoint.js';
import type { Recorder } from '../trace/recorder.js';

export type { RunViolation };

export interface ScenarioResult {
  runner: ScenarioRunner;
  failures: ExpectationFailure[];
  violation: RunViolation | null;
}

export function recordScenarioRun(
  scenario: Scenario,
  rec: Recorder,
  opts: {
    check?: boolean;
    checkpointEvery?: number;
    onProgress?: (done: number, total: number) => void;
    /** Called after every op at the quiescent point (tests snapshot the emulator state here). */
    afterOp?: (runner: ScenarioRunner, op: number) => void;
  } = {},
): ScenarioResult {
  const runner = new ScenarioRunner(scenario, rec);
  const checks = opts.check ? new RunChecker(runner.machine, rec) : null;
  if (checks) runner.afterOp = (i) => void checks.afterOp(i);
  const ckpt = new Checkpointer(rec, runner.machine.kvm, opts.checkpointEvery ?? DEFAULT_CHECKPOINT_INTERVAL);
  const ops = scenario.ops;
  for (let i = 0; i < ops.length; i++) {
    runner.exec(ops[i], i);
    runner.afterOp?.(i);
    opts.afterOp?.(runner, i);
    ckpt.maybe();
    opts.onProgress?.(i + 1, ops.length);
    if (checks?.violation) break;
  }
  if (rec.enabled) ckpt.write();
  // The recording is complete either way: it holds everything that ran, up to the violation.
  rec.close(true);
  return { runner, failures: runner.failures, violation: checks?.violation ?? null };
}
