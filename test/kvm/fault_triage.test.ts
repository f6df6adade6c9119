// Real-mode triage of HDSI/HISI (src/kvm/hash/hv_fault.ts; kernel-model §E.2, kvmppc_hdsi/kvmppc_hisi +
// kvmppc_hpte_hv_fault of Linux 3.4). Each case sets up the HPT so that one rule decides, drives
// the hardware MMU to raise the interrupt, and checks the decision, the reflected registers and
// the fault_triage event. Expected values come from the rules quoted in the comments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  DSISR_ISSTORE,
  DSISR_KEYFAULT,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  KVM_INST_FETCH_FAILED,
  MSR_ME_LO,
  MSR_SF_HI,
  SRR1_ISI_N_OR_G,
} from '../../src/arch/index.js';
import { ACCESS_IFETCH, ACCESS_LOAD, ACCESS_STORE, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import {
  HPTE_HV_FAULT_RETRY,
  kvmppc_hdsi,
  kvmppc_hisi,
  kvmppc_hpte_hv_fault,
  TRIAGE_MMIO,
  TRIAGE_REFLECT,
  TRIAGE_RETRY,
  TRIAGE_VIRTUAL,
} from '../../src/kvm/hash/hv_fault.js';
import { E } from '../../src/trace/kinds.js';
import { field, fieldNum } from '../../src/trace/event.js';
import { hEnter, hvaOf, hwWorld, TV1_EA, TV1_PRIMARY_INDEX, TV1_SLB_V_HI, TV1_SLB_V_LO, type HwWorld } from '../hw/hwworld.js';

const H_EXACT = 0x0000008000000000n;
const PC = 0x700000;

/** Run the access; it must raise HDSI; run kvmppc_hdsi; return [decision, fault_triage event]. */
function hdsi(w: HwWorld, ea: number, rwx: number): [number, ReturnType<HwWorld['events']>[number]] {
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, ea, rwx), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  const n = w.events().length;
  const d = kvmppc_hdsi(w.kvm, w.v);
  const ev = w.events().slice(n).filter((e) => e.kind === 'fault_triage');
  assert.equal(ev.length, 1, 'one fault_triage per hardware fault');
  return [d, ev[0]];
}

test('genuine guest miss (no HPTE at all) → reflect DSI with NOHPTE', () => {
  const w = hwWorld();
  const msrLo = w.v.msrLo;
  const [d, ev] = hdsi(w, TV1_EA, ACCESS_LOAD);
  // Step 1: find_lock_hpte(VALID|ABSENT) finds nothing and status has NOHPTE → return status.
  assert.equal(d, TRIAGE_REFLECT);
  assert.equal(w.v.dsisr, DSISR_NOHPTE);
  assert.equal(w.v.darLo, TV1_EA);
  // Reflection: SRR0 = PC, SRR1 = guest MSR, PC = 0x300, MSR = SF|ME.
  assert.equal(w.v.srr0Lo, PC);
  assert.equal(w.v.srr1Lo, msrLo);
  assert.equal(w.v.pcLo, 0x300);
  assert.equal(w.v.msrHi, MSR_SF_HI);
  assert.equal(w.v.msrLo, MSR_ME_LO);
  assert.equal(fieldNum(ev, 'interrupt'), E.fault_kind.hdsi);
  assert.equal(fieldNum(ev, 'decision'), E.fault_decision.reflect);
  assert.equal(field(ev, 'out_status'), BigInt(DSISR_NOHPTE));
  assert.equal(fieldNum(ev, 'hpte_index'), -1);
  // slb_v recorded: TV1 0x123456000.
  assert.equal(field(ev, 'slb_v'), 0x123456000n);
});

test('guest-view protection failure (store to PP=3) → reflect PROTFAULT', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234193n); // PP 3 in the guest view
  const [d, ev] = hdsi(w, TV1_EA, ACCESS_STORE);
  // Hardware: PROTFAULT|ISSTORE. Triage: VALID entry found; hpte_write_permission(3, key 0) is
  // false (key 0 allows pp ≤ 2) → status | PROTFAULT = 0x0a000000.
  assert.equal(d, TRIAGE_REFLECT);
  assert.equal(w.v.dsisr, DSISR_PROTFAULT | DSISR_ISSTORE);
  assert.equal(w.v.pcLo, 0x300);
  assert.equal(fieldNum(ev, 'hpte_index'), TV1_PRIMARY_INDEX);
  assert.equal(fieldNum(ev, 'gfn'), 0x1234);
  assert.equal(fieldNum(ev, 'access'), ACCESS_STORE);
});

test('ABSENT entry (host page not present) → virtual-mode fault (-1), pgfault_* saved', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n); // ABSENT: no host page
  const [d, ev] = hdsi(w, TV1_EA, ACCESS_LOAD);
  // valid = VALID|ABSENT finds it; not VALID; guest pp 2 readable → -1.
  assert.equal(d, TRIAGE_VIRTUAL);
  assert.equal(w.v.trap, BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.v.pgfault_index, TV1_PRIMARY_INDEX);
  assert.equal(w.v.pgfault_addrLo, TV1_EA);
  assert.equal(w.v.pgfault_hpte[1], 0x23456020); // v = 0x1_23456020 (ABSENT)
  assert.equal(w.v.fault_darLo, TV1_EA);
  assert.equal(w.v.fault_dsisr, DSISR_NOHPTE);
  assert.equal(w.v.pcLo, PC); // guest state untouched
  assert.equal(w.v.last_inst, KVM_INST_FETCH_FAILED);
  assert.equal(fieldNum(ev, 'decision'), E.fault_decision.virtual);
});

test('host-forced read-only, guest view writable, store → virtual (-1)', () => {
  const w = hwWorld();
  // Host PTE read-only: H_ENTER with a writable guest ptel (PP 2) makes the real HPTE read-only
  // (hpte_make_readonly: PP |= 3), so the hardware raises PROTFAULT on a store.
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1, writable: false });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[1] & 3n, 3n);
  const [d] = hdsi(w, TV1_EA, ACCESS_STORE);
  // Triage checks the *guest* view (PP 2, key 0: writable) → not the guest's fault → -1.
  assert.equal(d, TRIAGE_VIRTUAL);
  assert.equal(w.v.fault_dsisr, DSISR_PROTFAULT | DSISR_ISSTORE);
});

test('emulated MMIO (key 31, ABSENT) data access with MSR.IR → -2, instruction word loaded', () => {
  const w = hwWorld();
  // gpa 0x80000000 is outside slot 0 (1 GiB): H_ENTER writes ABSENT with key 31.
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x80000192n);
  w.v.cur_inst = 0x80a40000; // lwz r5, 0(r4)
  const [d, ev] = hdsi(w, TV1_EA, ACCESS_LOAD);
  assert.equal(d, TRIAGE_MMIO);
  assert.equal(w.v.trap, BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.v.last_inst, 0x80a40000);
  assert.equal(fieldNum(ev, 'decision'), E.fault_decision.mmio);
  // Same HPTE but the access in real mode? IR is what K34 tests: with IR off (DR on) → -1.
  const w2 = hwWorld();
  hEnter(w2, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x80000192n);
  w2.v.setMsr(w2.v.msrHi, w2.v.msrLo & ~0x20);
  const [d2] = hdsi(w2, TV1_EA, ACCESS_LOAD);
  assert.equal(d2, TRIAGE_VIRTUAL);
});

test('NOHPTE but the entry is VALID by now → retry (0), nothing reflected', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n); // ABSENT
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  // Another vcpu's fault made it VALID between the hardware miss and this triage.
  w.kvm.mmu.hpt[TV1_PRIMARY_INDEX * 4 + 1] = (w.kvm.mmu.hpt[TV1_PRIMARY_INDEX * 4 + 1] & ~0x20) | 1;
  assert.equal(kvmppc_hdsi(w.kvm, w.v), TRIAGE_RETRY);
  assert.equal(w.v.pcLo, PC);
  // The function itself: step 3 returns 0.
  assert.equal(
    kvmppc_hpte_hv_fault(w.kvm, w.v, 0, TV1_EA, TV1_SLB_V_HI, TV1_SLB_V_LO, DSISR_NOHPTE, true),
    HPTE_HV_FAULT_RETRY,
  );
});

test('protection fault whose HPTE vanished → retry (0)', () => {
  const w = hwWorld();
  // Step 1: no VALID entry and status without NOHPTE → 0.
  assert.equal(kvmppc_hpte_hv_fault(w.kvm, w.v, 0, TV1_EA, TV1_SLB_V_HI, TV1_SLB_V_LO, DSISR_PROTFAULT, true), 0);
});

test('AMR on the guest view of an ABSENT entry → reflect KEYFAULT (NOHPTE cleared)', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n); // ABSENT, key 0
  w.v.amrHi = 0x40000000; // key-0 pair = 0b01: deny loads
  const [d] = hdsi(w, TV1_EA, ACCESS_LOAD);
  // Step 5 (data, MSR.DR): perm = 0b01 → bit 0 → status (NOHPTE stripped in step 4) | KEYFAULT.
  assert.equal(d, TRIAGE_REFLECT);
  assert.equal(w.v.dsisr, DSISR_KEYFAULT);
});

test('HDSI with neither NOHPTE nor PROTFAULT, or without an SLB entry, is reflected raw', () => {
  const w = hwWorld();
  w.v.hdarHi = 0;
  w.v.hdarLo = TV1_EA;
  w.v.hdsisr = DSISR_KEYFAULT; // e.g. the hardware's AMR denial
  w.v.hsrr1Hi = w.v.msrHi;
  w.v.hsrr1Lo = w.v.msrLo;
  assert.equal(kvmppc_hdsi(w.kvm, w.v), TRIAGE_REFLECT);
  assert.equal(w.v.dsisr, DSISR_KEYFAULT);
  const w2 = hwWorld();
  w2.v.hdarLo = 0x50000000; // ESID 5: no SLB entry → reflect with the raw HDSISR
  w2.v.hdsisr = DSISR_NOHPTE;
  w2.v.hsrr1Hi = w2.v.msrHi;
  w2.v.hsrr1Lo = w2.v.msrLo;
  assert.equal(kvmppc_hdsi(w2.kvm, w2.v), TRIAGE_REFLECT);
  assert.equal(w2.v.dsisr, DSISR_NOHPTE);
  assert.equal(w2.v.darLo, 0x50000000);
});

test('HISI: ABSENT page → virtual; ABSENT no-execute page → reflect ISI_N_OR_G (SRR1 high word 0)', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n); // ABSENT
  w.v.setPc(0, TV1_EA);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_IFETCH), BOOK3S_INTERRUPT_H_INST_STORAGE);
  assert.equal(kvmppc_hisi(w.kvm, w.v), TRIAGE_VIRTUAL);
  assert.equal(w.v.trap, BOOK3S_INTERRUPT_H_INST_STORAGE);

  const x = hwWorld();
  hEnter(x, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234196n); // ABSENT, guest view N (0x4)
  x.v.setPc(0, TV1_EA);
  assert.equal(ppc_hash64_handle_mmu_fault(x.ctx, x.v, 0, TV1_EA, ACCESS_IFETCH), BOOK3S_INTERRUPT_H_INST_STORAGE);
  const msrLo = x.v.msrLo;
  assert.equal(kvmppc_hisi(x.kvm, x.v), TRIAGE_REFLECT);
  // status = low word of HSRR1 = (MSR & ~cause mask) | NOPT; step 4 drops NOPT, adds N_OR_G.
  assert.equal(x.v.srr1Lo, (msrLo | SRR1_ISI_N_OR_G) >>> 0);
  // K34 returns `unsigned int status`, zero-extended into SRR1: SF (bit 63) is not in SRR1.
  assert.equal(x.v.srr1Hi, 0);
  assert.equal(x.v.pcLo, 0x400);
});
