// Virtual-mode HPT page fault (src/kvm/hash/page_fault.ts; kernel-model §E.3, kvmppc_book3s_hv_page_fault
// of Linux 3.4). Each test reaches the handler the way the machine does (hardware fault → real-mode
// triage → full exit → handler) and checks the HPTE, the rmap chain and the recorded events against
// values derived from the rules in the comments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compute_tlbie_rb_big,
  H_REMOVE,
  H_SUCCESS,
  RESUME_GUEST,
} from '../../src/arch/index.js';
import { ACCESS_LOAD, ACCESS_STORE, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import { PTE_PRESENT, PTE_RW } from '../../src/host/mm.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { kvmppc_hdsi, TRIAGE_VIRTUAL } from '../../src/kvm/hash/hv_fault.js';
import { guest_access } from '../../src/machine/guest-access.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { EFAULT, kvmppc_book3s_hv_page_fault } from '../../src/kvm/hash/page_fault.js';
import { E } from '../../src/trace/kinds.js';
import { field, fieldNum } from '../../src/trace/event.js';
import { hEnter, hvaOf, hwWorld, TV1_EA, TV1_PRIMARY_INDEX, type HwWorld } from '../hw/hwworld.js';

const H_EXACT = 0x0000008000000000n;
const I = TV1_PRIMARY_INDEX;

/** Drive the access into the virtual-mode handler's preconditions (HDSI → triage → -1). */
function toVirtual(w: HwWorld, rwx: number): void {
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, rwx), 0xe00);
  assert.equal(kvmppc_hdsi(w.kvm, w.v), TRIAGE_VIRTUAL);
}

function fault(w: HwWorld, interleave?: () => void): number {
  return kvmppc_book3s_hv_page_fault(w.kvm, w.v, w.v.fault_darHi, w.v.fault_darLo, w.v.fault_dsisr, -1, interleave);
}

function ok(w: HwWorld): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

test('installed: ABSENT → VALID at the faulted-in host page, chained, R/C filtered by the old rmap', () => {
  const w = hwWorld();
  // TV11 guest entry, but no host page yet: ABSENT (dword 0 0x123456020), guest_rpte 0x1234192.
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456020n);
  toVirtual(w, ACCESS_LOAD);
  const n = w.events().length;
  assert.equal(fault(w), RESUME_GUEST);
  // gup faulted the page in (the host model chose the pfn); the HPTE points at it.
  const pfn = w.mm.pfnOf(hvaOf(0x1234000));
  assert.ok(pfn > 0);
  const [v, r] = w.kvm.mmu.hpteBig(I);
  // new_v = (v & ~ABSENT) | VALID = 0x123456001.
  assert.equal(v, 0x123456001n);
  // r = (gr & (PP0 | 0xfff)) | pfn << 12 = pfn<<12 | 0x192; then r &= (rmap >> 32) | ~(R|C) with
  // the rmap word *before* linking (0: never mapped) → R and C stripped: pfn<<12 | 0x012.
  assert.equal(r, (BigInt(pfn) << 12n) | 0x012n);
  // Chain: rmap[0x1234] = I | REFERENCED | PRESENT (K34 add_revmap_chain).
  assert.equal(w.kvm.rmapBig(0x1234), 0x10100000000n | BigInt(I));
  const ev = w.events().slice(n);
  const enter = ev.find((e) => e.kind === 'page_fault_enter')!;
  const exit = ev.find((e) => e.kind === 'page_fault_exit')!;
  assert.equal(field(enter, 'hpte_v'), 0x123456020n);
  assert.equal(field(enter, 'gpte_r'), 0x1234192n);
  assert.equal(fieldNum(enter, 'base_gfn'), 0);
  assert.equal(fieldNum(exit, 'outcome'), E.page_fault_outcome.installed);
  assert.equal(field(exit, 'hpte_v'), 0x123456001n);
  assert.equal(exit.cause, enter.seq);
  // Link recorded before the write that makes the entry VALID.
  const kinds = ev.map((e) => e.kind);
  assert.ok(kinds.indexOf('rmap_change') < kinds.lastIndexOf('hpte_write'));
  ok(w);
  // The guest retries and translates; R is set by the hardware now.
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.ctx.raLo, (pfn * 4096) >>> 0);
});

test('upgraded: a host-read-only VALID entry, store → write fault on the host page, invalidate + tlbie, chain kept', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1, writable: false });
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  // H_ENTER: host read-only → PP |= 3 → hw r = 0x7e5a1193, then C stripped (rmap has only REF): 0x7e5a1113.
  assert.equal(w.kvm.mmu.hpteBig(I)[1], 0x7e5a1113n);
  const rmapBefore = w.kvm.rmapBig(0x1234);
  toVirtual(w, ACCESS_STORE);
  const n = w.events().length;
  assert.equal(fault(w), RESUME_GUEST);
  // gup(write) on the present read-only PTE: reuse → writable, same pfn.
  assert.equal(w.mm.pteFlags(hvaOf(0x1234000)) & (PTE_PRESENT | PTE_RW), PTE_PRESENT | PTE_RW);
  const [v, r] = w.kvm.mmu.hpteBig(I);
  assert.equal(v, 0x123456001n);
  // r = (0x1234192 & (PP0|0xfff)) | 0x7e5a1000 = 0x7e5a1192; filter with rmap>>32 = 0x101 keeps R,
  // drops C → 0x7e5a1112; then r |= old hw R/C (0x100) → 0x7e5a1112 (PP 2, writable again).
  assert.equal(r, 0x7e5a1112n);
  // The old translation was invalidated: tlbie RB = compute_tlbie_rb(old v with ABSENT, ¬VALID).
  const ev = w.events().slice(n);
  const tl = ev.filter((e) => e.kind === 'tlbie');
  assert.equal(tl.length, 1);
  assert.equal(field(tl[0], 'rb'), compute_tlbie_rb_big(0x123456020n, 0x7e5a1113n, BigInt(I), true));
  assert.equal(fieldNum(ev.find((e) => e.kind === 'page_fault_exit')!, 'outcome'), E.page_fault_outcome.upgraded);
  // No chain operation: the rmap word is unchanged.
  assert.equal(ev.filter((e) => e.kind === 'rmap_change').length, 0);
  assert.equal(w.kvm.rmapBig(0x1234), rmapBefore);
  ok(w);
  // The store now succeeds in hardware and sets C.
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), 0);
  assert.equal(w.kvm.mmu.hpteBig(I)[1], 0x7e5a1192n);
  assert.equal(w.shoot.stale_tlb, 0);
});

test('changed (step 1): the HPTE differs from pgfault_hpte → RESUME_GUEST, HPTE untouched', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  toVirtual(w, ACCESS_LOAD);
  // The guest removes the entry before the handler runs (H_REMOVE of an ABSENT entry: dword 0 = 0).
  assert.equal(hcallBig(w.kvm, w.v, H_REMOVE, [0n, BigInt(I), 0n]).ret, H_SUCCESS);
  const before = w.kvm.mmu.hpteBig(I);
  const n = w.events().length;
  assert.equal(fault(w), RESUME_GUEST);
  assert.deepEqual(w.kvm.mmu.hpteBig(I), before);
  const ev = w.events().slice(n);
  assert.equal(fieldNum(ev.find((e) => e.kind === 'page_fault_exit')!, 'outcome'), E.page_fault_outcome.changed);
  assert.equal(ev.filter((e) => e.kind === 'hpte_write' || e.kind === 'rmap_change').length, 0);
  ok(w);
});

test('changed (step 7): the HPTE changes while the handler sleeps in gup → nothing written', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  toVirtual(w, ACCESS_LOAD);
  let after: [bigint, bigint] = [0n, 0n];
  const n = w.events().length;
  const ret = fault(w, () => {
    hcallBig(w.kvm, w.v, H_REMOVE, [0n, BigInt(I), 0n]);
    after = w.kvm.mmu.hpteBig(I);
  });
  assert.equal(ret, RESUME_GUEST);
  // Re-validation under the lock fails (dword 0 now 0): the HPTE stays as H_REMOVE left it.
  assert.deepEqual(w.kvm.mmu.hpteBig(I), after);
  const exit = w.events().slice(n).find((e) => e.kind === 'page_fault_exit')!;
  assert.equal(fieldNum(exit, 'outcome'), E.page_fault_outcome.changed);
  assert.equal(w.kvm.rmapBig(0x1234), 0n);
  // J20 (fault re-validation) holds: the audit saw faultCommit(committed = false) and no write.
  ok(w);
});

test('notifier retry: count ≠ 0 at commit → RESUME_GUEST, nothing installed', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  toVirtual(w, ACCESS_LOAD);
  // An invalidate_range_start is in progress elsewhere: mmu_notifier_count = 1.
  w.kvm.mmu_notifier_count = 1;
  const n = w.events().length;
  assert.equal(fault(w), RESUME_GUEST);
  w.kvm.mmu_notifier_count = 0;
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456020n); // still ABSENT
  assert.equal(w.kvm.rmapBig(0x1234), 0n);
  const ev = w.events().slice(n);
  assert.equal(fieldNum(ev.find((e) => e.kind === 'page_fault_exit')!, 'outcome'), E.page_fault_outcome.notifier_retry);
  assert.equal(ev.filter((e) => e.kind === 'hpte_write' || e.kind === 'rmap_change').length, 0);
});

test('notifier retry: seq moves during gup (another page reclaimed) → RESUME_GUEST, then the retry installs', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x5000));
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  toVirtual(w, ACCESS_LOAD);
  // swapOut of an unrelated page fires invalidate_page → mmu_notifier_seq++ after the snapshot.
  assert.equal(fault(w, () => void w.mm.swapOut(hvaOf(0x5000))), RESUME_GUEST);
  assert.equal(w.v.fault_outcome, E.page_fault_outcome.notifier_retry);
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456020n);
  // The guest retries the access; this time the fault installs.
  assert.equal(guest_access(w.kvm, w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.v.fault_outcome, E.page_fault_outcome.installed);
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456001n);
  ok(w);
});

test('stale_addr: ea ≠ pgfault_addr → RESUME_GUEST', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  toVirtual(w, ACCESS_LOAD);
  assert.equal(kvmppc_book3s_hv_page_fault(w.kvm, w.v, 0, TV1_EA + 0x1000, 0), RESUME_GUEST);
  assert.equal(w.v.fault_outcome, E.page_fault_outcome.stale_addr);
});

test('efault: the slot\'s hva is in no VMA → -EFAULT, HPTE untouched', () => {
  const w = hwWorld();
  // A second slot at gpa 2 GiB whose userspace range was never mmapped.
  const r = kvm_set_memory_region(w.kvm, { slot: 1, guest_phys_addr: 0x80000000, memory_size: 0x100000, userspace_addr: 0x7f0000000000 });
  assert.equal(r, 0);
  hEnter(w, H_EXACT, I, 0x123456001n, 0x80000192n);
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456020n); // ABSENT (no host PTE)
  toVirtual(w, ACCESS_LOAD);
  assert.equal(fault(w), EFAULT);
  assert.equal(w.v.fault_outcome, E.page_fault_outcome.efault);
  assert.equal(w.kvm.mmu.hpteBig(I)[0], 0x123456020n);
});

test('guest_access end to end: miss → triage → fault → retry translates; a second vcpu access hits', () => {
  const w = hwWorld();
  hEnter(w, H_EXACT, I, 0x123456001n, 0x1234192n);
  const exits: number[] = [];
  const host = {
    fullExit: (_v: unknown, trap: number) => {
      exits.push(trap);
      return -1;
    },
  };
  assert.equal(guest_access(w.kvm, w.ctx, w.v, 0, TV1_EA, ACCESS_STORE, host), 0);
  assert.deepEqual(exits, [0xe00]);
  // A store: writing = 1; the page is faulted in writable, so the entry is installed writable,
  // C is stripped by the filter (rmap was 0), and the hardware store then sets R and C.
  const r = w.kvm.mmu.hpteBig(I)[1];
  assert.equal(r & 0x1ffn, 0x192n);
  ok(w);
});
