// Guest real mode on POWER7: the VRMA (virtualised real-mode area) and the kvm->arch fields that
// go with it (vrma_slb_v, the LPCR with VRMASD, rma_setup_done), plus kvmppc_hv_setup_rma, which
// the first KVM_RUN calls to create the VRMA HPTEs with H_ENTER (kernel-model §A.5, K34+).
//
// kvm->arch.lpcr is Kvm.lpcrHi/lpcrLo and rma_setup_done is Kvm.rma_setup_done (kvm.ts); vrma_slb_v
// and the set-up's results are the hash MMU's (kvm.mmu, hash/mmu.ts), created with the value
// kvmppc_core_init_vm() gives a POWER7 VM: vrma_slb_v = B_1T | VRMA_VSID << 24 (senc 0). PPC970 guests use kvmppc_hv_setup_rma_970
// (slot_phys.ts) instead: this file's set-up returns -EPERM for them, as K34 does without an RMA.

import {
  H_EXACT,
  H_SUCCESS,
  HPTE_R_C,
  HPTE_R_M,
  HPTE_R_R,
  HPTE_V_1TB_SEG,
  HPTE_V_BOLTED,
  HPTE_V_LARGE,
  LPCR_VRMASD_HI,
  PP_RWXX,
  slb_pgsize_encoding,
  VRMA_VSID,
  VRMA_VSID_LO,
} from '../../arch/index.js';
import { kvmppc_virtmode_h_enter } from './virtmode_h_enter.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type KvmVcpuRef } from '../types.js';
import { NO_CAUSE } from '../../trace/recorder.js';

const EINVAL = -22;
const EPERM = -1;

/** Bits in the first HPTE dword for page size 4k, 64k or 16M. */
// Mirrors hpte0_pgsize_encoding() (book3s_64_mmu_hv.c, Linux 3.4)
export function hpte0_pgsize_encoding(pgsize: number): bigint {
  return pgsize > 0x1000 ? HPTE_V_LARGE : 0n;
}

/** Bits in the second HPTE dword for page size 4k, 64k or 16M. */
// Mirrors hpte1_pgsize_encoding() (book3s_64_mmu_hv.c, Linux 3.4)
export function hpte1_pgsize_encoding(pgsize: number): bigint {
  return pgsize === 0x10000 ? 0x1000n : 0n;
}

/** One VRMA HPTE as kvmppc_map_vrma() computes it for page i. */
export interface VrmaHpte {
  /** PTEG * 8 + 7. */
  index: number;
  pteh: bigint;
  ptel: bigint;
}

/**
 * Number of VRMA pages for a slot of `slot_npages` host pages backed by pages of 2^porder bytes:
 * npages = slot_npages >> (porder - PAGE_SHIFT), capped at 1 TiB worth and at one per PTEG.
 */
// Mirrors the npages computation of kvmppc_map_vrma() (book3s_64_mmu_hv.c, Linux 3.4)
export function vrma_npages(slot_npages: number, porder: number, pageShift: number, npteg: number): number {
  let npages = Math.floor(slot_npages / 2 ** (porder - pageShift));
  if (npages > 2 ** (40 - porder)) npages = 2 ** (40 - porder);
  if (npages > npteg) npages = npteg;
  return npages;
}

/**
 * The HPTE kvmppc_map_vrma() enters for VRMA page i (page size 2^porder):
 * 1. hash = (i ^ (VRMA_VSID ^ (VRMA_VSID << 25))) & mask; index = hash * 8 + 7.
 * 2. pteh = 1TB_SEG | VRMA_VSID << 24 | BOLTED | (LARGE if > 4K) | ((i << porder) >> 16 & ~0x7f).
 * 3. ptel = (0x1000 if 64K) | R | C | M | PP_RWXX | (i << porder).
 */
// Mirrors the loop body of kvmppc_map_vrma() (book3s_64_mmu_hv.c, Linux 3.4)
export function vrma_hpte(i: number, porder: number, hashMask: number): VrmaHpte {
  const psize = 2 ** porder;
  const bi = BigInt(i);
  const addr = bi << BigInt(porder);
  const hash = (bi ^ (VRMA_VSID ^ (VRMA_VSID << 25n))) & BigInt(hashMask);
  const hp0 = HPTE_V_1TB_SEG | (VRMA_VSID << 24n) | HPTE_V_BOLTED | hpte0_pgsize_encoding(psize);
  const hp1 = hpte1_pgsize_encoding(psize) | HPTE_R_R | HPTE_R_C | HPTE_R_M | PP_RWXX;
  return {
    index: Number((hash << 3n) + 7n),
    pteh: hp0 | ((addr >> 16n) & ~0x7fn),
    ptel: hp1 | addr,
  };
}

/**
 * First-KVM_RUN set-up of guest real mode (POWER7, no preallocated RMA):
 * 1. Already done (another vcpu beat us) → 0.
 * 2. The memslot containing gfn 0 must exist and be valid → else -EINVAL.
 * 3. Its VMA (at userspace_addr) must exist and not be VM_IO (here: a VMA with cache-inhibit /
 *    write-through bits) → else -EINVAL. psize = the VMA's page size.
 * 4. PPC970 without an RMA → -EPERM ("CPU requires an RMO"); psize not 4K/64K/16M → -EINVAL.
 * 5. senc = slb_pgsize_encoding(psize); vrma_slb_v = senc | B_1T | VRMA_VSID << 24;
 *    kvm.lpcr = (lpcr & ~VRMASD) | senc << (LPCR_VRMASD_SH - 4) (the machine loads it at entry).
 * 6. kvmppc_map_vrma: one H_ENTER(H_EXACT) per VRMA page at PTEG*8+7 (vrma_hpte); the first
 *    failure stops the loop (pr_err in the kernel), without failing the set-up.
 * 7. rma_setup_done = 1; return 0.
 * The H_ENTERs are recorded as hpte_write / rmap_change with the vcpu/core/cause given here.
 * A preallocated RMA (kvm_rma_fops VMA) is not modelled.
 */
// Mirrors kvmppc_hv_setup_rma() + kvmppc_map_vrma() (book3s_hv.c, book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_hv_setup_rma(kvm: Kvm, vcpu: KvmVcpuRef, cause: number = NO_CAUSE): number {
  const arch = kvm.mmu;
  // 1.
  if (kvm.rma_setup_done) return 0;
  // 2.
  const slot = kvm.gfn_to_memslot(0);
  if (slot === null || (slot.flags & KVM_MEMSLOT_INVALID) !== 0) return EINVAL;
  // 3.
  const vma = kvm.mm.find_vma(slot.userspace_addr);
  if (vma === null || vma.start > slot.userspace_addr || vma.cacheBits !== 0) return EINVAL;
  const porder = vma.pageShift;
  const psize = 2 ** porder;
  // 4.
  if (!kvm.arch206) return EPERM;
  if (!(psize === 0x1000 || psize === 0x10000 || psize === 0x1000000)) return EINVAL;
  // 5.
  const senc = slb_pgsize_encoding(psize);
  arch.vrma_slb_vLo = (((VRMA_VSID_LO & 0xff) << 24) | senc) >>> 0;
  kvm.lpcrHi = ((kvm.lpcrHi & ~LPCR_VRMASD_HI) | (senc << 11)) >>> 0;
  // 6.
  const n = vrma_npages(slot.npages, porder, kvm.pageShift, kvm.mmu.geom.npteg);
  kvm.setCtx(vcpu.vcpu_id, vcpu.core, cause);
  try {
    for (let i = 0; i < n; i++) {
      const h = vrma_hpte(i, porder, kvm.mmu.geom.hashMask);
      const [ret] = kvmppc_virtmode_h_enter(kvm, H_EXACT, BigInt(h.index), h.pteh, h.ptel);
      if (ret !== H_SUCCESS) {
        arch.vrma_failed_index = h.index;
        arch.vrma_failed_ret = ret;
        break;
      }
      arch.vrma_hptes++;
    }
  } finally {
    kvm.clearCtx();
  }
  // 7.
  kvm.rma_setup_done = true;
  return 0;
}
