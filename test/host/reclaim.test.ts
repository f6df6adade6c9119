// Host memory pressure and second-chance reclaim (src/host/reclaim.ts): KVM's aging keeps pages the
// guest references, swapped guest pages lose their HPTEs through the notifier (POWER7) with R/C
// harvested, pinned pages (PPC970) are never swapped. Expected values are derived in the comments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H_ENTER, H_SUCCESS } from '../../src/arch/index.js';
import { Prng } from '../../src/base/prng.js';
import { Reclaim } from '../../src/host/reclaim.js';
import { PTE_PRESENT, PTE_SWAP } from '../../src/host/mm.js';
import { E } from '../../src/trace/kinds.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants, mmuStateDigest } from '../../src/kvm/hash/invariants.js';
import { makeWorld, UA, type World } from '../kvm/helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

function ok(w: World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

function enter(w: World, index: number, gfn: number, ptelLow: number): void {
  // pteh: a distinct AVPN per index, VALID; ptel: gpa | low bits.
  const r = hcallBig(w.kvm, w.vcpu, H_ENTER, [0x80n << 32n /* H_EXACT */, BigInt(index), BigInt(0x100000 + index) << 12n | 1n, BigInt(gfn * 4096 + ptelLow)]);
  assert.equal(r.ret, H_SUCCESS);
}

test('POWER7 clock reclaim: KVM-referenced page gets a second chance; unreferenced guest pages are swapped, HPTE ABSENT with C harvested', () => {
  const w = makeWorld({ order: 18, npages: 4, physPages: 64 });
  const k = w.kvm;
  for (let g = 0; g < 4; g++) w.mm.map(UA + g * 4096, { pfn: 10 + g });
  // HPTE 0 → gfn 0, HPTE 8 → gfn 1; guest ptel 0x012 (M, PP 2, no R/C).
  enter(w, 0, 0, 0x012);
  enter(w, 8, 1, 0x012);
  // An aging pass first: every host PTE was young (map); KVM clears rmap REFERENCED (set by the link).
  for (let g = 0; g < 4; g++) assert.equal(w.mm.age(UA + g * 4096), true);
  // The guest now stores to page 0 (hardware C only) and loads+stores page 1 (R and C).
  k.mmu.hpt[0 * 4 + 3] |= 0x80;
  k.mmu.hpt[8 * 4 + 3] |= 0x180;
  const rc = new Reclaim({ mm: w.mm, phys: w.phys, rng: new Prng(1), lowWatermarkPages: 0, highWatermarkPages: 0 });
  const free0 = w.phys.freePages;
  const out = rc.shrink(free0 + 2);
  // Hand 0: page 0 — host PTE old, rmap REFERENCED clear, hardware R clear → swapped.
  // Hand 1: page 1 — kvm_age_hva finds hardware R → young (R moved to guest_rpte, cleared in hw).
  // Hand 2: page 2 — old, no HPTE → swapped; two frames freed → stop.
  assert.equal(out, 2);
  assert.equal(rc.counters.swapoutsGuest, 2);
  assert.equal(rc.counters.secondChances, 1);
  assert.equal(rc.counters.scanned, 3);
  assert.equal(w.phys.freePages, free0 + 2);
  assert.equal(w.mm.pteFlags(UA) & PTE_SWAP, PTE_SWAP);
  assert.equal(w.mm.pteFlags(UA + 0x1000) & PTE_PRESENT, PTE_PRESENT);
  assert.equal(w.mm.pteFlags(UA + 0x2000) & PTE_SWAP, PTE_SWAP);
  assert.equal(w.mm.pteFlags(UA + 0x3000) & PTE_PRESENT, PTE_PRESENT);
  // HPTE 0 via invalidate_page → kvm_unmap_rmapp: v = (0x100000001 | ABSENT) & ~VALID; C harvested:
  // guest_rpte 0x012 | 0x80 = 0x092; rmap(0): chain emptied (PRESENT, INDEX cleared) | C << 32.
  assert.equal(k.mmu.hpteBig(0)[0], (0x100000n << 12n) | 0x20n);
  assert.equal(k.mmu.guestRBig(0), 0x092n);
  assert.equal(k.rmapBig(0), 0x8000000000n);
  // HPTE 8 stays VALID: hardware R cleared by aging, C kept; guest_rpte 0x1012 | R = 0x1112.
  assert.equal(k.mmu.isValid(8), true);
  assert.equal(k.mmu.hpteBig(8)[1] & 0x180n, 0x80n);
  assert.equal(k.mmu.guestRBig(8), 0x1112n);
  const ev = w.events();
  const so = ev.filter((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.swap_out);
  assert.deepEqual(so.map((e) => field(e, 'hva')), [BigInt(UA), BigInt(UA + 0x2000)]);
  const inv = ev.find((e) => e.kind === 'notifier' && e.cause === so[0].seq)!;
  assert.equal(fieldNum(inv, 'callback'), E.notifier_kind.invalidate_page);
  assert.equal(fieldNum(inv, 'effect'), E.notifier_effect.invalidated);
  ok(w);
  // The VMM touches page 0 again: swap-in (a new frame), recorded as swap_in.
  w.mm.map(UA);
  assert.equal(w.mm.swapIns, 1);
  assert.equal(fieldNum(w.events().at(-1)!, 'op'), E.host_page_op.swap_in);
  ok(w);
});

test('PPC970: reclaim never swaps a pinned page; aging notifiers are noop_pinned; the HPT is untouched', () => {
  const w = makeWorld({ cpu: 'ppc970', order: 18, npages: 4, physPages: 64 });
  const k = w.kvm;
  for (let g = 0; g < 4; g++) w.mm.map(UA + g * 4096, { pfn: 10 + g });
  // Pages 0..2 pinned by H_ENTER's virtual-mode path; page 3 not.
  enter(w, 0, 0, 0x012);
  enter(w, 8, 1, 0x012);
  enter(w, 16, 2, 0x012);
  const digest = mmuStateDigest(k);
  const rc = new Reclaim({ mm: w.mm, phys: w.phys, rng: new Prng(1), lowWatermarkPages: 0, highWatermarkPages: 0 });
  const nEv = w.events().length;
  const out = rc.shrink(w.phys.freePages + 2);
  // Turn 1: all four host PTEs young (map / get_user_pages) → 4 second chances.
  // Turn 2: pages 0..2 refused (pinned) → pinnedSkipped 3; page 3 swapped. 2 × 4 visits → stop.
  assert.equal(out, 1);
  assert.deepEqual(
    [rc.counters.secondChances, rc.counters.pinnedSkipped, rc.counters.swapoutsGuest, rc.counters.scanned],
    [4, 3, 1, 8],
  );
  for (let g = 0; g < 3; g++) {
    assert.equal(w.mm.pfnOf(UA + g * 4096), 10 + g);
    assert.equal(w.phys.pinCount(10 + g), 1);
  }
  assert.equal(w.mm.pteFlags(UA + 0x3000) & PTE_SWAP, PTE_SWAP);
  assert.equal(mmuStateDigest(k), digest);
  const ns = w.events().slice(nEv).filter((e) => e.kind === 'notifier');
  assert.ok(ns.length > 0);
  for (const n of ns) assert.equal(fieldNum(n, 'effect'), E.notifier_effect.noop_pinned);
  ok(w);
});

function pressureRun(cpu: 'power7' | 'ppc970', seed: number, steps: number) {
  const pages = 256;
  const w = makeWorld({ cpu, order: 18, npages: pages, physPages: 1024, record: true, seed });
  const k = w.kvm;
  const rng = new Prng(seed);
  const rc = new Reclaim({
    mm: w.mm,
    phys: w.phys,
    rng: rng.fork(),
    lowWatermarkPages: 64,
    highWatermarkPages: 128,
    otherAllocPerStep: 24,
    otherFreePerStep: 8,
    otherMaxPages: 900,
    otherTouchProbability: 0.05,
  });
  for (let g = 0; g < pages; g++) w.mm.map(UA + g * 4096);
  let idx = 0;
  for (let s = 0; s < steps; s++) {
    rc.pressure(s);
    // The guest maps a few pages (a VMM/KVM fault-in path brings swapped pages back first on POWER7).
    for (let q = 0; q < 2; q++) {
      const g = rng.below(pages);
      const hva = UA + g * 4096;
      if (cpu === 'power7' && (w.mm.pteFlags(hva) & PTE_PRESENT) === 0) w.mm.map(hva);
      const r = hcallBig(k, w.vcpu, H_ENTER, [0n, BigInt(idx++ % k.mmu.npte), (BigInt(0x200000 + g) << 12n) | 1n, BigInt(g * 4096 + 0x012)]);
      assert.ok(r.ret === H_SUCCESS || r.ret === -6 /* H_PTEG_FULL */, `H_ENTER ${r.ret}`);
      // The guest references some of its pages (hardware R).
      const i = rng.below(k.mmu.npte);
      if (k.mmu.isValid(i)) k.mmu.hpt[i * 4 + 3] |= 0x100;
    }
    if (s % 50 === 49) {
      const v = checkInvariants(k, w.audit, w.checker);
      assert.equal(v, null, v ? `${v.code} ${v.message}` : '');
    }
  }
  return { w, rc };
}

test('POWER7 under pressure: other processes force reclaim of guest and other pages; invariants hold; deterministic', () => {
  const a = pressureRun('power7', 42, 400);
  const c = a.rc.counters;
  assert.ok(c.kswapdRuns > 0, 'kswapd never ran');
  assert.ok(c.swapoutsGuest > 0, 'no guest page swapped');
  assert.ok(c.swapoutsOther > 0, 'no other page swapped');
  assert.equal(c.pinnedSkipped, 0);
  // Every guest swap-out made that page's HPTEs ABSENT via the notifier (J8 would fail otherwise).
  ok(a.w);
  const ev = a.w.events();
  const invalidated = ev.filter((e) => e.kind === 'notifier' && fieldNum(e, 'effect') === E.notifier_effect.invalidated);
  assert.ok(invalidated.length > 0);
  // Same seed → same counters and same event stream length.
  const b = pressureRun('power7', 42, 400);
  assert.deepEqual(b.rc.counters, c);
  assert.equal(b.w.events().length, ev.length);
});

test('PPC970 under pressure: pinned guest pages are skipped, never swapped; other pages and unpinned guest pages are', () => {
  const { w, rc } = pressureRun('ppc970', 7, 400);
  const c = rc.counters;
  assert.ok(c.kswapdRuns > 0);
  assert.ok(c.pinnedSkipped > 0, 'no pinned page was ever a candidate');
  assert.ok(c.swapoutsGuest > 0 && c.swapoutsOther > 0, JSON.stringify(c));
  if (process.env.RECLAIM_DEBUG) console.log(c);
  // Walking the trace: no swap_out of a VMM page names a frame pinned (host_page pin) before it.
  const pinnedNow = new Set<number>();
  let swappedGuest = 0;
  for (const e of w.events()) {
    if (e.kind !== 'host_page') continue;
    const op = fieldNum(e, 'op');
    const pfn = Number(field(e, 'pfn'));
    if (op === E.host_page_op.pin) pinnedNow.add(pfn);
    else if (op === E.host_page_op.swap_out && fieldNum(e, 'owner') === 0) {
      swappedGuest++;
      assert.ok(!pinnedNow.has(pfn), `pinned pfn ${pfn} swapped out`);
    }
  }
  assert.equal(swappedGuest, c.swapoutsGuest);
  // Every frame slot_phys holds a reference on is still pinned.
  const sp = w.kvm.slot_phys[0]!;
  const pinned = new Set<number>();
  for (let j = 0; j < sp.npages; j++) if ((sp.flags[j] & 0x80) !== 0) pinned.add(sp.pfn[j]);
  assert.ok(pinned.size > 0);
  for (const pfn of pinned) assert.ok(w.phys.pinCount(pfn) > 0);
  ok(w);
});
