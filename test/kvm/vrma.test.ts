// VRMA set-up (src/kvm/hash/vrma.ts; kernel-model §A.5 K34+, kvmppc_hv_setup_rma + kvmppc_map_vrma of
// Linux 3.4) and guest real-mode translation through it. Expected HPTEs come from the §A.5
// formulas: index = (mask − i)·8 + 7, pteh = 0x4001ffffff000000 | BOLTED | (LARGE if > 4K) |
// ((i << porder) >> 16 & ~0x7f), ptel = (0x1000 if 64K) | R | C | M | PP_RWXX | (i << porder).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H_PTEG_FULL, H_SUCCESS, MSR_ME_LO, MSR_SF_HI } from '../../src/arch/index.js';
import { HostMm } from '../../src/host/mm.js';
import { PhysMem } from '../../src/host/physmem.js';
import { ACCESS_LOAD, MmuContext, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import { Tlb } from '../../src/hw/tlb.js';
import { Vcpu } from '../../src/hw/vcpu.js';
import { guest_access } from '../../src/machine/guest-access.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants, HvAudit, KvmInvariantChecker } from '../../src/kvm/hash/invariants.js';
import type { Kvm } from '../../src/kvm/kvm.js';
import { kvm_create_vm } from '../../src/kvm/ops.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { KvmMmuNotifier } from '../../src/kvm/hash/mmu_notifier.js';
import { kvmppc_hv_setup_rma, vrma_hpte, vrma_npages } from '../../src/kvm/hash/vrma.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { MemorySink, UA } from './helpers.js';

const BASE_V = 0x4001ffffff000000n; // B = 1T | VRMA_VSID << 24
const BOLTED = 0x10n;
const LARGE = 0x4n;
const VALID = 0x1n;
const ABSENT = 0x20n;
const RCM = 0x190n; // R | C | M | PP_RWXX (0)

interface RmaWorld {
  kvm: Kvm;
  mm: HostMm;
  audit: HvAudit;
  checker: KvmInvariantChecker;
  v: Vcpu;
}

/** Slot 0 at gpa 0 of `npages` 4K pages, backed by a VMA of 2^pageShift pages at UA. */
function rmaWorld(order: number, npages: number, vmaShift: number): RmaWorld {
  const rec = new Recorder([new MemorySink()], runInfo('power7', 1, {}));
  const phys = new PhysMem({ pageShift: 12, npages: 0x100000, seed: 7 });
  const mm = new HostMm({ phys, rec });
  mm.mmap(UA, npages * 4096, { pageShift: vmaShift });
  const kvm = kvm_create_vm({ mm, rec, hptOrder: order });
  assert.equal(kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: npages * 4096, userspace_addr: UA }), 0);
  KvmMmuNotifier.register(kvm);
  const audit = new HvAudit().attach(kvm);
  const checker = new KvmInvariantChecker(kvm);
  const v = new Vcpu(0, { rec, lpid: kvm.lpid });
  v.core = 0;
  // Guest real mode: MSR = SF | ME (IR = DR = 0).
  v.setMsr(MSR_SF_HI, MSR_ME_LO);
  return { kvm, mm, audit, checker, v };
}

test('16 MiB pages: 16 VRMA HPTEs at (mask − i)·8 + 7, VALID where the huge page is present', () => {
  // 256 MiB slot of 4K pages backed by 16M hugetlb pages: porder 24 → npages = 0x10000 >> 12 = 16.
  const w = rmaWorld(24, 0x10000, 24);
  const pfn0 = w.mm.map(UA); // huge page for i = 0
  w.mm.map(UA + 2 * 0x1000000); // i = 2
  assert.equal(vrma_npages(0x10000, 24, 12, w.kvm.mmu.geom.npteg), 16);
  assert.equal(kvmppc_hv_setup_rma(w.kvm, w.v), 0);
  const a = w.kvm.mmu;
  assert.equal(a.vrma_hptes, 16);
  for (let i = 0; i < 16; i++) {
    const index = (0x1ffff - i) * 8 + 7;
    // pteh = BASE | BOLTED | LARGE | ((i << 24) >> 16 & ~0x7f) = … | i << 8.
    const pteh = BASE_V | BOLTED | LARGE | (BigInt(i) << 8n);
    // ptel = R|C|M|PP_RWXX | i << 24 (the guest view, kept in guest_rpte).
    const ptel = RCM | (BigInt(i) << 24n);
    const h = vrma_hpte(i, 24, 0x1ffff);
    assert.equal(h.index, index);
    assert.equal(h.pteh, pteh);
    assert.equal(h.ptel, ptel);
    const present = i === 0 || i === 2;
    const [v, r] = w.kvm.mmu.hpteBig(index);
    assert.equal(v, pteh | (present ? VALID : ABSENT), `v of VRMA page ${i}`);
    assert.equal(w.kvm.mmu.guestRBig(index), ptel);
    if (i === 0) {
      // hw r = (ptel & (PP0 | 0xffffff)) | pfn << 12 = 0x190 | pa; R kept, C dropped (rmap REF only).
      assert.equal(r, (BigInt(pfn0) << 12n) | 0x110n);
    }
  }
  // vrma_slb_v = B_1T | VRMA_VSID << 24 | senc (0x100); LPCR VRMASD = 0x100 << 43 (high word 0x80000).
  assert.equal((BigInt(a.vrma_slb_vHi) << 32n) | BigInt(a.vrma_slb_vLo), 0x4001ffffff000100n);
  assert.equal(w.kvm.lpcrHi & 0x000f8000, 0x00080000);
  assert.equal(w.kvm.rma_setup_done, true);
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);

  // Guest real-mode access at EA 0xabcdef (VRMA page 0) translates through the VRMA HPTE.
  const ctx = new MmuContext(w.kvm.mmu, new Tlb(0), 0, w.kvm.lpcrHi, w.kvm.lpcrLo);
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, w.v, 0, 0xabcdef, ACCESS_LOAD), 0);
  assert.equal(ctx.index, 0x1ffff * 8 + 7);
  assert.equal(ctx.raLo, (pfn0 * 4096 + 0xabcdef) >>> 0);
  // EA in VRMA page 1 (ABSENT): HDSI (VPM0) → triage with vrma_slb_v → virtual fault → installed.
  assert.equal(guest_access(w.kvm, ctx, w.v, 0, 0x1000010, ACCESS_LOAD), 0);
  assert.equal(ctx.index, (0x1ffff - 1) * 8 + 7);
  assert.equal(w.kvm.mmu.hpteBig((0x1ffff - 1) * 8 + 7)[0], BASE_V | BOLTED | LARGE | (1n << 8n) | VALID);
  // Second call is a no-op (rma_setup_done).
  assert.equal(kvmppc_hv_setup_rma(w.kvm, w.v), 0);
  assert.equal(a.vrma_hptes, 16);
});

test('4 KiB pages: one HPTE per page, no LARGE, senc 0', () => {
  const w = rmaWorld(24, 0x100, 12); // 1 MiB: 256 VRMA pages
  w.mm.map(UA + 0x3000); // i = 3 present
  assert.equal(kvmppc_hv_setup_rma(w.kvm, w.v), 0);
  const a = w.kvm.mmu;
  assert.equal(a.vrma_hptes, 0x100);
  for (const i of [0, 3, 0x7f, 0xff]) {
    const index = (0x1ffff - i) * 8 + 7;
    // (i << 12) >> 16 = i >> 4 ≤ 0xf → & ~0x7f = 0: pteh = BASE | BOLTED.
    const pteh = BASE_V | BOLTED;
    assert.equal(w.kvm.mmu.hpteBig(index)[0], pteh | (i === 3 ? VALID : ABSENT));
    assert.equal(w.kvm.mmu.guestRBig(index), RCM | (BigInt(i) << 12n));
  }
  assert.equal((BigInt(a.vrma_slb_vHi) << 32n) | BigInt(a.vrma_slb_vLo), 0x4001ffffff000000n);
  assert.equal(w.kvm.lpcrHi & 0x000f8000, 0);
  // Real mode EA 0x3abc → VRMA page 3.
  const ctx = new MmuContext(w.kvm.mmu, new Tlb(0), 0, w.kvm.lpcrHi, w.kvm.lpcrLo);
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, w.v, 0, 0x3abc, ACCESS_LOAD), 0);
  assert.equal(ctx.index, (0x1ffff - 3) * 8 + 7);
  assert.equal(ctx.raLo & 0xfff, 0xabc);
});

test('64 KiB pages: LARGE in dword 0, LP 0x1000 in dword 1, senc 0x110', () => {
  const w = rmaWorld(24, 0x200, 16); // 2 MiB of 64K hugetlb pages: npages = 0x200 >> 4 = 32
  w.mm.map(UA + 0x10000); // i = 1
  assert.equal(kvmppc_hv_setup_rma(w.kvm, w.v), 0);
  const a = w.kvm.mmu;
  assert.equal(a.vrma_hptes, 32);
  for (const i of [0, 1, 31]) {
    const index = (0x1ffff - i) * 8 + 7;
    // (i << 16) >> 16 = i; & ~0x7f = 0 for i < 128.
    assert.equal(w.kvm.mmu.hpteBig(index)[0], BASE_V | BOLTED | LARGE | (i === 1 ? VALID : ABSENT));
    assert.equal(w.kvm.mmu.guestRBig(index), 0x1000n | RCM | (BigInt(i) << 16n));
  }
  assert.equal((BigInt(a.vrma_slb_vHi) << 32n) | BigInt(a.vrma_slb_vLo), 0x4001ffffff000110n);
  // VRMASD = 0x110 << 43: high word 0x110 << 11 = 0x88000.
  assert.equal(w.kvm.lpcrHi & 0x000f8000, 0x00088000);
  const ctx = new MmuContext(w.kvm.mmu, new Tlb(0), 0, w.kvm.lpcrHi, w.kvm.lpcrLo);
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, w.v, 0, 0x1abcd, ACCESS_LOAD), 0);
  assert.equal(ctx.index, (0x1ffff - 1) * 8 + 7);
  assert.equal(ctx.pshift, 16);
  assert.equal(ctx.raLo & 0xffff, 0xabcd);
});

test('cap at one HPTE per PTEG (order 18: 2048), and the loop stops at the first failed H_ENTER', () => {
  const w = rmaWorld(18, 0x1000, 12); // 4096 pages, NPTEG = 2048, mask 0x7ff
  assert.equal(kvmppc_hv_setup_rma(w.kvm, w.v), 0);
  const a = w.kvm.mmu;
  assert.equal(a.vrma_hptes, 2048);
  // i = 2047 → PTEG 0x7ff − 2047 = 0 → index 7; ptel = 0x190 | 0x7ff << 12.
  assert.equal(w.kvm.mmu.guestRBig(7), 0x7ff190n);
  // A slot already taken: the guest put an entry at (mask − 1)·8 + 7 before the first KVM_RUN.
  const x = rmaWorld(18, 0x1000, 12);
  const r = hcallBig(x.kvm, x.v, 0x08, [0x0000008000000000n, BigInt((0x7ff - 1) * 8 + 7), 0x123456001n, 0x1234192n]);
  assert.equal(r.ret, H_SUCCESS);
  assert.equal(kvmppc_hv_setup_rma(x.kvm, x.v), 0); // the kernel only pr_err()s
  const b = x.kvm.mmu;
  assert.equal(b.vrma_hptes, 1);
  assert.equal(b.vrma_failed_index, (0x7ff - 1) * 8 + 7);
  assert.equal(b.vrma_failed_ret, H_PTEG_FULL);
});

test('no memslot at gfn 0 → -EINVAL; an I/O VMA → -EINVAL', () => {
  const rec = Recorder.disabled();
  const phys = new PhysMem({ pageShift: 12, npages: 0x1000, seed: 1 });
  const mm = new HostMm({ phys, rec });
  const kvm = kvm_create_vm({ mm, rec, hptOrder: 18 });
  const v = new Vcpu(0, { rec, lpid: kvm.lpid });
  assert.equal(kvmppc_hv_setup_rma(kvm, v), -22);
  mm.mmap(UA, 0x10000, { cacheBits: 0x20 });
  kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: 0x10000, userspace_addr: UA });
  assert.equal(kvmppc_hv_setup_rma(kvm, v), -22);
});
