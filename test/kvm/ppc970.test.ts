// PPC970 (Linux 3.4, using_mmu_notifiers = 0): VM creation (6-bit LPIDs, HID4), slot_phys pinning
// through the real-mode H_TOO_HARD → virtual-mode H_ENTER path, notifier no-ops, unpin at destroy,
// the RMA, and invariants J12/J24 (kernel-model §C.4, §D.3 step 5, §F.2, §G.1, §G.5, §J).
// Every expected value is derived in the comment next to it from the kernel rules.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H_ENTER, H_PARAMETER, H_SUCCESS, H_TOO_HARD, KVMPPC_GOT_PAGE } from '../../src/arch/index.js';
import { E } from '../../src/trace/kinds.js';
import { hcallBig, isVirtmodePending, kvmppc_hcall, kvmppc_hcall_virtmode, newHcallRegs } from '../../src/kvm/hcall.js';
import { checkInvariants, checkLpids, KvmInvariantChecker } from '../../src/kvm/hash/invariants.js';
import { type Kvm, LpidAllocator } from '../../src/kvm/kvm.js';
import { kvm_create_vm } from '../../src/kvm/ops.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { kvm_alloc_rma, kvmppc_hv_setup_rma_970 } from '../../src/kvm/hash/slot_phys.js';
import { FRAME_FREE, FRAME_VMM, PhysMem } from '../../src/host/physmem.js';
import { HostMm, PTE_PRESENT } from '../../src/host/mm.js';
import { Recorder } from '../../src/trace/recorder.js';
import { makeWorld, UA, type World } from './helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

const PTEH = 0x123456001n;
const PTEL = 0x1234192n; // gpa 0x1234000, R, C, M, PP = 2
const IDX = 0x1a298n;
const HVA = UA + 0x1234 * 4096;

function ok(w: World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

function setRegs(regs: Uint32Array, vals: bigint[]): void {
  regs.fill(0);
  vals.forEach((x, k) => {
    regs[k * 2] = Number(x >> 32n);
    regs[k * 2 + 1] = Number(x & 0xffffffffn);
  });
}

function w970(o: Parameters<typeof makeWorld>[0] = {}): World {
  return makeWorld({ cpu: 'ppc970', ...o });
}

test('ppc970 VM: no ARCH_206, no notifiers, first LPID 1, HID4 with the LPID split field in vm_create', () => {
  const w = w970();
  const k = w.kvm;
  assert.equal(k.arch206, false);
  assert.equal(k.usingMmuNotifiers, false);
  // LPIDs 0 (host) and 63 (reserved) are pre-set: the first free is 1.
  assert.equal(k.lpid, 1);
  // host HID4 0; lpid 1: (1 & 0xf) << 57 = 0x0200000000000000, (1 >> 4) << 0 = 0.
  const vm = w.events().find((e) => e.kind === 'vm_create')!;
  assert.equal(field(vm, 'lpcr'), 0x0200000000000000n);
  assert.equal((BigInt(k.lpcrHi) << 32n) | BigInt(k.lpcrLo), 0x0200000000000000n);
  // slot_phys allocated for slot 0 by prepare_memory_region, all zero.
  assert.equal(k.slot_phys[0]!.npages, 0x40000);
  assert.equal(k.slot_phys[0]!.has(0x1234), false);
  ok(w);
});

test('ppc970 HID4: host bits kept, LPID 21 → LPID5 = 5, LPID1 = 1', () => {
  const lpids = LpidAllocator.forCpu('ppc970');
  for (let i = 1; i <= 20; i++) assert.equal(lpids.alloc(), i);
  // host HID4 = LPES0 | LPES1 = 0x8000000000000040; 21 = 0b01_0101: 5 << 57 = 0x0a00000000000000, 1 << 0.
  const w = w970({ lpids, hostHid4: 0x8000000000000040n, order: 18, npages: 16 });
  assert.equal(w.kvm.lpid, 21);
  assert.equal((BigInt(w.kvm.lpcrHi) << 32n) | BigInt(w.kvm.lpcrLo), 0x8a00000000000041n);
});

test('ppc970 LPID allocation: 62 VMs get 1..62, the 63rd fails, 63 is never used; freeing one reuses it', () => {
  const lpids = LpidAllocator.forCpu('ppc970');
  const phys = new PhysMem({ pageShift: 12, npages: 1 << 12, seed: 1 });
  const rec = Recorder.disabled();
  const mm = new HostMm({ phys, rec });
  const vms: Kvm[] = [];
  for (let i = 0; i < 62; i++) vms.push(kvm_create_vm({ mm, rec, cpu: 'ppc970', hptOrder: 18, lpids, vmId: i }));
  assert.deepEqual(vms.map((v) => v.lpid), Array.from({ length: 62 }, (_, i) => i + 1));
  assert.throws(() => kvm_create_vm({ mm, rec, cpu: 'ppc970', hptOrder: 18, lpids }), /No LPIDs free/);
  assert.equal(checkLpids(vms), null);
  // Even a POWER7-style allocator (63 not pre-set) never hands a PPC970 VM 63 or more.
  const p7alloc = new LpidAllocator();
  for (let i = 1; i <= 62; i++) p7alloc.alloc();
  assert.throws(() => kvm_create_vm({ mm, rec, cpu: 'ppc970', hptOrder: 18, lpids: p7alloc }), /No LPIDs free/);
  vms[4].destroy(); // lpid 5
  const again = kvm_create_vm({ mm, rec, cpu: 'ppc970', hptOrder: 18, lpids });
  assert.equal(again.lpid, 5);
  // J24 checker: a duplicate or out-of-range LPID is reported.
  assert.equal(checkLpids([...vms, again]), null);
  (again as { lpid: number }).lpid = 63;
  assert.equal(checkLpids([again])?.code, 'j24_lpid');
  assert.equal(new KvmInvariantChecker(again).check()?.code, 'j24_lpid');
});

test('ppc970 H_ENTER of an unpinned page: real mode H_TOO_HARD, virtual mode pins and enters (TV11 values)', () => {
  const w = w970();
  const k = w.kvm;
  w.mm.map(HVA, { pfn: 0x7e5a1 });
  const regs = newHcallRegs();
  setRegs(regs, [0n, IDX, PTEH, PTEL]);
  // 1. Real mode: slot_phys[0][0x1234] == 0 → H_TOO_HARD; registers untouched, call pending.
  const r1 = kvmppc_hcall(k, w.vcpu, H_ENTER, regs);
  assert.equal(r1, H_TOO_HARD);
  assert.equal(isVirtmodePending(k), true);
  assert.equal(regs[3], 0x1a298);
  assert.equal(k.mmu.isValid(0x1a298), false);
  assert.equal(w.mm.phys.pinCount(0x7e5a1), 0);
  // 2. Virtual mode: get_user_pages pins pfn 0x7e5a1 (present, 4K): entry = 0x7e5a1 << 12 | GOT_PAGE | order 0.
  const r2 = kvmppc_hcall_virtmode(k, w.vcpu, H_ENTER, regs);
  assert.equal(r2, H_SUCCESS);
  assert.equal(regs[1], 0x1a298); // r4 = index (slot 0 of the PTEG is free)
  assert.equal(k.slot_phys[0]!.entryBig(0x1234, 12), 0x7e5a1080n);
  assert.equal(w.mm.phys.pinCount(0x7e5a1), 1);
  // HPTE as TV11: RPN ← 0x7e5a1000 (pte_size 4K = psize, no offset); VALID; R kept, C stripped
  // (rmap after linking = REFERENCED | PRESENT → rcbits 0x101).
  assert.deepEqual(k.mmu.hpteBig(0x1a298), [0x123456001n, 0x7e5a1112n]);
  assert.equal(k.mmu.guestRBig(0x1a298), PTEL);
  assert.equal(k.rmapBig(0x1234), 0x1010001a298n);
  // Events: enter; pin (cause enter); link; hpte_write; exit with path virtual (cause enter). No exit for real mode.
  const ev = w.events();
  const enter = ev.find((e) => e.kind === 'hcall_enter')!;
  const exits = ev.filter((e) => e.kind === 'hcall_exit');
  assert.equal(exits.length, 1);
  assert.equal(exits[0].cause, enter.seq);
  assert.equal(fieldNum(exits[0], 'path'), E.hcall_path.virtual);
  assert.equal(fieldNum(exits[0], 'ret'), H_SUCCESS);
  assert.equal(field(exits[0], 'out_r4'), 0x1a298n);
  const pin = ev.find((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.pin)!;
  assert.equal(pin.cause, enter.seq);
  assert.equal(pin.lpid, k.lpid);
  assert.equal(field(pin, 'hva'), BigInt(HVA));
  assert.equal(field(pin, 'pfn'), 0x7e5a1n);
  assert.equal(fieldNum(pin, 'page_shift'), 12);
  assert.deepEqual(
    ev.filter((e) => e.seq > enter.seq).map((e) => e.kind),
    ['host_page', 'rmap_change', 'hpte_write', 'hcall_exit'],
  );
  ok(w);
  // 3. A second HPTE for the same page: the entry is there, real mode completes (path real), no new pin.
  const r3 = hcallBig(k, w.vcpu, H_ENTER, [0n, 0x100n, 0x999000001n, PTEL]);
  assert.equal(r3.ret, H_SUCCESS);
  assert.equal(w.mm.phys.pinCount(0x7e5a1), 1);
  const last = w.events().filter((e) => e.kind === 'hcall_exit').at(-1)!;
  assert.equal(fieldNum(last, 'path'), E.hcall_path.real);
  ok(w);
});

test('ppc970 virtual-mode H_ENTER faults a missing host page in, then pins the new frame', () => {
  const w = w970();
  assert.equal(w.mm.pteFlags(HVA) & PTE_PRESENT, 0);
  const r = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  assert.equal(r.ret, H_SUCCESS);
  const pfn = w.mm.pfnOf(HVA);
  assert.ok(pfn > 0);
  assert.equal(w.kvm.slot_phys[0]!.pfn[0x1234], pfn);
  assert.equal(w.kvm.slot_phys[0]!.flags[0x1234], KVMPPC_GOT_PAGE);
  assert.equal(w.kvm.mmu.hpteBig(0x1a298)[1], (BigInt(pfn) << 12n) | 0x112n);
  const ops = w.events().filter((e) => e.kind === 'host_page').map((e) => fieldNum(e, 'op'));
  assert.deepEqual(ops, [E.host_page_op.map, E.host_page_op.pin]);
  ok(w);
});

test('ppc970 H_ENTER outside every memslot is H_PARAMETER in real mode (no emulated MMIO)', () => {
  const w = w970();
  // gpa 0x80000000: gfn 0x80000 ≥ npages 0x40000 → no memslot → !ARCH_206 → H_PARAMETER.
  const regs = newHcallRegs();
  setRegs(regs, [0n, IDX, PTEH, 0x80000192n]);
  assert.equal(kvmppc_hcall(w.kvm, w.vcpu, H_ENTER, regs), H_PARAMETER);
  assert.equal(isVirtmodePending(w.kvm), false);
  const exit = w.events().find((e) => e.kind === 'hcall_exit')!;
  assert.equal(fieldNum(exit, 'path'), E.hcall_path.real);
  assert.equal(w.kvm.mmu.hpt[0x1a298 * 4 + 1], 0);
  ok(w);
});

test('ppc970 16M hugetlbfs backing: all 4096 entries filled, GOT_PAGE on the first only; RPN with offset', () => {
  const w = w970({ vmaPageShift: 24 });
  const k = w.kvm;
  // Huge page 1 of the slot (gfn 0x1000..0x1fff) at pfn 0x7e000 (aligned to 0x1000 frames).
  w.mm.map(UA + 0x1000000, { pfn: 0x7e000 });
  // 4K guest page at gpa 0x1005000.
  const r = hcallBig(k, w.vcpu, H_ENTER, [0n, IDX, PTEH, 0x1005192n]);
  assert.equal(r.ret, H_SUCCESS);
  const sp = k.slot_phys[0]!;
  // s = 16M > psize 4K, slot (base 0, 0x40000 pages) and userspace_addr aligned → pgsize 16M,
  // pgorder 12; entry 0x1000 + i = (0x7e000 + i) << 12 | 12, GOT_PAGE (0x80) on i = 0 only.
  assert.equal(sp.entryBig(0x1000, 12), 0x7e00008cn);
  assert.equal(sp.entryBig(0x1005, 12), 0x7e00500cn);
  assert.equal(sp.entryBig(0x1fff, 12), 0x7efff00cn);
  assert.equal(sp.has(0xfff), false);
  assert.equal(sp.has(0x2000), false);
  // The reference is on the head frame.
  assert.equal(w.mm.phys.pinCount(0x7e000), 1);
  assert.equal(w.mm.phys.pinCount(0x7e005), 0);
  // pa = 0x7e005000 | (0x1005000 & 0xffffff) = 0x7e005000; dword 1 = 0x7e005192 with C stripped.
  assert.equal(k.mmu.hpteBig(0x1a298)[1], 0x7e005112n);
  const pin = w.events().find((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.pin)!;
  assert.equal(field(pin, 'hva'), BigInt(UA + 0x1000000));
  assert.equal(field(pin, 'pfn'), 0x7e000n);
  assert.equal(fieldNum(pin, 'page_shift'), 24);
  // Another page of the same huge page: already pinned → real mode succeeds, path real.
  const regs = newHcallRegs();
  setRegs(regs, [0n, 0x200n, 0x999000001n, 0x1fff012n]);
  assert.equal(kvmppc_hcall(k, w.vcpu, H_ENTER, regs), H_SUCCESS);
  assert.equal(k.mmu.hpteBig(regs[1])[1], 0x7efff012n & ~0x80n);
  ok(w);
});

test('ppc970 16M guest page on 4K host pages: virtual mode H_PARAMETER, the page reference is dropped', () => {
  const w = w970();
  // pteh L bit (0x4), ptel LP 0000 → 16M; gpa 0x1000000 (aligned). get_user_pages gives a 4K page:
  // s = 4K < psize → -EINVAL → H_PARAMETER.
  const r = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, 0x123456005n, 0x1000190n]);
  assert.equal(r.ret, H_PARAMETER);
  const pfn = w.mm.pfnOf(UA + 0x1000000);
  assert.ok(pfn > 0); // faulted in by get_user_pages
  assert.equal(w.mm.phys.pinCount(pfn), 0);
  assert.equal(w.kvm.slot_phys[0]!.has(0x1000), false);
  ok(w);
});

test('ppc970 notifier callbacks are recorded noop_pinned and leave HPT, revmap and rmap byte-identical', () => {
  const w = w970();
  const k = w.kvm;
  w.mm.map(HVA, { pfn: 0x7e5a1 });
  assert.equal(hcallBig(k, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]).ret, H_SUCCESS);
  k.mmu.hpt[0x1a298 * 4 + 3] |= 0x180; // hardware R and C, as if the guest touched the page
  const snap = () => [k.mmu.hpt.slice(), k.mmu.revGuestR.slice(), k.mmu.revForw.slice(), k.mmu.revBack.slice(), k.memslots[0].rmap.slice()];
  const before = snap();
  const nBefore = w.events().length;
  // Every host operation that notifies, plus release.
  assert.equal(w.mm.age(HVA), true); // the host PTE was young (fault-in); KVM's age says 0
  assert.equal(w.mm.testYoung(HVA), false); // kvm_test_age_hva returns 0 without notifiers
  w.mm.protect(HVA, false); // range_start/end
  w.mm.replacePage(HVA); // change_pte
  const newPfn = w.mm.pfnOf(HVA);
  w.mm.unmap(HVA); // invalidate_page
  w.mm.map(HVA);
  w.mm.unmap(HVA, { range: true }); // range_start/end
  w.notifier.release(null);
  const after = snap();
  for (let a = 0; a < before.length; a++) assert.deepEqual(after[a], before[a], `array ${a} changed`);
  const ns = w.events().slice(nBefore).filter((e) => e.kind === 'notifier');
  assert.deepEqual(ns.map((e) => fieldNum(e, 'callback')), [
    E.notifier_kind.clear_flush_young,
    E.notifier_kind.test_young,
    E.notifier_kind.range_start,
    E.notifier_kind.range_end,
    E.notifier_kind.change_pte,
    E.notifier_kind.invalidate_page,
    E.notifier_kind.range_start,
    E.notifier_kind.range_end,
    E.notifier_kind.release,
  ]);
  for (const n of ns) {
    assert.equal(fieldNum(n, 'effect'), E.notifier_effect.noop_pinned);
    assert.equal(fieldNum(n, 'hptes'), 0);
  }
  // No KVM state events caused by any notifier.
  const nseqs = new Set(ns.map((e) => e.seq));
  assert.equal(w.events().filter((e) => e.cause !== null && nseqs.has(e.cause) && e.kind !== 'notifier').length, 0);
  // The generic counters still move: range_end ×2, change_pte, invalidate_page → seq 4; count 0.
  assert.deepEqual([k.mmu_notifier_seq, k.mmu_notifier_count], [4, 0]);
  // The pinned frame outlived replacePage (its mapping moved to newPfn): still allocated, still pinned.
  assert.notEqual(newPfn, 0x7e5a1);
  assert.equal(w.mm.phys.owner[0x7e5a1], FRAME_VMM);
  assert.equal(w.mm.phys.pinCount(0x7e5a1), 1);
  assert.equal(w.mm.phys.isPendingFree(0x7e5a1), true);
  ok(w);
  // Destroy: unpin_slot puts the page, which frees the released frame; one unpin event.
  k.destroy();
  assert.equal(w.mm.phys.pinCount(0x7e5a1), 0);
  assert.equal(w.mm.phys.owner[0x7e5a1], FRAME_FREE);
  assert.equal(k.slot_phys[0], null);
  const unpins = w.events().filter((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.unpin);
  assert.equal(unpins.length, 1);
  assert.equal(field(unpins[0], 'pfn'), 0x7e5a1n);
  assert.equal(field(unpins[0], 'hva'), BigInt(HVA));
});

test('ppc970: swapOut refuses a pinned page; the page stays mapped and nothing is notified', () => {
  const w = w970();
  w.mm.map(HVA, { pfn: 0x7e5a1 });
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  const n = w.events().length;
  assert.equal(w.mm.swapOut(HVA), -2);
  assert.equal(w.mm.pfnOf(HVA), 0x7e5a1);
  assert.equal(w.events().length, n);
  assert.equal(w.mm.swapOutPinnedRefused, 1);
  // After destroy the page is an ordinary page again and can be swapped.
  w.kvm.destroy();
  assert.equal(w.mm.swapOut(HVA), 0x7e5a1);
});

test('ppc970 invariant checker: a VALID HPTE without a slot_phys entry, or a cleared entry, is J12', () => {
  const w = w970();
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  ok(w);
  const sp = w.kvm.slot_phys[0]!;
  const pfn = sp.pfn[0x1234];
  sp.pfn[0x1234] = 0;
  sp.flags[0x1234] = 0;
  assert.equal(w.checker.check()?.code, 'j12_pinned');
  sp.pfn[0x1234] = pfn + 1; // pinned frame differs from the HPTE's
  sp.flags[0x1234] = KVMPPC_GOT_PAGE;
  assert.equal(w.checker.check()?.code, 'j12_pinned');
});

test('ppc970 RMA: HID4 RMLS/RMOR, slot_phys pre-filled without GOT_PAGE, H_ENTER in real mode at once', () => {
  const w = w970({ physPages: 1 << 16 });
  const k = w.kvm;
  // 64 MiB RMA = 0x4000 pages, aligned to 64 MiB.
  const ri = kvm_alloc_rma(k, 64 * 2 ** 20)!;
  assert.equal(ri.npages, 0x4000);
  assert.equal(ri.base_pfn % 0x4000, 0);
  assert.equal(kvmppc_hv_setup_rma_970(k, ri), 0);
  // lpcr_rmls(64M) = 3: RMLS0 = 3 >> 2 = 0, RMLS2 = 3 << 61 = 0x6000000000000000;
  // RMOR = base_pfn >> (26 - 12) at shift 41; LPID 1 at LPID5: 0x0200000000000000.
  const rmor = BigInt(ri.base_pfn >> 14) << 41n;
  assert.equal((BigInt(k.lpcrHi) << 32n) | BigInt(k.lpcrLo), 0x6000000000000000n | 0x0200000000000000n | rmor);
  // Entries 0..0x3fff = (base + i) << 12 | log2(0x4000) = 14; no GOT_PAGE.
  const sp = k.slot_phys[0]!;
  assert.equal(sp.entryBig(0x10, 12), (BigInt(ri.base_pfn + 0x10) << 12n) | 14n);
  assert.equal(sp.has(0x4000), false);
  // H_ENTER of gpa 0x10000: real mode; pa = (base+0x10) << 12 | (0x10000 & (64M - 1)) = same.
  const regs = newHcallRegs();
  setRegs(regs, [0n, IDX, PTEH, 0x10192n]);
  assert.equal(kvmppc_hcall(k, w.vcpu, H_ENTER, regs), H_SUCCESS);
  assert.equal(k.mmu.hpteBig(0x1a298)[1], (BigInt(ri.base_pfn + 0x10) << 12n) | 0x112n);
  ok(w);
  // Destroy: no GOT_PAGE entries → no unpin events.
  k.destroy();
  assert.equal(w.events().filter((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.unpin).length, 0);
  // Without an RMA, PPC970 cannot run (-EPERM).
  const w2 = w970({ record: false, order: 18, npages: 16 });
  assert.equal(kvmppc_hv_setup_rma_970(w2.kvm, null), -1);
});

test('ppc970 memslot deleted and re-created with the same id keeps slot_phys (K34: freed only at destroy)', () => {
  const w = w970({ record: false, order: 18, npages: 64 });
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0n, PTEH, 0x5192n]);
  const sp = w.kvm.slot_phys[0]!;
  assert.equal(sp.has(5), true);
  assert.equal(kvm_set_memory_region(w.kvm, { slot: 0, guest_phys_addr: 0, memory_size: 0, userspace_addr: UA }), 0);
  assert.equal(w.kvm.slot_phys[0], sp);
  assert.equal(kvm_set_memory_region(w.kvm, { slot: 0, guest_phys_addr: 0, memory_size: 64 * 4096, userspace_addr: UA }), 0);
  assert.equal(w.kvm.slot_phys[0], sp);
  // Larger than the kept array: refused by the model (Linux would overrun it).
  kvm_set_memory_region(w.kvm, { slot: 0, guest_phys_addr: 0, memory_size: 0, userspace_addr: UA });
  assert.equal(kvm_set_memory_region(w.kvm, { slot: 0, guest_phys_addr: 0, memory_size: 128 * 4096, userspace_addr: UA }), -22);
});
