// SLB entry words, segment geometry and the VRMA pseudo-segment.
//
// Naming as in word.ts: NAME bigint (kernel spelling), NAME_HI / NAME_LO its nonzero 32-bit halves.
// Flag bits of the VSID word (Ks, Kp, N, L, C, LP) are all in the low word; B is in the high word.

import type { Word64Out } from './word.js';

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/page_64.h (Linux 3.4): segment sizes
// ---------------------------------------------------------------------------------------------

export const SID_SHIFT = 28;
export const SID_MASK = 0xfffffffffn;
export const SID_MASK_HI = 0xf;
export const SID_MASK_LO = 0xffffffff;
export const ESID_MASK = 0xfffffffff0000000n;
export const ESID_MASK_HI = 0xffffffff;
export const ESID_MASK_LO = 0xf0000000;
export const SID_SHIFT_1T = 40;
export const SID_MASK_1T = 0xffffffn;
export const SID_MASK_1T_LO = 0xffffff;
export const ESID_MASK_1T = 0xffffff0000000000n;
export const ESID_MASK_1T_HI = 0xffffff00;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/mmu-hash64.h (Linux 3.4): SLB ESID and VSID words
// ---------------------------------------------------------------------------------------------

export const SLB_ESID_V = 0x0000000008000000n;
export const SLB_ESID_V_LO = 0x08000000;

export const SLB_VSID_SHIFT = 12;
export const SLB_VSID_SHIFT_1T = 24;
export const SLB_VSID_SSIZE_SHIFT = 62;
/** Segment size field (same bits as HPTE dword 0's B). */
export const SLB_VSID_B = 0xc000000000000000n;
export const SLB_VSID_B_HI = 0xc0000000;
export const SLB_VSID_B_256M = 0x0000000000000000n;
export const SLB_VSID_B_1T = 0x4000000000000000n;
export const SLB_VSID_B_1T_HI = 0x40000000;
/** Supervisor-state key. */
export const SLB_VSID_KS = 0x800n;
export const SLB_VSID_KS_LO = 0x800;
/** Problem-state key. */
export const SLB_VSID_KP = 0x400n;
export const SLB_VSID_KP_LO = 0x400;
/** No-execute segment. */
export const SLB_VSID_N = 0x200n;
export const SLB_VSID_N_LO = 0x200;
/** Large base page size (size from LP). */
export const SLB_VSID_L = 0x100n;
export const SLB_VSID_L_LO = 0x100;
/** Class. */
export const SLB_VSID_C = 0x80n;
export const SLB_VSID_C_LO = 0x80;
export const SLB_VSID_LP = 0x30n;
export const SLB_VSID_LP_LO = 0x30;
export const SLB_VSID_LP_00 = 0x00n;
export const SLB_VSID_LP_01 = 0x10n;
export const SLB_VSID_LP_01_LO = 0x10;
export const SLB_VSID_LP_10 = 0x20n;
export const SLB_VSID_LP_10_LO = 0x20;
export const SLB_VSID_LP_11 = 0x30n;
export const SLB_VSID_LP_11_LO = 0x30;
export const SLB_VSID_LLP = 0x130n;
export const SLB_VSID_LLP_LO = 0x130;
export const SLB_VSID_KERNEL = 0x400n;
export const SLB_VSID_KERNEL_LO = 0x400;
/** Kp | Ks | C. */
export const SLB_VSID_USER = 0xc80n;
export const SLB_VSID_USER_LO = 0xc80;

// ---------------------------------------------------------------------------------------------
// target/ppc/mmu-hash64.h (QEMU): the legal L||LP combinations, by base page size
// ---------------------------------------------------------------------------------------------

export const SLB_VSID_4K = 0x000n;
export const SLB_VSID_64K = 0x110n;
export const SLB_VSID_64K_LO = 0x110;
export const SLB_VSID_16M = 0x100n;
export const SLB_VSID_16M_LO = 0x100;
export const SLB_VSID_16G = 0x120n;
export const SLB_VSID_16G_LO = 0x120;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/kvm/book3s_hv_rm_mmu.c and book3s_64_mmu_hv.c (Linux 3.4)
// ---------------------------------------------------------------------------------------------

/** Base page shift of a large-page segment, indexed by LP (SLB_VSID_LP >> 4): 16M, 64K, 16G, 1M. */
// Mirrors slb_base_page_shift[] (book3s_hv_rm_mmu.c, Linux 3.4); index 3 (1M) is "unsupported" there.
export const slb_base_page_shift: readonly number[] = Object.freeze([24, 16, 34, 20]);

/** Base page shift of the segment described by slb_v: 12 without L, else from LP. */
export function slb_v_base_page_shift(slb_v_lo: number): number {
  if ((slb_v_lo & SLB_VSID_L_LO) === 0) return 12;
  return slb_base_page_shift[(slb_v_lo & SLB_VSID_LP_LO) >>> 4];
}

/** SLB entries per vcpu: POWER7 32, PPC970 64 (the kernel sets vcpu->arch.slb_nr inline). */
export const SLB_NR_POWER7 = 32;
export const SLB_NR_PPC970 = 64;

/** True for a 1 TiB segment (B = 01); KVM tests only this bit. */
export function slb_v_is_1t(slb_v_hi: number): boolean {
  return (slb_v_hi & SLB_VSID_B_1T_HI) !== 0;
}

/**
 * The segment's VSID as KVM extracts it: (slb_v & ~B) >> 12 (256M) or >> 24 (1T). Result to
 * out[off] (hi), out[off + 1] (lo).
 */
// Mirrors the vsid computation in kvmppc_hv_find_lock_hpte() (book3s_hv_rm_mmu.c, Linux 3.4)
export function slb_vsid(slb_v_hi: number, slb_v_lo: number, out: Word64Out, off = 0): void {
  const h = slb_v_hi & ~SLB_VSID_B_HI;
  if ((slb_v_hi & SLB_VSID_B_1T_HI) !== 0) {
    out[off] = h >>> 24;
    out[off + 1] = ((slb_v_lo >>> 24) | (h << 8)) >>> 0;
  } else {
    out[off] = h >>> 12;
    out[off + 1] = ((slb_v_lo >>> 12) | (h << 20)) >>> 0;
  }
}

/**
 * Does the SLB entry (orige, origv) translate EA? Valid, and the ESID bits (256M or 1T mask
 * according to origv's B) equal EA's.
 */
// Mirrors the loop test of kvmppc_mmu_book3s_hv_find_slbe() (book3s_64_mmu_hv.c, Linux 3.4)
export function slb_esid_match(
  orige_hi: number,
  orige_lo: number,
  origv_hi: number,
  ea_hi: number,
  ea_lo: number,
): boolean {
  if ((orige_lo & SLB_ESID_V_LO) === 0) return false;
  if ((origv_hi & SLB_VSID_B_1T_HI) !== 0) {
    return ((orige_hi ^ ea_hi) & ESID_MASK_1T_HI) === 0;
  }
  return (orige_hi ^ ea_hi) === 0 && ((orige_lo ^ ea_lo) & ESID_MASK_LO) === 0;
}

/** Protection key for PP checks: slb_v & (MSR.PR ? Kp : Ks). Nonzero means key 1. */
export function slb_key(slb_v_lo: number, msr_pr: boolean): number {
  return slb_v_lo & (msr_pr ? SLB_VSID_KP_LO : SLB_VSID_KS_LO);
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_book3s_64.h and book3s_hv.c (Linux 3.4): VRMA
// ---------------------------------------------------------------------------------------------

/** 1 TiB VSID reserved for the guest's virtualised real-mode area (25 bits). */
export const VRMA_VSID = 0x1ffffffn;
export const VRMA_VSID_LO = 0x1ffffff;

/**
 * SLB L||LP encoding ("senc") for a VRMA backed by pages of `psize` bytes: 0 for 4K, L (0x100)
 * for anything larger, L | LP_01 (0x110) for 64K.
 */
// Mirrors slb_pgsize_encoding() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
export function slb_pgsize_encoding(psize: number): number {
  let senc = 0;
  if (psize > 0x1000) {
    senc = SLB_VSID_L_LO;
    if (psize === 0x10000) senc |= SLB_VSID_LP_01_LO;
  }
  return senc;
}

/** kvm->arch.vrma_slb_v = senc | SLB_VSID_B_1T | (VRMA_VSID << SLB_VSID_SHIFT_1T). */
// Mirrors the vrma_slb_v assignment in kvmppc_hv_setup_rma() (book3s_hv.c, Linux 3.4)
export function vrma_slb_v(senc: number): bigint {
  return BigInt(senc) | SLB_VSID_B_1T | (VRMA_VSID << BigInt(SLB_VSID_SHIFT_1T));
}
