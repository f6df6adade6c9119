// Seeded random hcalls interleaved with host memory operations: the model never throws, always
// answers with a legal H_* code, and keeps every implemented invariant (kernel-model §J).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  H_BULK_REMOVE,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_ENTER,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PROTECT,
  H_PTEG_FULL,
  H_READ,
  H_REMOVE,
  H_SUCCESS,
  H_TOO_HARD,
} from '../../src/arch/index.js';
import { Prng } from '../../src/base/prng.js';
import { PTE_PRESENT } from '../../src/host/mm.js';
import { kvmppc_hcall, newHcallRegs } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import type { KernelVersion } from '../../src/kvm/kvm.js';
import { makeWorld, UA } from './helpers.js';

const LEGAL = new Set([H_SUCCESS, H_PARAMETER, H_NOT_FOUND, H_PTEG_FULL, H_TOO_HARD]);
const SLOT_PAGES = 512;
const CALLS = 100_000;
const CHECK_EVERY = 1000;

function run(seed: number, kernel: KernelVersion, calls: number): { counts: Map<number, number>; ops: number } {
  const w = makeWorld({ order: 18, npages: SLOT_PAGES, physPages: 1 << 16, record: false, kernel, seed });
  const k = w.kvm;
  const mm = w.mm;
  const rng = new Prng(seed);
  const regs = newHcallRegs();
  const counts = new Map<number, number>();
  // Half of guest RAM is present in the host at the start.
  for (let g = 0; g < SLOT_PAGES; g += 2) mm.map(UA + g * 4096, { writable: rng.chance(0.8) });
  let rangeOpen = -1; // hva of an invalidate_range_start not yet ended
  let rangeLeft = 0;

  const idx = (): number => (rng.chance(0.9) ? rng.below(512) : rng.chance(0.95) ? rng.below(k.mmu.npte) : k.mmu.npte + rng.below(64));
  const setIdx = (reg: number, i: number): void => {
    if (i >= k.mmu.npte && rng.chance(0.3)) {
      regs[reg * 2] = rng.u32(); // a huge (or negative) index
      regs[reg * 2 + 1] = i;
    } else {
      regs[reg * 2] = 0;
      regs[reg * 2 + 1] = i;
    }
  };
  const curV = (i: number, reg: number): void => {
    // avpn/andcond operand: often the entry's own dword 0 & ~0x7f, sometimes random.
    if (i < k.mmu.npte && rng.chance(0.6)) {
      regs[reg * 2] = k.mmu.hpt[i * 4];
      regs[reg * 2 + 1] = (k.mmu.hpt[i * 4 + 1] & ~0x7f) >>> 0;
    } else {
      regs[reg * 2] = rng.chance(0.5) ? 0 : rng.u32();
      regs[reg * 2 + 1] = rng.chance(0.3) ? rng.below(2) : rng.u32();
    }
  };

  for (let n = 0; n < calls; n++) {
    // Host activity now and then.
    if (rng.chance(0.03)) {
      const g = rng.below(SLOT_PAGES);
      const hva = UA + g * 4096;
      const present = (mm.pteFlags(hva) & PTE_PRESENT) !== 0;
      const op = rng.below(7);
      if (!present) mm.map(hva, { writable: rng.chance(0.8) });
      else if (op === 0) mm.unmap(hva);
      else if (op === 1) mm.unmap(hva, { range: true });
      else if (op === 2) mm.swapOut(hva);
      else if (op === 3) mm.protect(hva, rng.chance(0.5));
      else if (op === 4) mm.age(hva);
      else if (op === 5) mm.replacePage(hva);
      else mm.testYoung(hva);
    }
    if (rangeOpen < 0 && rng.chance(0.002)) {
      rangeOpen = UA + rng.below(SLOT_PAGES) * 4096;
      rangeLeft = 1 + rng.below(20);
      w.notifier.invalidate_range_start(null, rangeOpen, rangeOpen + 4096);
    } else if (rangeOpen >= 0 && --rangeLeft <= 0) {
      w.notifier.invalidate_range_end(null, rangeOpen, rangeOpen + 4096);
      rangeOpen = -1;
    }

    // One random hcall.
    for (let q = 0; q < 16; q++) regs[q] = rng.chance(0.5) ? 0 : rng.u32();
    const pick = rng.below(100);
    let nr: number;
    if (pick < 40) {
      nr = H_ENTER;
      regs[0] = rng.chance(0.25) ? 0x80 : 0; // H_EXACT
      regs[1] = rng.chance(0.9) ? 0 : rng.u32();
      setIdx(1, idx());
      const large = rng.chance(0.05);
      regs[4] = rng.chance(0.9) ? 0 : rng.u32();
      regs[5] = (((rng.below(64) + 1) << 12) | (rng.u32() & 0xf80) | (large ? 0x4 : 0) | rng.below(8) | (rng.chance(0.1) ? 0x60 : 0)) >>> 0;
      const gfn = rng.chance(0.85) ? rng.below(SLOT_PAGES) : SLOT_PAGES + rng.below(4096);
      const lp = large ? [0x1000, 0, 0x3000][rng.below(3)] : 0;
      const wimg = rng.chance(0.7) ? 0x10 : rng.u32() & 0x78;
      regs[6] = rng.chance(0.9) ? 0 : rng.u32() & 0xb0000000;
      regs[7] = ((gfn << 12) | lp | (rng.u32() & 0xf87) | wimg) >>> 0;
    } else if (pick < 60) {
      nr = H_REMOVE;
      const i = idx();
      regs[0] = 0;
      regs[1] = [0, 0x80000000, 0x40000000, 0x10000000, 0xd0000000][rng.below(5)];
      setIdx(1, i);
      curV(i, 2);
    } else if (pick < 70) {
      nr = H_PROTECT;
      const i = idx();
      regs[0] = 0;
      regs[1] = ((rng.u32() & 0x3f07) | (rng.chance(0.3) ? 0x80000000 : 0) | (rng.chance(0.3) ? 0x10000000 : 0)) >>> 0;
      setIdx(1, i);
      curV(i, 2);
    } else if (pick < 80) {
      nr = H_READ;
      regs[0] = rng.chance(0.3) ? 0x20 : 0;
      regs[1] = 0;
      setIdx(1, idx());
    } else if (pick < 92) {
      nr = H_BULK_REMOVE;
      for (let j = 0; j < 4; j++) {
        const i = rng.chance(0.95) ? idx() : rng.u32();
        const type = rng.chance(0.75) ? 1 : rng.chance(0.5) ? 3 : rng.below(4);
        const fl = rng.chance(0.9) ? rng.below(3) : 3;
        regs[j * 4] = (((type << 6) | fl) << 24) >>> 0;
        regs[j * 4 + 1] = i >>> 0;
        curV(i, j * 2 + 1);
      }
    } else if (pick < 97) {
      nr = rng.chance(0.5) ? H_CLEAR_REF : H_CLEAR_MOD;
      regs[0] = 0;
      regs[1] = 0;
      setIdx(1, idx());
    } else {
      nr = rng.below(0x400) & ~3; // anything else: not completed here
    }
    // Several vcpus online at times (tlbie vs tlbiel).
    k.online_vcpus = rng.chance(0.8) ? 1 : 4;
    const ret = kvmppc_hcall(k, w.vcpu, nr, regs);
    if (!LEGAL.has(ret)) assert.fail(`call ${n}: hcall 0x${nr.toString(16)} returned ${ret}`);
    counts.set(ret, (counts.get(ret) ?? 0) + 1);
    if (n % CHECK_EVERY === CHECK_EVERY - 1) {
      const viol = checkInvariants(k, w.audit, w.checker);
      if (viol !== null) assert.fail(`after call ${n} (hcall 0x${nr.toString(16)}): ${viol.code}: ${viol.message} ${JSON.stringify(viol.detail)}`);
    }
  }
  if (rangeOpen >= 0) w.notifier.invalidate_range_end(null, rangeOpen, rangeOpen + 4096);
  assert.equal(checkInvariants(k, w.audit, w.checker), null);
  assert.equal(k.mmu_notifier_count, 0);
  if (process.env.FUZZ_DEBUG) {
    let valid = 0, absent = 0;
    for (let i = 0; i < k.mmu.npte; i++) { const v = k.mmu.hpt[i * 4 + 1]; if (v & 1) valid++; else if (v & 0x20) absent++; }
    console.log({ kernel, valid, absent, seq: k.mmu_notifier_seq });
  }
  return { counts, ops: w.audit.ops };
}

test(`fuzz: ${CALLS} seeded random hcalls (K34, order 18) keep every invariant`, () => {
  const { counts, ops } = run(20240611, '3.4', CALLS);
  // The mix really exercised success and every failure code.
  for (const rc of [H_SUCCESS, H_PARAMETER, H_NOT_FOUND, H_PTEG_FULL, H_TOO_HARD]) assert.ok((counts.get(rc) ?? 0) > 0, `no ${rc}`);
  assert.ok(ops >= CALLS);
  if (process.env.FUZZ_DEBUG) console.log(Object.fromEntries(counts), ops);
});

test('fuzz: 30000 random hcalls with kernel 4.20 (H_CLEAR_REF/MOD in kernel)', () => {
  const { counts } = run(77, '4.20', 30_000);
  assert.ok((counts.get(H_SUCCESS) ?? 0) > 0);
});
