// The per-core TLB (src/hw/tlb.ts): set indexing derived from VA and from a tlbie RB, invalidation
// by KVM's tlbie (global / local), LPID flushes, and the stale-translation detector (§J 17/26).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  compute_tlbie_rb,
  DSISR_NOHPTE,
  H_PROTECT,
  H_REMOVE,
  H_SUCCESS,
  hpte_search_key,
  HpteSearchKey,
} from '../../src/arch/index.js';
import { ACCESS_LOAD, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import { ANOMALY_STALE_TLB, Tlb, tlb_set_of_rb, tlb_set_of_va } from '../../src/hw/tlb.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { field } from '../../src/trace/event.js';
import { hEnter, hvaOf, hwWorld, TV1_EA, TV1_PRIMARY_INDEX } from './hwworld.js';

const H_EXACT = 0x0000008000000000n;

test('set index from VA equals set index from compute_tlbie_rb of the HPTE (4K/64K/16M, 256M/1T, H=0/1)', () => {
  // Rule (kernel-model §A.4): compute_tlbie_rb puts VA bits 12.. (4K), 16.. (64K) or 24.. (16M) at
  // the same RB bit positions, so (VA >> pshift) & 127 can be read back from RB.
  const key = new HpteSearchKey();
  const out = new Uint32Array(2);
  const mask = 0x1ffff; // order 24
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffffff }), // VSID (24 bits: fits both segment forms)
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(12, 16, 24),
      fc.boolean(),
      fc.boolean(),
      (vsid, ea_lo, pshift, is1T, secondary) => {
        // slb_v: 256M → VSID << 12; 1T → B_1T | VSID << 24. L||LP for 64K = 0x110, 16M = 0x100.
        const llp = pshift === 12 ? 0 : pshift === 16 ? 0x110 : 0x100;
        const vBig = is1T ? (1n << 62n) | (BigInt(vsid) << 24n) : BigInt(vsid) << 12n;
        const slb_hi = Number(vBig >> 32n);
        const slb_lo = Number(vBig & 0xffffffffn) | llp;
        const ea = is1T ? ea_lo : ea_lo & 0x0fffffff;
        hpte_search_key(slb_hi, slb_lo, 0, ea, key);
        const pteg = secondary ? mask - (key.hash % 0x1_0000_0000 & mask) : key.hash % 0x1_0000_0000 & mask;
        const v_lo = (key.valLo | (secondary ? 2 : 0) | 1) >>> 0;
        // r: LP 0x1000 for 64K pages (kernel-model §A.3), none for 4K/16M.
        const r_lo = pshift === 16 ? 0x1000 : 0;
        compute_tlbie_rb(key.valHi, v_lo, r_lo, pteg * 8 + 5, true, out, 0);
        return tlb_set_of_rb(out[1], 128) === tlb_set_of_va(slb_hi, slb_lo, ea, pshift, 128);
      },
    ),
    { numRuns: 500 },
  );
});

test('IS=0b10 set flushes: RB 0x800 + k·0x1000 names set k; 128 of them flush the LPID', () => {
  assert.equal(tlb_set_of_rb(0x800 + 5 * 0x1000, 128), 5);
  const t = new Tlb(0);
  t.fill(3, 5, 0, 0x1000, 1, 12, 0, 0, 1, 0, 0, 0, 0x5000);
  t.fill(4, 5, 0, 0x1000, 1, 12, 0, 0, 1, 0, 0, 0, 0x5000);
  assert.equal(t.tlbiel_set(3, 5), 1);
  assert.equal(t.count(3), 0);
  assert.equal(t.count(4), 1); // other LPID untouched
  assert.equal(t.flush_lpid(4), 1);
});

test('stale TLB: an HPTE made invalid WITHOUT a tlbie is counted on the next use', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.tlbs[0].count(w.kvm.lpid), 1);
  // A buggy path: clear VALID in the HPT directly, no tlbie.
  w.kvm.mmu.hpt[TV1_PRIMARY_INDEX * 4 + 1] &= ~1;
  const n = w.events().length;
  // The TLB still holds the translation: using it is the error. The model counts it, drops the
  // entry and re-walks, which now misses (NOHPTE → HDSI).
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.v.hdsisr, DSISR_NOHPTE);
  assert.equal(w.tlbs[0].counters.stale_tlb, 1);
  assert.equal(w.shoot.stale_tlb, 1);
  const an = w.events().slice(n).filter((e) => e.kind === 'anomaly');
  assert.equal(an.length, 1);
  assert.equal(field(an[0], 'code'), BigInt(ANOMALY_STALE_TLB));
  assert.equal(field(an[0], 'severity'), 2n);
  assert.equal(field(an[0], 'a'), BigInt(TV1_PRIMARY_INDEX));
});

test('stale TLB: H_REMOVE with its tlbie leaves nothing stale, on every core', () => {
  const w = hwWorld();
  w.kvm.online_vcpus = 2; // so H_REMOVE uses the global tlbie
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx1, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.tlbs[0].count(w.kvm.lpid) + w.tlbs[1].count(w.kvm.lpid), 2);
  const r = hcallBig(w.kvm, w.v, H_REMOVE, [0n, BigInt(TV1_PRIMARY_INDEX), 0n]);
  assert.equal(r.ret, H_SUCCESS);
  // The global tlbie (RB = compute_tlbie_rb(v, r, i), same as at fill) dropped both entries.
  assert.equal(w.tlbs[0].count(w.kvm.lpid), 0);
  assert.equal(w.tlbs[1].count(w.kvm.lpid), 0);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx1, w.v, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.shoot.stale_tlb, 0);
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
});

test('J26: a tlbiel on core 0 leaves core 1 stale until the entry-time LPID flush', () => {
  const w = hwWorld();
  // One online vcpu → K34 H_PROTECT uses tlbiel (local) on the issuing core (core 0).
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  // The vcpu ran on core 1 earlier (its TLB holds the translation), now runs on core 0.
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx1, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  // H_PROTECT flags: PP = 3 (read-only): flags low bits = PP.
  const r = hcallBig(w.kvm, w.v, H_PROTECT, [3n, BigInt(TV1_PRIMARY_INDEX), 0n]);
  assert.equal(r.ret, H_SUCCESS);
  assert.equal(w.tlbs[1].count(w.kvm.lpid), 1); // core 1 never saw the tlbiel
  // Without the K34 last_cpu flush, the vcpu moving back to core 1 would use the old (writable)
  // translation: detected.
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx1, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.tlbs[1].counters.stale_tlb, 1);
  // With the flush (what the machine does on entry when the pairing changed) nothing is stale.
  const x = hwWorld();
  x.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(x, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(ppc_hash64_handle_mmu_fault(x.ctx1, x.v, 0, TV1_EA, ACCESS_LOAD), 0);
  hcallBig(x.kvm, x.v, H_PROTECT, [3n, BigInt(TV1_PRIMARY_INDEX), 0n]);
  x.tlbs[1].flush_lpid(x.kvm.lpid);
  assert.equal(ppc_hash64_handle_mmu_fault(x.ctx1, x.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(x.tlbs[1].counters.stale_tlb, 0);
});
