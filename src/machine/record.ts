// Recording a scenario: build the machine, wire the hardware model, run every op, and (with check)
// verify the KVM invariants after each op. The Recorder is owned by the caller (it closes it).

import type { Scenario } from '../guest/scenario.js';
import { ScenarioRunner, type ExpectationFailure } from '../guest/interpreter.js';
import { HvAudit, KvmInvariantChecker } from '../kvm/invariants.js';
import { K } from '../trace/kinds.js';
import { checkMachineInvariants } from './invariants.js';
import { Checkpointer, DEFAULT_CHECKPOINT_INTERVAL } from './checkpoint.js';
import type { Recorder } from '../trace/recorder.js';

export interface RunViolation {
  seq: number;
  op: number;
  code: string;
  message: string;
}

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
  let violation: RunViolation | null = null;
  if (opts.check) {
    const kvm = runner.machine.kvm;
    const audit = new HvAudit().attach(kvm);
    runner.machine.rewrapObserver();
    const checker = new KvmInvariantChecker(kvm);
    runner.afterOp = (i) => {
      if (violation) return;
      const v = audit.violation ?? checker.check() ?? checkMachineInvariants(runner.machine);
      if (!v) return;
      violation = { seq: rec.eventCount - 1, op: i, code: v.code, message: v.message };
      // The anomaly event marks the trace itself: code = §J item number, severity 2 (error).
      rec.ev(K.anomaly, kvm.lpid, -1, -1, violation.seq);
      rec.u(Number(/^J(\d+)/.exec(v.code)?.[1] ?? 0));
      rec.u(2);
    };
  }
  const ckpt = new Checkpointer(rec, runner.machine.kvm, opts.checkpointEvery ?? DEFAULT_CHECKPOINT_INTERVAL);
  const ops = scenario.ops;
  for (let i = 0; i < ops.length; i++) {
    runner.exec(ops[i], i);
    runner.afterOp?.(i);
    opts.afterOp?.(runner, i);
    ckpt.maybe();
    opts.onProgress?.(i + 1, ops.length);
    if (violation) break;
  }
  if (rec.enabled) ckpt.write();
  // The recording is complete either way: it holds everything that ran, up to the violation.
  rec.close(true);
  return { runner, failures: runner.failures, violation };
}
