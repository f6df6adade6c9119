// MMU-notifier callbacks (kernel-model §F) and the host operations that fire them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H_ENTER, H_SUCCESS } from '../../src/arch/index.js';
import { E } from '../../src/trace/kinds.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { makeWorld, UA, type World } from './helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

function ok(w: World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

// gfn 0x1234 at pfn 0x7e5a1, HPTE 0x1a298 as in TV11 but with a guest ptel without R/C
// (0x1234012: M, PP = 2), so hardware R/C show up only when "hardware" sets them.
function setup(): World {
  const w = makeWorld();
  w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
  const r = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x1a298n, 0x123456001n, 0x1234012n]);
  assert.equal(r.ret, H_SUCCESS);
  return w;
}

test('host unmap → invalidate_page: HPTE ABSENT, R/C harvested into rmap and guest view, global tlbie', () => {
  const w = setup();
  const k = w.kvm;
  k.mmu.hpt[0x1a298 * 4 + 3] |= 0x180; // hardware R and C
  const pfn = w.mm.unmap(UA + 0x1234 * 4096);
  assert.equal(pfn, 0x7e5a1);
  // v: (0x123456001 | ABSENT) & ~VALID = 0x123456020; hw r unchanged (K34 keeps the RPN and R/C).
  assert.deepEqual(k.mmu.hpteBig(0x1a298), [0x123456020n, 0x7e5a1192n]);
  // guest_rpte |= R|C: 0x1234012 | 0x180 = 0x1234192.
  assert.equal(k.mmu.guestRBig(0x1a298), 0x1234192n);
  // rmap: 0x1a298|REF|PRESENT → unlink (alone: PRESENT and INDEX cleared) → REF | (R|C) << 32.
  assert.equal(k.rmapBig(0x1234), 0x18000000000n);
  assert.equal(k.mmu_notifier_seq, 1); // invalidate_page: seq++
  assert.equal(k.mmu_notifier_count, 0);
  const ev = w.events();
  const host = ev.find((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.unmap)!;
  const n = ev.find((e) => e.kind === 'notifier')!;
  assert.equal(n.cause, host.seq);
  assert.equal(fieldNum(n, 'callback'), E.notifier_kind.invalidate_page);
  assert.equal(field(n, 'hva_start'), BigInt(UA + 0x1234 * 4096));
  assert.equal(fieldNum(n, 'gfn'), 0x1234);
  assert.equal(fieldNum(n, 'effect'), E.notifier_effect.invalidated);
  assert.equal(fieldNum(n, 'hptes'), 1);
  assert.equal(fieldNum(n, 'mmu_seq'), 1);
  const caused = ev.filter((e) => e.cause === n.seq);
  assert.deepEqual(caused.map((e) => e.kind), ['hpte_write', 'tlbie', 'rmap_change']);
  assert.equal(field(caused[1], 'rb'), 0x1234560005000n); // TV2 VA, see hcalls.test.ts
  assert.equal(fieldNum(caused[1], 'scope'), E.tlb_scope.global);
  assert.equal(fieldNum(caused[2], 'op'), E.rmap_op.unlink);
  ok(w);
  // Re-mapping the page (host fault-in) notifies nobody; the HPTE stays ABSENT until a fault.
  w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a2 });
  assert.equal(k.mmu.hpteBig(0x1a298)[0], 0x123456020n);
  ok(w);
});

test('unmap with two HPTEs on the chain empties it; range form bumps count then seq', () => {
  const w = setup();
  const k = w.kvm;
  hcallBig(k, w.vcpu, H_ENTER, [0n, 0x100n, 0x999000001n, 0x1234012n]);
  assert.equal(k.rmapBig(0x1234)! >> 32n, 0x101n);
  w.mm.unmap(UA + 0x1234 * 4096, { range: true });
  assert.equal(k.mmu.hpt[0x1a298 * 4 + 1] & 0x21, 0x20);
  assert.equal(k.mmu.hpt[0x100 * 4 + 1] & 0x21, 0x20);
  // range_start: count 1; range_end: seq 1, count 0. Chain empty: only REFERENCED left.
  assert.deepEqual([k.mmu_notifier_seq, k.mmu_notifier_count], [1, 0]);
  assert.equal(k.rmapBig(0x1234), 0x10000000000n);
  const ns = w.events().filter((e) => e.kind === 'notifier');
  assert.deepEqual(ns.map((e) => fieldNum(e, 'callback')), [E.notifier_kind.range_start, E.notifier_kind.range_end]);
  assert.equal(fieldNum(ns[0], 'hptes'), 2);
  assert.deepEqual([fieldNum(ns[0], 'mmu_count'), fieldNum(ns[1], 'mmu_seq'), fieldNum(ns[1], 'mmu_count')], [1, 1, 0]);
  ok(w);
});

test('mmu_notifier_retry: H_ENTER while an invalidation is in progress writes ABSENT', () => {
  const w = makeWorld();
  const k = w.kvm;
  w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
  const hva = UA + 0x1234 * 4096;
  w.notifier.invalidate_range_start(null, hva, hva + 4096);
  assert.equal(k.mmu_notifier_count, 1);
  const r = hcallBig(k, w.vcpu, H_ENTER, [0n, 0x1a298n, 0x123456001n, 0x1234192n]);
  assert.equal(r.ret, H_SUCCESS);
  // Host page present → pa = 0x7e5a1000 substituted, VALID chosen; then retry (count ≠ 0) →
  // ABSENT instead of VALID, not linked, no R/C filter: r = 0x7e5a1192.
  assert.deepEqual(k.mmu.hpteBig(0x1a298), [0x123456020n, 0x7e5a1192n]);
  assert.equal(k.rmapBig(0x1234), 0n);
  w.notifier.invalidate_range_end(null, hva, hva + 4096);
  assert.deepEqual([k.mmu_notifier_seq, k.mmu_notifier_count], [1, 0]);
  assert.throws(() => w.notifier.invalidate_range_end(null, hva, hva + 4096), /negative/);
  ok(w);
});

test('aging: clear_flush_young clears hardware R and REFERENCED, reports young once', () => {
  const w = setup();
  const k = w.kvm;
  const hva = UA + 0x1234 * 4096;
  k.mmu.hpt[0x1a298 * 4 + 3] |= 0x100; // hardware R
  // test_young: REFERENCED set by the link → young, no change.
  assert.equal(w.mm.testYoung(hva), true);
  // age: host pte young (fault-in) | KVM: REFERENCED cleared (ret 1), hw R cleared + global tlbie,
  // guest_rpte |= R.
  assert.equal(w.mm.age(hva), true);
  assert.equal(k.rmapBig(0x1234), 0x10001a298n); // PRESENT (1<<32) | index, REFERENCED gone
  assert.equal(k.mmu.hpteBig(0x1a298)[1], 0x7e5a1012n);
  assert.equal(k.mmu.guestRBig(0x1a298), 0x1234112n);
  assert.equal(k.mmu.isValid(0x1a298), true);
  const n = w.events().filter((e) => e.kind === 'notifier').pop()!;
  assert.equal(fieldNum(n, 'callback'), E.notifier_kind.clear_flush_young);
  assert.equal(fieldNum(n, 'effect'), E.notifier_effect.aged);
  assert.equal(fieldNum(n, 'hptes'), 1);
  const caused = w.events().filter((e) => e.cause === n.seq).map((e) => e.kind);
  assert.deepEqual(caused, ['rmap_change', 'hpte_write', 'tlbie']);
  // Nothing referenced since: not young, and test_young agrees.
  assert.equal(w.mm.testYoung(hva), false);
  assert.equal(w.mm.age(hva), false);
  ok(w);
});

test('write-protect downgrade invalidates; H_ENTER then maps read-only', () => {
  const w = setup();
  const k = w.kvm;
  const hva = UA + 0x1234 * 4096;
  w.mm.protect(hva, false);
  assert.equal(k.mmu.hpt[0x1a298 * 4 + 1] & 0x21, 0x20);
  hcallBig(k, w.vcpu, H_ENTER, [0n, 0x200n, 0x888000001n, 0x1234012n]);
  // writing && !pte_write → PP |= 3: 0x7e5a1013.
  assert.equal(k.mmu.hpteBig(0x200)[1], 0x7e5a1013n);
  ok(w);
});

test('change_pte (page replaced) unmaps like invalidate_page', () => {
  const w = setup();
  const k = w.kvm;
  const np = w.mm.replacePage(UA + 0x1234 * 4096);
  assert.notEqual(np, 0x7e5a1);
  assert.equal(k.mmu.hpt[0x1a298 * 4 + 1] & 0x21, 0x20);
  assert.equal(k.mmu_notifier_seq, 1);
  ok(w);
});

test('hugetlb backing: 4K and 16M guest pages over a 16M host page; range unmap drops both', () => {
  const w = makeWorld({ order: 18 });
  const k = w.kvm;
  const UA2 = 0x3fffc0000000; // 16M aligned
  w.mm.mmap(UA2, 0x2000000, { pageShift: 24 });
  // Slot 1: gpa 0x40000000 (gfn 0x40000), 0x2000 pages: both multiples of 4096 → 16M-aligned.
  assert.equal(kvm_set_memory_region(k, { slot: 1, guest_phys_addr: 0x40000000, memory_size: 0x2000000, userspace_addr: UA2 }), 0);
  w.mm.map(UA2 + 0x1000000, { pfn: 0x20000 }); // second huge page, frames 0x20000..0x20fff
  // 4K page at gpa 0x41234000: hva UA2 + 0x1234000 lies in that huge page; pte_size 16M > 4K →
  // pa = 0x20000000 | (gpa & 0xffffff) = 0x20234000; hw r = 0x20234192 with C stripped.
  assert.equal(hcallBig(k, w.vcpu, H_ENTER, [0n, 0x10n, 0x123000001n, 0x41234192n]).ret, H_SUCCESS);
  assert.equal(k.mmu.hpteBig(0x10)[1], 0x20234112n);
  // 16M page (L, LP bits zero) at gpa 0x41000000: psize = pte_size → pa = 0x20000000; chained on
  // the base gfn 0x41000.
  assert.equal(hcallBig(k, w.vcpu, H_ENTER, [0n, 0x18n, 0x456000005n, 0x41000192n]).ret, H_SUCCESS);
  assert.equal(k.mmu.hpteBig(0x18)[1], 0x20000112n);
  assert.equal(k.rmapBig(0x41000), 0x10100000018n);
  ok(w);
  // Tearing down a huge page uses invalidate_range_start/end over its 4096 small-page steps.
  w.mm.unmap(UA2 + 0x1000000);
  assert.equal(k.mmu.hpt[0x10 * 4 + 1] & 0x21, 0x20);
  assert.equal(k.mmu.hpt[0x18 * 4 + 1] & 0x21, 0x20);
  const n = w.events().filter((e) => e.kind === 'notifier');
  assert.equal(fieldNum(n[0], 'callback'), E.notifier_kind.range_start);
  assert.equal(fieldNum(n[0], 'hptes'), 2);
  ok(w);
});

test('J20 audit hook: a fault commit over a changed HPTE is reported', () => {
  const w = setup();
  const k = w.kvm;
  const snap = new Uint32Array(6);
  const p = 0x1a298 * 4;
  snap.set([k.mmu.hpt[p], k.mmu.hpt[p + 1], k.mmu.hpt[p + 2], k.mmu.hpt[p + 3], k.mmu.revGuestR[0x1a298 * 2], k.mmu.revGuestR[0x1a298 * 2 + 1]]);
  w.audit.opBegin(k, 0, null);
  w.audit.faultCommit(k, 0x1a298, snap, true); // unchanged: fine
  assert.equal(w.audit.violation, null);
  w.mm.unmap(UA + 0x1234 * 4096); // HPTE made ABSENT under the fault's feet
  w.audit.opBegin(k, 0, null);
  w.audit.faultCommit(k, 0x1a298, snap, true);
  const viol = w.audit.violation as { code: string } | null;
  assert.equal(viol?.code, 'j20_fault_revalidate');
});
