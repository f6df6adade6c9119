// Seed 1 (Linux 3.1–3.3, Kvm kernel '3.3'; kernel-model §C.5, D.3–D.7 "K33", §A.5 K31–K33,
// §G.1 K31–K33) as read from book3s_hv_rm_mmu.c / book3s_64_mmu_hv.c / book3s_hv.c of 3.1–3.3.
// Every expected value is derived in the comment next to it from those rules; the host frames
// backing guest RAM are fixed by mapping them at known pfns before the region is registered.

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
import { HostMm, PTE_PRESENT } from '../../src/host/mm.js';
import { PhysMem } from '../../src/host/physmem.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants, HvAudit, KvmInvariantChecker } from '../../src/kvm/hash/invariants.js';
import type { Kvm } from '../../src/kvm/kvm.js';
import { kvm_create_vm } from '../../src/kvm/ops.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { KvmMmuNotifier } from '../../src/kvm/hash/mmu_notifier.js';
import { kvmppc_map_vrma, reverse_xlate } from '../../src/kvm/hash/seed1.js';
import type { TraceEvent } from '../../src/trace/event.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { MemorySink, UA } from './helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

const M16 = 0x1000000;
/** Host pfns (4K frames, 16 MiB aligned = multiples of 0x1000) backing guest chunks 0 and 1. */
const PFN0 = 0x3000;
const PFN1 = 0x7000;
const H_EXACT = 0x0000008000000000n;
const H_R_XLATE = 0x0000004000000000n;
const H_READ_4 = 0x0000002000000000n;
const H_AVPN = 0x80000000n;
const H_LOCAL = 0x10000000n;

interface S1World {
  kvm: Kvm;
  mm: HostMm;
  phys: PhysMem;
  rec: Recorder;
  sink: MemorySink;
  audit: HvAudit;
  checker: KvmInvariantChecker;
  notifier: KvmMmuNotifier;
  vcpu: { vcpu_id: number; core: number };
  events(): TraceEvent[];
}

/**
 * A 3.3 VM (HPT order `order`) whose slot 0 = 32 MiB at gpa 0 is a 16 MiB-hugetlbfs VMA at UA,
 * its two huge pages mapped beforehand at PFN0 and PFN1.
 */
function s1World(order = 24, hostLpcrLo = 0): S1World {
  const sink = new MemorySink();
  const rec = new Recorder([sink], runInfo('power7', 1, {}));
  const phys = new PhysMem({ pageShift: 12, npages: 0x20000, seed: 5 });
  const mm = new HostMm({ phys, rec });
  mm.mmap(UA, 2 * M16, { pageShift: 24 });
  mm.map(UA, { pfn: PFN0 });
  mm.map(UA + M16, { pfn: PFN1 });
  const kvm = kvm_create_vm({ mm, rec, hptOrder: order, kernel: '3.3', hostLpcrLo });
  const notifier = KvmMmuNotifier.register(kvm);
  const audit = new HvAudit().attach(kvm);
  assert.equal(kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: 2 * M16, userspace_addr: UA }), 0);
  const checker = new KvmInvariantChecker(kvm);
  return {
    kvm,
    mm,
    phys,
    rec,
    sink,
    audit,
    checker,
    notifier,
    vcpu: { vcpu_id: 0, core: 0 },
    events() {
      rec.flush();
      return sink.events;
    },
  };
}

function ok(w: S1World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

function hc(w: S1World, nr: number, args: bigint[]): { ret: number; out: bigint[] } {
  return hcallBig(w.kvm, w.vcpu, nr, args);
}

test('3.3 VM: POWER7 without notifiers, ram_pginfo present, guest LPCR = host PECE|LPES | DPFD 4 | HDICE | VPM0 | VRMA_L (§G.1)', () => {
  // host LPCR low word 0x700c | 0x800 (MER, not inherited) → (0x780c & (0x7000 | 0xc)) | HDICE 1 = 0x700d.
  // high word: VPM0 0x80000000 | VRMA_L 0x00080000 | 4 << (52 - 32) = 0x00400000 → 0x80480000; no VPM1.
  const w = s1World(24, 0x780c);
  const k = w.kvm;
  assert.equal(k.kernel, '3.3');
  assert.equal(k.arch206, true);
  assert.equal(k.usingMmuNotifiers, false);
  assert.equal(k.lpcrHi, 0x80480000);
  assert.equal(k.lpcrLo, 0x700d);
  assert.ok(k.ram_pginfo !== null);
  assert.throws(() => kvm_create_vm({ mm: w.mm, rec: w.rec, kernel: '3.3', cpu: 'ppc970' }), /not modelled/);
  ok(w);
});

test('region registration pins each 16 MiB chunk into ram_pginfo (host_page pin, page_shift 24) and maps the VRMA (§C.5, §A.5)', () => {
  const w = s1World(24);
  const k = w.kvm;
  const pg = k.ram_pginfo!;
  // 32 MiB at gpa 0 → totalpages = 0x2000000 >> 24 = 2 chunks: pfns of the pre-mapped huge pages.
  assert.equal(pg.ram_npages, 2);
  assert.equal(pg.pfn[0], PFN0);
  assert.equal(pg.pfn[1], PFN1);
  assert.equal(w.phys.pinCount(PFN0), 1);
  assert.equal(w.phys.pinCount(PFN1), 1);
  const ev = w.events();
  const pins = ev.filter((e) => e.kind === 'host_page' && field(e, 'op') === 4n); // host_page_op.pin = 4
  assert.deepEqual(
    pins.map((e) => [field(e, 'hva'), field(e, 'pfn'), field(e, 'page_shift')]),
    [
      [BigInt(UA), BigInt(PFN0), 24n],
      [BigInt(UA + M16), BigInt(PFN1), 24n],
    ],
  );
  // VRMA, order 24: mask 0x1ffff; hash(i) = (i ^ 0x3ffffffffffff) & 0x1ffff = 0x1ffff - i; slot 7.
  //   i = 0: index 0x1ffff * 8 + 7 = 0xfffff
  //   i = 1: index 0x1fffe * 8 + 7 = 0xffff7
  // dword 0 = 0x4000000000000000 | 0x1ffffff << 24 | i << 8 | BOLTED 0x10 | LARGE 0x4 | VALID 0x1
  //         = 0x4001ffffff000015 | i << 8
  // dword 1 = pfn << 12 | R 0x100 | C 0x80 | M 0x10 | PP_RWXX 0 = pfn << 12 | 0x190
  assert.deepEqual(k.mmu.hpteBig(0xfffff), [0x4001ffffff000015n, 0x3000190n]);
  assert.deepEqual(k.mmu.hpteBig(0xffff7), [0x4001ffffff000115n, 0x7000190n]);
  // Written directly: no hcall, no tlbie; refcnt untouched; caused by the memslot event.
  const memslot = ev.find((e) => e.kind === 'memslot')!;
  const writes = ev.filter((e) => e.kind === 'hpte_write');
  assert.deepEqual(
    writes.map((e) => [fieldNum(e, 'hpte_index'), e.cause]),
    [
      [0xfffff, memslot.seq],
      [0xffff7, memslot.seq],
    ],
  );
  assert.equal(ev.filter((e) => e.kind === 'tlbie' || e.kind === 'rmap_change' || e.kind === 'hcall_enter').length, 0);
  assert.equal(pg.refcnt[0] + pg.refcnt[1], 0);
  // Pins come first (prepare), then the memslot event, then the VRMA (commit).
  assert.ok(pins[1].seq < memslot.seq && memslot.seq < writes[0].seq);
  ok(w);
});

test('kvmppc_map_vrma caps at one entry per PTEG and stops at the first chunk without a page', () => {
  // Order 18: NPTEG = 2^(18-7) = 2048, mask 0x7ff. Two chunks → two entries at (0x7ff - i) * 8 + 7.
  const w = s1World(18);
  const k = w.kvm;
  assert.deepEqual(k.mmu.hpteBig(0x7ff * 8 + 7), [0x4001ffffff000015n, 0x3000190n]);
  assert.deepEqual(k.mmu.hpteBig(0x7fe * 8 + 7), [0x4001ffffff000115n, 0x7000190n]);
  // Register chunk 3 (gpa 48 MiB) at pfn 0xb000: ram_npages = 4, chunk 2 has no page. Not at gpa 0,
  // so commit does not map the VRMA; a direct call maps chunks 0, 1 and stops at chunk 2 → 2.
  w.mm.mmap(UA + 0x10000000, M16, { pageShift: 24 });
  w.mm.map(UA + 0x10000000, { pfn: 0xb000 });
  assert.equal(kvm_set_memory_region(k, { slot: 1, guest_phys_addr: 3 * M16, memory_size: M16, userspace_addr: UA + 0x10000000 }), 0);
  assert.equal(k.ram_pginfo!.ram_npages, 4);
  assert.equal(kvmppc_map_vrma(k), 2);
  ok(w);
});

test('registration errors: -EINVAL for size/alignment, > 64 GiB, no page, or a page that is not a 16 MiB head (reference leaked)', () => {
  const w = s1World(18);
  const k = w.kvm;
  const pg = k.ram_pginfo!;
  const EINVAL = -22;
  // Size 8 MiB (not a multiple of 16 MiB), gpa 72 MiB (not 16 MiB aligned).
  assert.equal(kvm_set_memory_region(k, { slot: 2, guest_phys_addr: 4 * M16, memory_size: M16 / 2, userspace_addr: UA }), EINVAL);
  assert.equal(kvm_set_memory_region(k, { slot: 2, guest_phys_addr: 4 * M16 + M16 / 2, memory_size: M16, userspace_addr: UA }), EINVAL);
  // gpa 64 GiB - 16 MiB, size 32 MiB: totalpages = (2^36 + 2^24) >> 24 = 4097 > 4096.
  assert.equal(kvm_set_memory_region(k, { slot: 2, guest_phys_addr: 2 ** 36 - M16, memory_size: 2 * M16, userspace_addr: UA }), EINVAL);
  assert.equal(pg.ram_npages, 2);
  // hva in no VMA: get_user_pages fails → -EINVAL, nothing pinned; ram_npages was already raised
  // to (4 + 1) chunks before pinning (kernel order).
  assert.equal(kvm_set_memory_region(k, { slot: 2, guest_phys_addr: 4 * M16, memory_size: M16, userspace_addr: 0x7000000000 }), EINVAL);
  assert.equal(pg.ram_npages, 5);
  assert.equal(pg.pfn[4], 0);
  // 4K-page VMA: gup pins a small page, which is not PageHead of an order-12 compound page → -EINVAL,
  // and the reference is never dropped (kernel "goto err" without put_page).
  w.mm.mmap(0x7100000000, M16);
  assert.equal(kvm_set_memory_region(k, { slot: 3, guest_phys_addr: 5 * M16, memory_size: M16, userspace_addr: 0x7100000000 }), EINVAL);
  const small = w.mm.pfnOf(0x7100000000);
  assert.equal(w.phys.pinCount(small), 1);
  assert.deepEqual(pg.leaked, [small]);
  // A 16 MiB VMA but userspace_addr 4 KiB into the huge page: a tail page → -EINVAL, leaked too.
  w.mm.mmap(0x7200000000, M16, { pageShift: 24 });
  assert.equal(kvm_set_memory_region(k, { slot: 4, guest_phys_addr: 6 * M16, memory_size: 0x1000000, userspace_addr: 0x7200001000 }), EINVAL);
  assert.equal(pg.leaked.length, 2);
  // No memslot was created by any failure.
  assert.deepEqual(k.memslots.map((s) => s.id), [0]);
  ok(w);
  // Destroy puts the two ram_pginfo pages; the leaked references stay.
  k.destroy();
  assert.equal(w.phys.pinCount(PFN0), 0);
  assert.equal(w.phys.pinCount(PFN1), 0);
  assert.equal(w.phys.pinCount(small), 1);
});

test('H_ENTER of a 16 MiB page: RPN ≥ 2^24 replaced by pfn << 12, refcnt++, VALID, r4 = first free slot (§D.3 K33)', () => {
  const w = s1World(24);
  const k = w.kvm;
  // pteh 0x123456005 = avpn 0x123456000 (bit 0x80 clear) | LARGE | VALID; ptel 0x1000192 = gpa 16M
  // (chunk 1, LP bits 0xff000 zero → 16M page), R|C|M, PP 2.
  // ptel = (0x1000192 & (PP0 | 0xffffff)) | (PFN1 << 12) = 0x192 | 0x7000000 = 0x7000192.
  const r = hc(w, H_ENTER, [0n, 0x1a298n, 0x123456005n, 0x1000192n]);
  assert.equal(r.ret, H_SUCCESS);
  // No H_EXACT: pte_index & ~7 = 0x1a298, slot 0 free → r4 = 0x1a298.
  assert.equal(r.out[0], 0x1a298n);
  assert.deepEqual(k.mmu.hpteBig(0x1a298), [0x123456005n, 0x7000192n]);
  assert.equal(k.ram_pginfo!.refcnt[1], 1);
  // A second entry for the same chunk goes to the next slot; refcnt 2. No rmap, no revmap.
  const r2 = hc(w, H_ENTER, [0n, 0x1a298n, 0x123456005n, 0x1000192n]);
  assert.equal(r2.out[0], 0x1a299n);
  assert.equal(k.ram_pginfo!.refcnt[1], 2);
  assert.equal(k.mmu.guestRBig(0x1a298), 0n);
  assert.equal(w.events().filter((e) => e.kind === 'rmap_change').length, 0);
  ok(w);
});

test('H_ENTER of 4K and 64K pages inside a chunk keeps the offset inside the 16 MiB page', () => {
  const w = s1World(24);
  const k = w.kvm;
  // 4K: ptel 0xabc192 (gpa 0xabc000, chunk 0) → (0xabc192 & 0xffffff) | (PFN0 << 12) = 0x3abc192.
  const a = hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  assert.equal(a.ret, H_SUCCESS);
  assert.equal(a.out[0], 0x100n);
  assert.deepEqual(k.mmu.hpteBig(0x100), [0x123456001n, 0x3abc192n]);
  // 64K (POWER7): LARGE with LP nibble 0001: ptel 0x1ab1192 (gpa 0x1ab0000, chunk 1)
  //   → (0x1ab1192 & 0xffffff) | (PFN1 << 12) = 0xab1192 | 0x7000000 = 0x7ab1192.
  const b = hc(w, H_ENTER, [H_EXACT, 0x108n, 0x123456005n, 0x1ab1192n]);
  assert.equal(b.ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x108), [0x123456005n, 0x7ab1192n]);
  // SAO (W|I|M = 0x70) is accepted as is: ptel 0xabc172 → 0x3abc172.
  const c = hc(w, H_ENTER, [0n, 0x110n, 0x123456001n, 0xabc172n]);
  assert.equal(c.ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x110), [0x123456001n, 0x3abc172n]);
  // pteh's HVLOCK|ABSENT (0x60) are dropped, VALID is taken from the guest: pteh 0x123456061 → 0x123456001.
  const d = hc(w, H_ENTER, [0n, 0x118n, 0x123456061n, 0xabc192n]);
  assert.equal(d.ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x118), [0x123456001n, 0x3abc192n]);
  // refcnt: chunk 0 got a, c, d = 3; chunk 1 got b = 1.
  assert.equal(k.ram_pginfo!.refcnt[0], 3);
  assert.equal(k.ram_pginfo!.refcnt[1], 1);
  ok(w);
});

test('H_ENTER H_PARAMETER cases and H_PTEG_FULL (each from one kernel test)', () => {
  const w = s1World(24);
  const k = w.kvm;
  // Chunk 3 at gpa 48M (pfn 0xb000): ram_npages 4, chunk 2 has no page.
  w.mm.mmap(UA + 0x10000000, M16, { pageShift: 24 });
  w.mm.map(UA + 0x10000000, { pfn: 0xb000 });
  assert.equal(kvm_set_memory_region(k, { slot: 1, guest_phys_addr: 3 * M16, memory_size: M16, userspace_addr: UA + 0x10000000 }), 0);
  const P = (pteh: bigint, ptel: bigint, idx = 0x200n, flags = 0n): number => hc(w, H_ENTER, [flags, idx, pteh, ptel]).ret;
  // LARGE with LP bits 0x2000 (neither 64K's 0x1000 nor 16M's 0) → H_PARAMETER.
  assert.equal(P(0x123456005n, 0x1002192n), H_PARAMETER);
  // 16M page with the lowest AVA bit 0x80 set in pteh → H_PARAMETER.
  assert.equal(P(0x123456085n, 0x1000192n), H_PARAMETER);
  // lpn = 0x4000000 >> 24 = 4 ≥ ram_npages 4 → H_PARAMETER.
  assert.equal(P(0x123456001n, 0x4000192n), H_PARAMETER);
  // lpn 2 < 4 but ram_pginfo[2].pfn = 0 → H_PARAMETER.
  assert.equal(P(0x123456001n, 0x2000192n), H_PARAMETER);
  // WIMG: I|M (0x30), G|M (0x18), 0, W|M (0x50) → H_PARAMETER (only M or W|I|M pass).
  assert.equal(P(0x123456001n, 0xabc1b2n), H_PARAMETER);
  assert.equal(P(0x123456001n, 0xabc19an), H_PARAMETER);
  assert.equal(P(0x123456001n, 0xabc182n), H_PARAMETER);
  assert.equal(P(0x123456001n, 0xabc1d2n), H_PARAMETER);
  // pte_index ≥ NPTE = 2^20 → H_PARAMETER (checked after the page tests).
  assert.equal(P(0x123456001n, 0xabc192n, 0x100000n), H_PARAMETER);
  // Chunk 3 works: ptel 0x3000192 → 0x192 | 0xb000000.
  assert.equal(P(0x123456001n, 0x3000192n, 0x200n, H_EXACT), H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x200), [0x123456001n, 0xb000192n]);
  // H_EXACT on that VALID slot → H_PTEG_FULL; fill the PTEG 0x208..0x20f, then one more → H_PTEG_FULL.
  assert.equal(P(0x123456001n, 0xabc192n, 0x200n, H_EXACT), H_PTEG_FULL);
  for (let s = 0; s < 8; s++) assert.equal(P(0x123456001n, 0xabc192n, 0x208n), H_SUCCESS);
  assert.equal(P(0x123456001n, 0xabc192n, 0x20cn), H_PTEG_FULL);
  // No HPTE written by any failing call: only 0x200 and 0x208..0x20f are VALID besides the VRMA.
  assert.equal(k.mmu.isValid(0x201), false);
  ok(w);
});

test('H_READ returns the host RPN; with H_R_XLATE the reverse translation (§D.7 K33), including the (i << PAGE_SHIFT) quirk', () => {
  const w = s1World(24);
  const k = w.kvm;
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]); // hw r 0x3abc192 (chunk 0)
  hc(w, H_ENTER, [H_EXACT, 0x101n, 0x123456005n, 0x1000192n]); // hw r 0x7000192 (chunk 1)
  // Plain H_READ: the raw hardware words.
  assert.deepEqual(hc(w, H_READ, [0n, 0x100n]).out.slice(0, 2), [0x123456001n, 0x3abc192n]);
  // H_R_XLATE, chunk 0: realaddr 0x3abc000, offset = & 0xffffff = 0xabc000, rpn = 0x3000000 >> 12 =
  // PFN0 = pginfo[0] → (0 << 12) + 0xabc000 | (r & ~RPN = 0x192) = 0xabc192: the guest's ptel.
  assert.deepEqual(hc(w, H_READ, [H_R_XLATE, 0x100n]).out.slice(0, 2), [0x123456001n, 0xabc192n]);
  // H_R_XLATE, chunk 1: rpn PFN1 = pginfo[1] → (1 << PAGE_SHIFT) + 0 = 0x1000, so r = 0x1192 — the
  // kernel shifts by PAGE_SHIFT, not ram_porder; the true guest RPN would be 0x1000000.
  assert.deepEqual(hc(w, H_READ, [H_R_XLATE, 0x101n]).out.slice(0, 2), [0x123456005n, 0x1192n]);
  // No chunk with that pfn: all ones in the RPN field.
  const t = new Uint32Array(2);
  reverse_xlate(k, 0, 0x5abc000, t, 0);
  assert.deepEqual([t[0], t[1]], [0x0fffffff, 0xfffff000]);
  // H_READ_4 from 0x102 reads 0x100..0x103 (index & ~3); empty entries read as zero, not translated.
  const r4 = hc(w, H_READ, [H_READ_4 | H_R_XLATE, 0x102n]);
  assert.equal(r4.ret, H_SUCCESS);
  assert.deepEqual(r4.out, [0x123456001n, 0xabc192n, 0x123456005n, 0x1192n, 0n, 0n, 0n, 0n]);
  // The VRMA entry of chunk 0 (index 0xfffff): raw r 0x3000190; translated 0x190.
  assert.deepEqual(hc(w, H_READ, [H_R_XLATE, 0xfffffn]).out.slice(0, 2), [0x4001ffffff000015n, 0x190n]);
  assert.equal(hc(w, H_READ, [0n, 0x100000n]).ret, H_PARAMETER);
  ok(w);
});

test('H_REMOVE: VALID only, r4/r5 = old hardware words (host RPN), dword 0 = 0, tlbiel with one vcpu (§D.4 K33)', () => {
  const w = s1World(24);
  const k = w.kvm;
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  // An entry the guest entered without VALID (pteh 0x123456000) exists but is not VALID.
  assert.equal(hc(w, H_ENTER, [H_EXACT, 0x101n, 0x123456000n, 0xabc192n]).ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x101), [0x123456000n, 0x3abc192n]);
  // AVPN mismatch → H_NOT_FOUND.
  assert.equal(hc(w, H_REMOVE, [H_AVPN, 0x100n, 0x999999000n]).ret, H_NOT_FOUND);
  // The non-VALID one → H_NOT_FOUND (no ABSENT in 3.3).
  assert.equal(hc(w, H_REMOVE, [0n, 0x101n]).ret, H_NOT_FOUND);
  const n0 = w.events().length;
  const r = hc(w, H_REMOVE, [H_AVPN, 0x100n, 0x123456000n]);
  assert.equal(r.ret, H_SUCCESS);
  assert.deepEqual(r.out.slice(0, 2), [0x123456001n, 0x3abc192n]);
  // dword 0 cleared, dword 1 left; refcnt is never decremented.
  assert.deepEqual(k.mmu.hpteBig(0x100), [0n, 0x3abc192n]);
  assert.equal(k.ram_pginfo!.refcnt[0], 2);
  const ev = w.events().slice(n0);
  const tl = ev.filter((e) => e.kind === 'tlbie');
  // online_vcpus = 1 → H_LOCAL → tlbiel (scope local). RB for a 4K page in a 256M segment:
  // (v & ~0x7f) << 16 = 0x1234560000000 | va_low: (0x100 >> 3 = 0x20) ^ (v >> 12 = 0x123456) & 0x7ff
  // = 0x476 → << 12 = 0x476000; B = 0 → RB 0x1234560476000.
  assert.equal(tl.length, 1);
  assert.equal(field(tl[0], 'rb'), 0x1234560476000n);
  assert.equal(field(tl[0], 'scope'), 1n);
  // Two online vcpus and no H_LOCAL → global tlbie.
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  k.online_vcpus = 2;
  hc(w, H_REMOVE, [0n, 0x100n]);
  assert.equal(field(w.events().filter((e) => e.kind === 'tlbie').at(-1)!, 'scope'), 0n);
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  hc(w, H_REMOVE, [H_LOCAL, 0x100n]);
  assert.equal(field(w.events().filter((e) => e.kind === 'tlbie').at(-1)!, 'scope'), 1n);
  ok(w);
});

test('H_BULK_REMOVE: VALID only, R/C from hardware dword 1 before the invalidation, tlbies after the loop (§D.5 K33)', () => {
  const w = s1World(24);
  const k = w.kvm;
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]); // R|C set
  hc(w, H_ENTER, [H_EXACT, 0x101n, 0x123456001n, 0xabc012n]); // neither R nor C
  const req = (flags: bigint, idx: bigint): bigint => (flags << 56n) | idx;
  const n0 = w.events().length;
  // r4/r5: remove 0x100 absolute; r6/r7: 0x101 AVPN 0x123456000; r8/r9: 0x102 (empty) → not found;
  // r10: end of list (0xc0).
  const r = hc(w, H_BULK_REMOVE, [req(0x40n, 0x100n), 0n, req(0x42n, 0x101n), 0x123456000n, req(0x40n, 0x102n), 0n, req(0xc0n, 0n), 0n]);
  assert.equal(r.ret, H_SUCCESS);
  // 0x100: 0x80 | flags 0 | (0x192 >> 5) & 0x0c = 0x0c → 0x8c; 0x101: 0x80 | 2 | 0 = 0x82; 0x102: 0x90.
  assert.equal(r.out[0], req(0x8cn, 0x100n));
  assert.equal(r.out[2], req(0x82n, 0x101n));
  assert.equal(r.out[4], req(0x90n, 0x102n));
  assert.equal(r.out[6], req(0xc0n, 0n)); // end marker untouched
  assert.equal(k.mmu.isValid(0x100) || k.mmu.isValid(0x101), false);
  const ev = w.events().slice(n0);
  const kinds = ev.filter((e) => e.kind === 'hpte_write' || e.kind === 'tlbie').map((e) => e.kind);
  assert.deepEqual(kinds, ['hpte_write', 'hpte_write', 'tlbie', 'tlbie']);
  // A bad request type (0x00) → 0xa0 response, H_PARAMETER, processing stops.
  const bad = hc(w, H_BULK_REMOVE, [req(0x00n, 0x100n), 0n, req(0x40n, 0xfffffn), 0n]);
  assert.equal(bad.ret, H_PARAMETER);
  assert.equal(bad.out[0], req(0xa0n, 0x100n));
  assert.equal(k.mmu.isValid(0xfffff), true); // the VRMA entry in the second request was not reached
  // AVPN (0x42) whose avpn differs from dword 0 >> 7 (bit 7 set) → not found, entry kept: 0x92.
  hc(w, H_ENTER, [H_EXACT, 0x103n, 0x123456001n, 0xabc012n]);
  const miss = hc(w, H_BULK_REMOVE, [req(0x42n, 0x103n), 0x123456080n, req(0xc0n, 0n), 0n]);
  assert.equal(miss.out[0], req(0x92n, 0x103n));
  assert.equal(k.mmu.isValid(0x103), true);
  ok(w);
});

test('H_PROTECT: VALID only, new PP/N/key in the hardware word with a tlbie; ABSENT never appears', () => {
  const w = s1World(24);
  const k = w.kvm;
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  // flags = PP 3 | N 4 → r = (0x3abc192 & ~0x7) | 0x7 = 0x3abc197.
  const n0 = w.events().length;
  assert.equal(hc(w, H_PROTECT, [0x7n, 0x100n]).ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x100), [0x123456001n, 0x3abc197n]);
  assert.equal(w.events().slice(n0).filter((e) => e.kind === 'tlbie').length, 1);
  assert.equal(hc(w, H_PROTECT, [0x7n, 0x101n]).ret, H_NOT_FOUND);
  ok(w);
});

test('3.3 has no MMU notifiers: nothing is registered, host changes never reach KVM, pinned pages are not reclaimed (§C.5)', () => {
  const w = s1World(24);
  const k = w.kvm;
  assert.equal(w.notifier.registered, false);
  assert.equal(w.mm.notifiers.length, 0);
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  const before = k.mmu.hpteBig(0x100);
  const n0 = w.events().length;
  // Aging, write-protection and reclaim of the pinned huge pages.
  assert.equal(w.mm.age(UA), true);
  w.mm.protect(UA + M16, false);
  assert.equal(w.mm.swapOut(UA), -2); // refused: the frame holds KVM's pin
  // munmap of chunk 1: the VMM loses its mapping, the frame stays (pinned), the HPTEs still map it.
  assert.equal(w.mm.unmap(UA + M16, { range: true }), PFN1);
  assert.equal(w.mm.pteFlags(UA + M16) & PTE_PRESENT, 0);
  assert.ok(w.phys.isPendingFree(PFN1));
  const ev = w.events().slice(n0);
  assert.equal(ev.filter((e) => e.kind === 'notifier').length, 0);
  assert.equal(ev.filter((e) => e.kind === 'hpte_write' || e.kind === 'tlbie' || e.kind === 'rmap_change').length, 0);
  assert.deepEqual(k.mmu.hpteBig(0x100), before);
  assert.deepEqual(k.mmu.hpteBig(0xffff7), [0x4001ffffff000115n, 0x7000190n]);
  ok(w);
  // A callback forced onto a 3.3 VM is reported: 3.3 has no such path.
  w.notifier.invalidate_page(null, UA);
  assert.equal(w.audit.violation?.code, 's1_no_notifier');
  // Destroy drops the last pin of chunk 1, which frees it now.
  k.destroy();
  assert.equal(w.phys.pinCount(PFN1), 0);
  assert.equal(w.phys.isPendingFree(PFN1), false);
});

test('seed-1 invariants: ABSENT, an RPN outside ram_pginfo, or rmap activity are violations; K34 chain rules are not applied', () => {
  const mk = (): S1World => {
    const w = s1World(18);
    hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
    ok(w); // a VALID RAM HPTE on no rmap chain: J4 in K34, fine in 3.3
    return w;
  };
  let w = mk();
  w.kvm.mmu.hpt[0x100 * 4 + 1] = 0x23456020; // ABSENT instead of VALID
  assert.equal(w.checker.check()?.code, 's1_no_absent');
  w = mk();
  w.kvm.mmu.hpt[0x100 * 4 + 3] = 0x5abc192; // RPN in frame block 0x5000, which no chunk has
  assert.equal(w.checker.check()?.code, 's1_pinned');
  w = mk();
  w.kvm.memslots[0].rmap[0] = 1; // PRESENT in an rmap word
  assert.equal(w.checker.check()?.code, 's1_no_rmap');
  w = mk();
  w.kvm.ram_pginfo!.refcnt[0] = 0; // refcnt dropped from 1
  assert.equal(w.checker.check()?.code, 's1_pinned');
});

test('deleting a region tears nothing down: ram_pginfo, pins and HPTEs stay, and H_ENTER still maps the chunk', () => {
  const w = s1World(18);
  const k = w.kvm;
  hc(w, H_ENTER, [H_EXACT, 0x100n, 0x123456001n, 0xabc192n]);
  assert.equal(kvm_set_memory_region(k, { slot: 0, guest_phys_addr: 0, memory_size: 0, userspace_addr: UA }), 0);
  assert.equal(k.memslots.length, 0);
  // 3.3 H_ENTER never looks at memslots: lpn 0 < ram_npages 2 and pfn PFN0 → 0x3abc192 again.
  assert.equal(k.ram_pginfo!.pfn[0], PFN0);
  assert.equal(w.phys.pinCount(PFN0), 1);
  assert.deepEqual(k.mmu.hpteBig(0x100), [0x123456001n, 0x3abc192n]);
  assert.equal(hc(w, H_ENTER, [H_EXACT, 0x101n, 0x123456001n, 0xabc192n]).ret, H_SUCCESS);
  assert.deepEqual(k.mmu.hpteBig(0x101), [0x123456001n, 0x3abc192n]);
  // Re-registering pins the same huge pages again (pin count 2) and rewrites the same VRMA words;
  // destroy puts one reference per ram_pginfo entry, so one stays (as in the kernel).
  assert.equal(kvm_set_memory_region(k, { slot: 0, guest_phys_addr: 0, memory_size: 2 * M16, userspace_addr: UA }), 0);
  assert.equal(w.phys.pinCount(PFN0), 2);
  ok(w);
  k.destroy();
  assert.equal(w.phys.pinCount(PFN0), 1);
  assert.equal(w.phys.pinCount(PFN1), 1);
});
