// Seeded random hcalls on a PPC970 VM (pinned pages, no notifiers) interleaved with host memory
// operations, including between the real-mode H_TOO_HARD of an H_ENTER and its virtual-mode
// completion (the window of the full exit). Every implemented invariant holds throughout, in
// particular §J 12 (pinned mode) and J 24; after destroy no pin reference is left.

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
import { isVirtmodePending, kvmppc_hcall, kvmppc_hcall_virtmode, newHcallRegs } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { makeWorld, UA } from './helpers.js';

const LEGAL = new Set([H_SUCCESS, H_PARAMETER, H_NOT_FOUND, H_PTEG_FULL, H_TOO_HARD]);
const SLOT_PAGES = 512;
const CALLS = 20_000;
const CHECK_EVERY = 500;

test(`fuzz ppc970: ${CALLS} seeded hcalls with the pin path keep every invariant; destroy unpins everything`, () => {
  const seed = 970;
  const w = makeWorld({ cpu: 'ppc970', order: 18, npages: SLOT_PAGES, physPages: 1 << 16, record: false, seed });
  const k = w.kvm;
  const mm = w.mm;
  const rng = new Prng(seed);
  const regs = newHcallRegs();
  const counts = new Map<number, number>();
  let virtual = 0;
  for (let g = 0; g < SLOT_PAGES; g += 2) mm.map(UA + g * 4096, { writable: rng.chance(0.8) });
  let rangeOpen = -1;
  let rangeLeft = 0;

  const hostOp = (): void => {
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
  };
  const idx = (): number => (rng.chance(0.9) ? rng.below(512) : rng.chance(0.95) ? rng.below(k.mmu.npte) : k.mmu.npte + rng.below(64));

  for (let n = 0; n < CALLS; n++) {
    if (rng.chance(0.03)) hostOp();
    if (rangeOpen < 0 && rng.chance(0.002)) {
      rangeOpen = UA + rng.below(SLOT_PAGES) * 4096;
      rangeLeft = 1 + rng.below(20);
      w.notifier.invalidate_range_start(null, rangeOpen, rangeOpen + 4096);
    } else if (rangeOpen >= 0 && --rangeLeft <= 0) {
      w.notifier.invalidate_range_end(null, rangeOpen, rangeOpen + 4096);
      rangeOpen = -1;
    }
    for (let q = 0; q < 16; q++) regs[q] = rng.chance(0.5) ? 0 : rng.u32();
    const pick = rng.below(100);
    let nr: number;
    if (pick < 45) {
      nr = H_ENTER;
      regs[0] = rng.chance(0.25) ? 0x80 : 0;
      regs[1] = 0;
      regs[2] = 0;
      regs[3] = idx();
      const large = rng.chance(0.05);
      regs[4] = rng.chance(0.9) ? 0 : rng.u32();
      regs[5] = (((rng.below(64) + 1) << 12) | (rng.u32() & 0xf80) | (large ? 0x4 : 0) | rng.below(8) | (rng.chance(0.1) ? 0x60 : 0)) >>> 0;
      const gfn = rng.chance(0.85) ? rng.below(SLOT_PAGES) : SLOT_PAGES + rng.below(4096);
      const wimg = rng.chance(0.7) ? 0x10 : rng.u32() & 0x78;
      regs[6] = 0;
      regs[7] = ((gfn << 12) | (rng.u32() & 0xf87) | wimg) >>> 0;
    } else if (pick < 62) {
      nr = H_REMOVE;
      const i = idx();
      regs[0] = 0;
      regs[1] = [0, 0x80000000, 0x40000000, 0x10000000][rng.below(4)];
      regs[2] = 0;
      regs[3] = i;
      if (i < k.mmu.npte && rng.chance(0.6)) {
        regs[4] = k.mmu.hpt[i * 4];
        regs[5] = (k.mmu.hpt[i * 4 + 1] & ~0x7f) >>> 0;
      }
    } else if (pick < 72) {
      nr = H_PROTECT;
      const i = idx();
      regs[0] = 0;
      regs[1] = (rng.u32() & 0x3f07) >>> 0;
      regs[2] = 0;
      regs[3] = i;
    } else if (pick < 82) {
      nr = H_READ;
      regs[0] = rng.chance(0.3) ? 0x20 : 0;
      regs[1] = 0;
      regs[2] = 0;
      regs[3] = idx();
    } else if (pick < 94) {
      nr = H_BULK_REMOVE;
      for (let j = 0; j < 4; j++) {
        const i = idx();
        const type = rng.chance(0.8) ? 1 : 3;
        regs[j * 4] = (((type << 6) | rng.below(3)) << 24) >>> 0;
        regs[j * 4 + 1] = i >>> 0;
        if (i < k.mmu.npte) {
          regs[j * 4 + 2] = k.mmu.hpt[i * 4];
          regs[j * 4 + 3] = (k.mmu.hpt[i * 4 + 1] & ~0x7f) >>> 0;
        }
      }
    } else {
      nr = rng.chance(0.5) ? (rng.chance(0.5) ? H_CLEAR_REF : H_CLEAR_MOD) : rng.below(0x400) & ~3;
    }
    k.online_vcpus = rng.chance(0.8) ? 1 : 4;
    let ret = kvmppc_hcall(k, w.vcpu, nr, regs);
    if (ret === H_TOO_HARD && isVirtmodePending(k)) {
      // The full exit: the host may run in between (reclaim, the VMM touching memory).
      if (rng.chance(0.2)) hostOp();
      ret = kvmppc_hcall_virtmode(k, w.vcpu, nr, regs);
      virtual++;
    }
    if (!LEGAL.has(ret)) assert.fail(`call ${n}: hcall 0x${nr.toString(16)} returned ${ret}`);
    if (nr === H_ENTER && ret === H_TOO_HARD) assert.fail(`call ${n}: H_ENTER left H_TOO_HARD after virtual mode`);
    counts.set(ret, (counts.get(ret) ?? 0) + 1);
    if (n % CHECK_EVERY === CHECK_EVERY - 1) {
      const viol = checkInvariants(k, w.audit, w.checker);
      if (viol !== null) assert.fail(`after call ${n} (hcall 0x${nr.toString(16)}): ${viol.code}: ${viol.message} ${JSON.stringify(viol.detail)}`);
    }
  }
  if (rangeOpen >= 0) w.notifier.invalidate_range_end(null, rangeOpen, rangeOpen + 4096);
  assert.equal(checkInvariants(k, w.audit, w.checker), null);
  // The mix exercised the pin path and the failures.
  assert.ok(virtual > 100, `only ${virtual} virtual-mode completions`);
  for (const rc of [H_SUCCESS, H_PARAMETER, H_NOT_FOUND, H_PTEG_FULL]) assert.ok((counts.get(rc) ?? 0) > 0, `no ${rc}`);
  // No ABSENT entry anywhere (H_ENTER never creates one; nothing else does on PPC970).
  for (let i = 0; i < k.mmu.npte; i++) assert.equal(k.mmu.hpt[i * 4 + 1] & 0x20, 0, `ABSENT at ${i}`);
  assert.ok(mm.phys.pinnedFrames > 0);
  k.destroy();
  assert.equal(mm.phys.pinnedFrames, 0);
  assert.equal(mm.phys.pendingFreeBlocks, 0);
});
