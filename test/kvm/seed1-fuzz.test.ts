// Seeded random hcalls on a seed-1 ('3.3') VM interleaved with host memory operations on the
// pinned guest RAM (aging, write-protection, reclaim attempts, munmap) and vcpu-count changes.
// Every seed-1 invariant holds throughout (S1_NO_ABSENT, S1_PINNED, S1_NO_RMAP, S1_NO_NOTIFIER,
// S1_GUEST_VIEW, and J1/J2/J10/J11/J14/J17/J21/J22), no notifier/rmap event is ever recorded, and
// after destroy only the pins of re-registered chunks remain.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  H_BULK_REMOVE,
  H_ENTER,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PROTECT,
  H_PTEG_FULL,
  H_READ,
  H_REMOVE,
  H_SUCCESS,
} from '../../src/arch/index.js';
import { HostMm } from '../../src/host/mm.js';
import { PhysMem } from '../../src/host/physmem.js';
import { Prng } from '../../src/base/prng.js';
import { kvmppc_hcall, newHcallRegs } from '../../src/kvm/hcall.js';
import { checkInvariants, HvAudit, KvmInvariantChecker } from '../../src/kvm/hash/invariants.js';
import { kvm_create_vm } from '../../src/kvm/ops.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { KvmMmuNotifier } from '../../src/kvm/hash/mmu_notifier.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { MemorySink, UA } from './helpers.js';

const M16 = 0x1000000;
const CHUNKS = 4;
const CALLS = 24_000;
const CHECK_EVERY = 400;
const LEGAL = new Set([H_SUCCESS, H_PARAMETER, H_NOT_FOUND, H_PTEG_FULL]);

test(`fuzz 3.3: ${CALLS} seeded hcalls keep every seed-1 invariant; no notifier or rmap event; destroy unpins`, () => {
  const seed = 33;
  const sink = new MemorySink();
  const rec = new Recorder([sink], runInfo('power7', seed, {}));
  const phys = new PhysMem({ pageShift: 12, npages: 1 << 16, seed });
  const mm = new HostMm({ phys, rec });
  mm.mmap(UA, CHUNKS * M16, { pageShift: 24 });
  const k = kvm_create_vm({ mm, rec, hptOrder: 18, kernel: '3.3' });
  const notifier = KvmMmuNotifier.register(k);
  const audit = new HvAudit().attach(k);
  const checker = new KvmInvariantChecker(k);
  // Chunks 0..3 at gpa 0 (64 MiB, faulted in by the registration itself); ram_npages = 4.
  assert.equal(kvm_set_memory_region(k, { slot: 0, guest_phys_addr: 0, memory_size: CHUNKS * M16, userspace_addr: UA }), 0);
  assert.equal(notifier.registered, false);
  const pfns = Array.from(k.ram_pginfo!.pfn.subarray(0, CHUNKS));
  assert.ok(pfns.every((p) => p !== 0 && phys.pinCount(p) === 1));

  const rng = new Prng(seed);
  const regs = newHcallRegs();
  const vcpu = { vcpu_id: 0, core: 0 };
  const counts = new Map<string, number>();
  const bump = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
  // Recently used indexes (to aim H_REMOVE/H_PROTECT/H_READ at live entries).
  const recent: number[] = [];
  const window = 0x40; // entries 0..0x3f: 8 PTEGs, so PTEGs fill up and collide
  const idx = (): number => (rng.chance(0.9) ? rng.below(window) : rng.chance(0.9) ? rng.below(k.mmu.npte) : k.mmu.npte + rng.below(8));
  const pickLive = (): number => (recent.length > 0 && rng.chance(0.8) ? recent[rng.below(recent.length)] : idx());
  const set = (r: number, hi: number, lo: number): void => {
    regs[r * 2] = hi >>> 0;
    regs[r * 2 + 1] = lo >>> 0;
  };

  const hostOp = (): void => {
    const hva = UA + rng.below(CHUNKS) * M16;
    const op = rng.below(4);
    if (op === 0) mm.age(hva);
    else if (op === 1) mm.swapOut(hva); // refused: pinned
    else if (op === 2 && (mm.pteFlags(hva) & 1) !== 0) mm.protect(hva, rng.chance(0.5));
    else mm.testYoung(hva);
  };

  for (let n = 0; n < CALLS; n++) {
    if (rng.chance(0.02)) hostOp();
    if (rng.chance(0.01)) k.online_vcpus = 1 + rng.below(3);
    regs.fill(0);
    const pick = rng.below(100);
    let nr: number;
    if (pick < 45) {
      nr = H_ENTER;
      const exact = rng.chance(0.25);
      set(0, exact ? 0x80 : 0, 0);
      set(1, 0, idx());
      // Page size: 4K (70%), 64K, 16M, or a bad LP encoding.
      const ps = rng.below(20);
      const large = ps >= 14;
      const lp = ps < 14 ? 0 : ps < 17 ? 0x1000 : ps < 19 ? 0 : 0x2000;
      // gpa in chunks 0..4 (chunk 4 ≥ ram_npages); 16M pages use a chunk-aligned gpa.
      const chunk = rng.below(CHUNKS + 1);
      const inChunk = ps >= 17 && ps < 19 ? 0 : ps >= 14 && ps < 17 ? rng.below(256) << 16 : rng.below(4096) << 12;
      const wimg = rng.chance(0.9) ? 0x10 : rng.chance(0.5) ? 0x70 : rng.below(16) << 3;
      const ptel_lo = chunk * M16 + inChunk + lp + (rng.below(4) << 7) + wimg + rng.below(8);
      const avpn = (rng.u32() & 0xffffff80) >>> 0;
      const pteh_lo = (avpn | (rng.chance(0.05) ? 0x80 : 0) | (rng.chance(0.1) ? 0x60 : 0) | (large ? 4 : 0) | (rng.chance(0.95) ? 1 : 0)) >>> 0;
      set(2, rng.below(0x100), pteh_lo);
      set(3, rng.chance(0.05) ? 0x80000000 : 0, ptel_lo);
    } else if (pick < 62) {
      nr = H_REMOVE;
      const i = pickLive();
      const h = k.mmu.hpt;
      const f = rng.below(8);
      set(0, 0, (f & 1 ? 0x80000000 : 0) | (f & 2 ? 0x40000000 : 0) | (f & 4 ? 0x10000000 : 0));
      set(1, 0, i);
      if (i < k.mmu.npte && rng.chance(0.7)) set(2, h[i * 4], (h[i * 4 + 1] & ~0x7f) >>> 0);
      else set(2, rng.u32(), rng.chance(0.5) ? 0 : rng.u32());
    } else if (pick < 72) {
      nr = H_BULK_REMOVE;
      for (let q = 0; q < 4; q++) {
        const i = pickLive();
        const r = rng.below(20);
        const type = r < 15 ? 0x40 : r < 17 ? 0xc0 : r < 19 ? 0x00 : 0x80;
        const fl = rng.below(10) < 8 ? rng.below(3) : 3;
        set(q * 2, ((type | fl) << 24) >>> 0, i);
        const h = k.mmu.hpt;
        if (fl === 2 && i < k.mmu.npte) set(q * 2 + 1, h[i * 4], (h[i * 4 + 1] & ~0x7f) >>> 0);
        else if (fl === 1) set(q * 2 + 1, 0, rng.chance(0.5) ? 0 : 1 << rng.below(32));
      }
    } else if (pick < 82) {
      nr = H_PROTECT;
      const i = pickLive();
      const h = k.mmu.hpt;
      set(0, 0, (rng.chance(0.3) ? 0x80000000 : 0) | (rng.chance(0.2) ? 0x10000000 : 0) | rng.below(0x4000));
      set(1, 0, i);
      if (i < k.mmu.npte) set(2, h[i * 4], (h[i * 4 + 1] & ~0x7f) >>> 0);
    } else {
      nr = H_READ;
      set(0, (rng.chance(0.5) ? 0x40 : 0) | (rng.chance(0.3) ? 0x20 : 0), 0);
      set(1, 0, rng.chance(0.1) ? 0xffff7 & (k.mmu.npte - 1) : pickLive());
    }
    const ret = kvmppc_hcall(k, vcpu, nr, regs);
    assert.ok(LEGAL.has(ret), `hcall 0x${nr.toString(16)} returned ${ret}`);
    bump(`${nr}:${ret}`);
    if (nr === H_ENTER && ret === H_SUCCESS) {
      recent.push(regs[1]);
      if (recent.length > 64) recent.shift();
    }
    if (audit.violation !== null) assert.fail(`call ${n}: ${JSON.stringify(audit.violation)}`);
    if (n % CHECK_EVERY === 0) assert.equal(checker.check(), null, `after call ${n}`);
  }
  assert.equal(checkInvariants(k, audit, checker), null);

  // Coverage: every hcall succeeded and failed in its typical ways.
  for (const key of [
    `${H_ENTER}:${H_SUCCESS}`,
    `${H_ENTER}:${H_PARAMETER}`,
    `${H_ENTER}:${H_PTEG_FULL}`,
    `${H_REMOVE}:${H_SUCCESS}`,
    `${H_REMOVE}:${H_NOT_FOUND}`,
    `${H_BULK_REMOVE}:${H_SUCCESS}`,
    `${H_BULK_REMOVE}:${H_PARAMETER}`,
    `${H_PROTECT}:${H_SUCCESS}`,
    `${H_PROTECT}:${H_NOT_FOUND}`,
    `${H_READ}:${H_SUCCESS}`,
  ]) {
    assert.ok((counts.get(key) ?? 0) > 20, `too few ${key}: ${counts.get(key) ?? 0}`);
  }
  // refcnt counts every successful H_ENTER (never decremented): their sum is the success count.
  const refs = Array.from(k.ram_pginfo!.refcnt.subarray(0, CHUNKS)).reduce((a, b) => a + b, 0);
  assert.equal(refs, counts.get(`${H_ENTER}:${H_SUCCESS}`));
  rec.flush();
  const kinds = new Set(sink.events.map((e) => e.kind));
  assert.equal(kinds.has('notifier'), false);
  assert.equal(kinds.has('rmap_change'), false);
  assert.ok(kinds.has('tlbie'));

  // Destroy puts the four ram_pginfo pages.
  k.destroy();
  for (const p of pfns) assert.equal(phys.pinCount(p), 0);
});
