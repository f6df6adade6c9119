// tlbie reaches the hardware TLBs through the TlbPort KVM is given at VM creation, not through the
// checker's observer chain (issue 9, deliverable 5): a workload run without any checker attached
// sees no stale TLB entry after H_(BULK_)REMOVE and MMU-notifier invalidations (every HPTE change that
// the TLB model can see without a tlbie would be counted in stale_tlb, src/hw/tlb.ts), and
// attaching a checker changes no recorded event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { H_BULK_REMOVE, H_REMOVE } from '../../src/arch/index.js';
import { parseWorkload } from '../../src/guest/workloads.js';
import { recordWorkloadRun, type Profile } from '../../src/machine/workload-run.js';
import { fieldNum } from '../../src/trace/event.js';
import { E } from '../../src/trace/kinds.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { MemorySink } from '../kvm/helpers.js';

const wl = parseWorkload({ name: 'mix', seed: 5, accesses: 20000, guest_mb: 96, host_mb: 128, pressure: 0.85, hpt_order: 20 });

/** One recorded run; `detachAt` ops into it, the checker's observer is detached from the VM. */
function run(profile: Profile, check: boolean, detachAt = -1) {
  const sink = new MemorySink();
  const rec = new Recorder([sink], runInfo(profile, wl.seed, { workload: wl }));
  let ops = 0;
  const afterOp = (m: { kvm: { observer: unknown } }): void => {
    if (++ops === detachAt) m.kvm.observer = null;
  };
  const r = recordWorkloadRun(wl, profile, rec, { check, checkStateEvery: 64, afterOp });
  rec.close(true);
  return { r, events: sink.events };
}

for (const profile of ['power7', 'ppc970'] as const) {
  test(`${profile}: without a checker, no stale TLB entry after H_REMOVE / notifier invalidations`, () => {
    const { r, events } = run(profile, false);
    assert.equal(r.machine.kvm.observer, null, 'no observer attached');
    const removes = events.filter((e) => e.kind === 'hcall_enter' && (fieldNum(e, 'nr') === H_REMOVE || fieldNum(e, 'nr') === H_BULK_REMOVE)).length;
    assert.ok(removes > 0, 'the workload issued H_REMOVE / H_BULK_REMOVE');
    if (profile === 'power7') {
      const inval = events.filter((e) => e.kind === 'notifier' && fieldNum(e, 'effect') === E.notifier_effect.invalidated).length;
      assert.ok(inval > 0, 'notifier invalidations of guest pages');
    }
    // No translation was used stale, and the port did reach the TLBs (KVM's tlbies dropped entries).
    assert.equal(r.machine.staleTlb, 0);
    const invalidated = r.machine.tlbs.reduce((n, t) => n + t.counters.invalidated, 0);
    assert.ok(invalidated > 0, 'tlbies removed TLB entries');
  });

  test(`${profile}: attaching the checker, or detaching it half-way, changes no event`, () => {
    const off = run(profile, false);
    const on = run(profile, true);
    const detached = run(profile, true, 3000);
    assert.equal(detached.r.machine.kvm.observer, null, 'detached');
    assert.deepEqual(detached.events, off.events);
    assert.equal(on.r.violation, null, JSON.stringify(on.r.violation));
    assert.notEqual(on.r.machine.kvm.observer, null, 'the checker observes the VM');
    assert.equal(on.events.length, off.events.length);
    assert.deepEqual(on.events, off.events);
    assert.deepEqual(
      on.r.machine.tlbs.map((t) => t.counters),
      off.r.machine.tlbs.map((t) => t.counters),
    );
  });
}
