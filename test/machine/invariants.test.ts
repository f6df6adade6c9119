// The machine-level checker (§J 23, 25, 26) accepts what the machine does and catches each breach.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario } from '../../src/guest/scenario.js';
import { Machine } from '../../src/machine/machine.js';
import { checkMachineInvariants, RunChecker } from '../../src/machine/invariants.js';
import { HPTE_V_VALID_LO } from '../../src/arch/index.js';
import { newHcallRegs } from '../../src/kvm/hcall.js';
import { Recorder } from '../../src/trace/recorder.js';

function machine(): Machine {
  const s = parseScenario({ machine: { vcpus: 2, hpt_order: 18, memslots: [{ slot: 0, base_gfn: 0, npages: 1024, userspace_addr: '0x3fff80000000' }] }, ops: [] });
  return new Machine(s.machine, Recorder.disabled(), 1);
}

test('J23/J25 hold across entry, real-mode hcall and full exit; each breach is caught', () => {
  const m = machine();
  assert.equal(checkMachineInvariants(m), null);
  const regs = newHcallRegs();
  m.hcall(m.vcpus[0], 0x0c /* H_READ */, regs); // enters the vcore: both threads of vcore 0
  assert.equal(checkMachineInvariants(m), null);
  assert.equal(m.cores[0].lpid, m.kvm.lpid);
  m.fullExit(m.vcpus[0], 0x980);
  assert.equal(checkMachineInvariants(m), null);
  assert.equal(m.cores[0].lpid, 0);

  m.enterGuest(m.vcpus[1]);
  m.cores[0].lpid = 0x3ff;
  assert.equal(checkMachineInvariants(m)?.code, 'j23_switch');
  m.cores[0].lpid = m.kvm.lpid;
  m.cores[0].sdr1Lo ^= 1;
  assert.equal(checkMachineInvariants(m)?.code, 'j23_switch');
  m.cores[0].sdr1Lo ^= 1;
  m.vcpus[0].inGuest = false;
  assert.equal(checkMachineInvariants(m)?.code, 'j25_vcore');
  m.vcpus[0].inGuest = true;
  assert.equal(checkMachineInvariants(m), null);
  m.tlbs[0].counters.stale_tlb = 1;
  assert.equal(checkMachineInvariants(m)?.code, 'j26_tlb_freshness');
});

test('--check reaches the MMU checks through kvm.ops.checker: the audit and the state invariants', () => {
  // Operation-level audit (J17): a VALID HPTE rewritten without a tlbie of its old translation.
  const m = machine();
  const rc = new RunChecker(m, m.rec);
  const k = m.kvm;
  const o = k.observer;
  assert.ok(o !== null, 'ops.checker attached the MMU audit as the VM observer');
  assert.equal(rc.afterOp(0), false);
  o.opBegin(k, 0, null);
  k.mmu.setHpte(0, 0, HPTE_V_VALID_LO, 0, 0); // invalid → VALID: no tlbie needed
  o.opEnd(k, 0, 0, null);
  o.opBegin(k, 0, null);
  k.mmu.setHpte(0, 0, 0, 0, 0); // VALID → invalid without tlbie
  o.opEnd(k, 0, 0, null);
  assert.equal(rc.afterOp(1), true);
  assert.equal(rc.violation?.code, 'j17_tlbie');

  // State invariants: an HPTE made VALID behind KVM's back (no revmap, no rmap) is caught on the
  // next state check, though the audit saw no operation.
  const m2 = machine();
  const rc2 = new RunChecker(m2, m2.rec);
  assert.equal(rc2.afterOp(0), false);
  m2.kvm.mmu.hpt[1] = HPTE_V_VALID_LO;
  assert.equal(rc2.afterOp(1), true);
  assert.match(rc2.violation?.code ?? '', /^j\d+_/);
});
