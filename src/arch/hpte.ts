// HPTE layout and the small helpers KVM and the hardware use to interpret one entry.
//
// Naming (same in every src/arch file; word.ts has the long version):
//   NAME     bigint, the full 64-bit constant as the kernel spells it     HPTE_R_KEY_HI = 0x3000000000000000n
//   NAME_HI  number, bits 63..32, exported only if nonzero                HPTE_R_KEY_HI_HI = 0x30000000
//   NAME_LO  number, bits 31..0, exported only if nonzero                 HPTE_V_VALID_LO = 0x1
// Hot-path functions take (hi, lo) halves and allocate nothing; `<name>_big` is the BigInt reference
// written straight from the kernel expression, used by tests and edge code.
//
// Every field KVM's per-entry decisions need (L, VALID/ABSENT, LP, WIMG, N, PP, R/C, KEY_LO) is in
// the low word; only PP0, TS, KEY_HI and the upper RPN bits live in the high word.

import type { Word64Out } from './word.js';

const M64 = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/mmu-hash64.h (Linux 3.4): HPTE dword 0 ("V")
// ---------------------------------------------------------------------------------------------

export const HPTE_V_SSIZE_SHIFT = 62;
export const HPTE_V_AVPN_SHIFT = 7;

/**
 * B (segment size) field. Not a kernel name: 3.4 defines only HPTE_V_SSIZE_SHIFT, and KVM masks this
 * field with SLB_VSID_B (same value). 00 = 256 MiB, 01 = 1 TiB, 1x reserved.
 */
export const HPTE_V_SSIZE = 0xc000000000000000n;
export const HPTE_V_SSIZE_HI = 0xc0000000;

export const HPTE_V_1TB_SEG = 0x4000000000000000n;
export const HPTE_V_1TB_SEG_HI = 0x40000000;

/** Abbreviated virtual page number: (VA >> 23) << 7. */
export const HPTE_V_AVPN = 0x3fffffffffffff80n;
export const HPTE_V_AVPN_HI = 0x3fffffff;
export const HPTE_V_AVPN_LO = 0xffffff80;

export const HPTE_V_BOLTED = 0x10n;
export const HPTE_V_BOLTED_LO = 0x10;
export const HPTE_V_LOCK = 0x08n;
export const HPTE_V_LOCK_LO = 0x08;
export const HPTE_V_LARGE = 0x4n;
export const HPTE_V_LARGE_LO = 0x4;
export const HPTE_V_SECONDARY = 0x2n;
export const HPTE_V_SECONDARY_LO = 0x2;
export const HPTE_V_VALID = 0x1n;
export const HPTE_V_VALID_LO = 0x1;

/** The dword-0 bits common to every VRMA HPTE: B = 1T and VSID = VRMA_VSID. */
export const HPTE_V_VRMA_MASK = 0x4001ffffff000000n;
export const HPTE_V_VRMA_MASK_HI = 0x4001ffff;
export const HPTE_V_VRMA_MASK_LO = 0xff000000;

/**
 * Mask of Linux's HPTE_V_COMPARE(x, y) macro: everything except the low 7 (software/L/H/V) bits.
 * Not a kernel name (the macro has the literal inline).
 */
export const HPTE_V_COMPARE_MASK = 0xffffffffffffff80n;
export const HPTE_V_COMPARE_MASK_HI = 0xffffffff;
export const HPTE_V_COMPARE_MASK_LO = 0xffffff80;

/** QEMU's HPTE64_V_COMPARE mask (target/ppc/mmu-hash64.h): B, AVPN, H and V. The hardware view. */
export const HPTE64_V_COMPARE_MASK = 0xffffffffffffff83n;
export const HPTE64_V_COMPARE_MASK_HI = 0xffffffff;
export const HPTE64_V_COMPARE_MASK_LO = 0xffffff83;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_book3s_64.h (Linux 3.4): KVM's software bits in dword 0
// ---------------------------------------------------------------------------------------------

/** Per-HPTE spin lock taken by KVM (try_lock_hpte). Never set at a quiescent point. */
export const HPTE_V_HVLOCK = 0x40n;
export const HPTE_V_HVLOCK_LO = 0x40;
/** "Guest thinks it is valid, hardware sees it invalid" (paged out, or emulated MMIO). */
export const HPTE_V_ABSENT = 0x20n;
export const HPTE_V_ABSENT_LO = 0x20;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/mmu-hash64.h (Linux 3.4): HPTE dword 1 ("R")
// ---------------------------------------------------------------------------------------------

export const HPTE_R_PP0 = 0x8000000000000000n;
export const HPTE_R_PP0_HI = 0x80000000;
export const HPTE_R_TS = 0x4000000000000000n;
export const HPTE_R_TS_HI = 0x40000000;
/** Storage key bits 4:3. */
export const HPTE_R_KEY_HI = 0x3000000000000000n;
export const HPTE_R_KEY_HI_HI = 0x30000000;
export const HPTE_R_RPN_SHIFT = 12;
/** Real page number in 4 KiB units; for large pages its low bits carry the LP encoding. */
export const HPTE_R_RPN = 0x0ffffffffffff000n;
export const HPTE_R_RPN_HI = 0x0fffffff;
export const HPTE_R_RPN_LO = 0xfffff000;
export const HPTE_R_PP = 0x3n;
export const HPTE_R_PP_LO = 0x3;
export const HPTE_R_N = 0x4n;
export const HPTE_R_N_LO = 0x4;
export const HPTE_R_G = 0x8n;
export const HPTE_R_G_LO = 0x8;
export const HPTE_R_M = 0x10n;
export const HPTE_R_M_LO = 0x10;
export const HPTE_R_I = 0x20n;
export const HPTE_R_I_LO = 0x20;
export const HPTE_R_W = 0x40n;
export const HPTE_R_W_LO = 0x40;
export const HPTE_R_WIMG = 0x78n;
export const HPTE_R_WIMG_LO = 0x78;
export const HPTE_R_C = 0x80n;
export const HPTE_R_C_LO = 0x80;
export const HPTE_R_R = 0x100n;
export const HPTE_R_R_LO = 0x100;
/** Storage key bits 2:0. */
export const HPTE_R_KEY_LO = 0xe00n;
export const HPTE_R_KEY_LO_LO = 0xe00;


// PP values (assume Ks = 0, Kp = 1). PP_RXXX is the only one with PP0 set.
/** Supervisor read/write, user none. */
export const PP_RWXX = 0n;
/** Supervisor read/write, user read. */
export const PP_RWRX = 1n;
export const PP_RWRX_LO = 1;
/** Supervisor read/write, user read/write. */
export const PP_RWRW = 2n;
export const PP_RWRW_LO = 2;
/** Supervisor read, user read. */
export const PP_RXRX = 3n;
export const PP_RXRX_LO = 3;
/** Supervisor read, user none: PP0 | 2. */
export const PP_RXXX = 0x8000000000000002n;
export const PP_RXXX_HI = 0x80000000;
export const PP_RXXX_LO = 2;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_book3s_64.h (Linux 4.20): guest_rpte software bit
// ---------------------------------------------------------------------------------------------

/** K420 only: guest_rpte bit used by HTAB migration; stripped from guest input and output. */
export const HPTE_GR_MODIFIED = 0x4000000000000000n;
export const HPTE_GR_MODIFIED_HI = 0x40000000;

// ---------------------------------------------------------------------------------------------
// Helpers. Page sizes are byte counts (0x1000, 0x10000, 0x1000000); 0 means "bad encoding".
// `arch206` is cpu_has_feature(CPU_FTR_ARCH_206): true on POWER7, false on PPC970.
// ---------------------------------------------------------------------------------------------

const PAGE_4K = 0x1000;
const PAGE_64K = 0x10000;
const PAGE_16M = 0x1000000;

/**
 * Page size encoded by an HPTE: 4 KiB without L; with L, LP nibble 0001 means 64 KiB (POWER7 only)
 * and bits 12..19 all zero mean 16 MiB; anything else is 0. Only the low words matter.
 */
// Mirrors hpte_page_size() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_page_size(v_lo: number, r_lo: number, arch206: boolean): number {
  if ((v_lo & HPTE_V_LARGE_LO) === 0) return PAGE_4K;
  if ((r_lo & 0xf000) === 0x1000 && arch206) return PAGE_64K;
  if ((r_lo & 0xff000) === 0) return PAGE_16M;
  return 0;
}

export function hpte_page_size_big(v: bigint, r: bigint, arch206: boolean): number {
  if ((v & HPTE_V_LARGE) === 0n) return PAGE_4K;
  if ((r & 0xf000n) === 0x1000n && arch206) return PAGE_64K;
  if ((r & 0xff000n) === 0n) return PAGE_16M;
  return 0;
}

/**
 * Base frame number of the page an HPTE maps: ((ptel & RPN) & ~(psize - 1)) >> pageShift, where
 * pageShift is the *host* PAGE_SHIFT (12 or 16), so the result is a Gfn when ptel is a guest view.
 * With pageShift = 0 it is the page's base gpa. psize: a power of two (as from hpte_page_size);
 * pageShift in [0, 32]. The result is below 2^48, so it is exact as a number.
 */
// Mirrors hpte_rpn() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_rpn(r_hi: number, r_lo: number, psize: number, pageShift: number): number {
  // ~(psize - 1), split: psize <= 2^32 only touches the low word.
  const loMask = psize >= 0x1_0000_0000 ? 0 : ~(psize - 1);
  const hiMask = psize > 0x1_0000_0000 ? ~(psize / 0x1_0000_0000 - 1) : -1;
  const hi = (r_hi & HPTE_R_RPN_HI & hiMask) >>> 0;
  const lo = (r_lo & HPTE_R_RPN_LO & loMask) >>> 0;
  const loPart = pageShift >= 32 ? 0 : lo >>> pageShift;
  return hi * 2 ** (32 - pageShift) + loPart;
}

export function hpte_rpn_big(ptel: bigint, psize: bigint, pageShift: number): bigint {
  return ((ptel & HPTE_R_RPN) & (~(psize - 1n) & M64)) >> BigInt(pageShift);
}

/** False exactly for PP_RXRX (3) and PP_RXXX (PP0|2), the read-only encodings. */
// Mirrors hpte_is_writable() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_is_writable(r_hi: number, r_lo: number): boolean {
  const pp = r_lo & HPTE_R_PP_LO;
  return (r_hi & HPTE_R_PP0_HI) === 0 ? pp !== PP_RXRX_LO : pp !== PP_RXXX_LO;
}

export function hpte_is_writable_big(ptel: bigint): boolean {
  const pp = ptel & (HPTE_R_PP0 | HPTE_R_PP);
  return pp !== PP_RXRX && pp !== PP_RXXX;
}

/**
 * Read-only version of a dword 1: PP0 set or PP = 0 → PP_RXXX (PP0|2), else PP |= 3 (PP_RXRX).
 * Writes the result to out[off] (hi), out[off + 1] (lo).
 */
// Mirrors hpte_make_readonly() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_make_readonly(r_hi: number, r_lo: number, out: Word64Out, off = 0): void {
  if ((r_hi & HPTE_R_PP0_HI) !== 0 || (r_lo & HPTE_R_PP_LO) === 0) {
    out[off] = (r_hi | PP_RXXX_HI) >>> 0;
    out[off + 1] = ((r_lo & ~HPTE_R_PP_LO) | PP_RXXX_LO) >>> 0;
  } else {
    out[off] = r_hi >>> 0;
    out[off + 1] = (r_lo | PP_RXRX_LO) >>> 0;
  }
}

export function hpte_make_readonly_big(ptel: bigint): bigint {
  if ((ptel & HPTE_R_PP0) !== 0n || (ptel & HPTE_R_PP) === PP_RWXX) {
    return (ptel & (~HPTE_R_PP & M64)) | PP_RXXX;
  }
  return ptel | PP_RXRX;
}

/**
 * KVM's read check on the guest view: key ≠ 0 → PP_RWRX ≤ pp ≤ PP_RXRX (any PP0 value fails, since
 * the kernel compares the 64-bit pp); key = 0 → always. `key` is slb_v & (MSR.PR ? Kp : Ks), any
 * nonzero value meaning key 1. Accepts pp = r & (PP0|PP) or a whole dword 1: it masks itself.
 */
// Mirrors hpte_read_permission() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_read_permission(pp_hi: number, pp_lo: number, key: number): boolean {
  if (key === 0) return true;
  return (pp_hi & HPTE_R_PP0_HI) === 0 && (pp_lo & HPTE_R_PP_LO) !== 0;
}

/** `pp` must already be r & (PP0|PP), exactly as the kernel's argument. */
export function hpte_read_permission_big(pp: bigint, key: bigint): boolean {
  if (key !== 0n) return PP_RWRX <= pp && pp <= PP_RXRX;
  return true;
}

/** KVM's write check: key ≠ 0 → pp == PP_RWRW; key = 0 → pp ≤ PP_RWRW (unsigned, so PP0 fails). */
// Mirrors hpte_write_permission() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_write_permission(pp_hi: number, pp_lo: number, key: number): boolean {
  if ((pp_hi & HPTE_R_PP0_HI) !== 0) return false;
  const pp = pp_lo & HPTE_R_PP_LO;
  return key !== 0 ? pp === PP_RWRW_LO : pp <= PP_RWRW_LO;
}

/** `pp` must already be r & (PP0|PP). */
export function hpte_write_permission_big(pp: bigint, key: bigint): boolean {
  if (key !== 0n) return pp === PP_RWRW;
  return pp <= PP_RWRW;
}

/** The 5-bit storage key: KEY_HI (bits 61:60) → key bits 4:3, KEY_LO (bits 11:9) → key bits 2:0. */
export function hpte_storage_key(r_hi: number, r_lo: number): number {
  return ((r_hi & HPTE_R_KEY_HI_HI) >>> 25) | ((r_lo & HPTE_R_KEY_LO_LO) >>> 9);
}

export function hpte_storage_key_big(r: bigint): number {
  return Number(((r & HPTE_R_KEY_HI) >> 57n) | ((r & HPTE_R_KEY_LO) >> 9n));
}

/** Storage key 31 (KEY_HI and KEY_LO all ones): KVM's mark for an emulated-MMIO HPTE. */
export function hpte_is_mmio_key(r_hi: number, r_lo: number): boolean {
  return (r_hi & HPTE_R_KEY_HI_HI) === HPTE_R_KEY_HI_HI && (r_lo & HPTE_R_KEY_LO_LO) === HPTE_R_KEY_LO_LO;
}

/**
 * AMR bit pair for the HPTE's storage key: (amr >> (62 - 2*key)) & 3. Bit 0 denies loads; a store
 * checks bit 1 (the kernel shifts right by one first).
 */
// Mirrors hpte_get_skey_perm() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_get_skey_perm(r_hi: number, r_lo: number, amr_hi: number, amr_lo: number): number {
  const sh = 62 - 2 * hpte_storage_key(r_hi, r_lo); // even, 0..62: a pair never straddles the halves
  return sh >= 32 ? (amr_hi >>> (sh - 32)) & 3 : (amr_lo >>> sh) & 3;
}

export function hpte_get_skey_perm_big(r: bigint, amr: bigint): number {
  const skey = BigInt(hpte_storage_key_big(r));
  return Number((amr >> (62n - 2n * skey)) & 3n);
}

/**
 * WIMG check of a guest dword 1 against the backing page. io_type is the host's cache bits
 * (HPTE_R_W|HPTE_R_I subset): 0 for RAM, which requires WIMG == M (POWER7 also accepts SAO = W|I|M);
 * nonzero for I/O, which requires the guest's W|I bits to equal it. The kernel's "unknown" sentinel
 * (is_io = ~0ul) is the caller's business: it skips this call.
 */
// Mirrors hpte_cache_flags_ok() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function hpte_cache_flags_ok(r_lo: number, io_type: number, arch206: boolean): boolean {
  let wimg = r_lo & HPTE_R_WIMG_LO;
  if (wimg === (HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_M_LO) && arch206) wimg = HPTE_R_M_LO;
  if (io_type === 0) return wimg === HPTE_R_M_LO;
  return (wimg & (HPTE_R_W_LO | HPTE_R_I_LO)) === io_type;
}

export function hpte_cache_flags_ok_big(ptel: bigint, io_type: bigint, arch206: boolean): boolean {
  let wimg = ptel & HPTE_R_WIMG;
  if (wimg === (HPTE_R_W | HPTE_R_I | HPTE_R_M) && arch206) wimg = HPTE_R_M;
  if (io_type === 0n) return wimg === HPTE_R_M;
  return (wimg & (HPTE_R_W | HPTE_R_I)) === io_type;
}

/**
 * Replace the RPN bits at and above log2(psize) with those of `pa`, keeping PP0 and everything
 * below psize (LP, KEY_LO, R, C, WIMG, N, PP): ptel = (ptel & ~(HPTE_R_PP0 - psize)) | pa.
 * Note that KEY_HI and TS are *cleared* (they lie inside PP0 - psize), exactly as in K34.
 * psize: a power of two ≤ 2^32. Result to out[off], out[off + 1].
 */
// Mirrors the RPN substitution in kvmppc_h_enter() and kvmppc_book3s_hv_page_fault() (Linux 3.4)
export function hpte_set_rpn(
  r_hi: number,
  r_lo: number,
  psize: number,
  pa_hi: number,
  pa_lo: number,
  out: Word64Out,
  off = 0,
): void {
  // ~(PP0 - psize) = PP0 | (psize - 1) for psize ≤ 2^32.
  out[off] = ((r_hi & HPTE_R_PP0_HI) | pa_hi) >>> 0;
  out[off + 1] = ((r_lo & (psize - 1)) | pa_lo) >>> 0;
}

export function hpte_set_rpn_big(ptel: bigint, psize: bigint, pa: bigint): bigint {
  return (ptel & (~(HPTE_R_PP0 - psize) & M64)) | pa;
}

/** HPTE_V_COMPARE(x, y): equal in everything but the low 7 bits. */
// Mirrors HPTE_V_COMPARE() (arch/powerpc/include/asm/mmu-hash64.h, Linux 3.4)
export function hpte_v_compare(x_hi: number, x_lo: number, y_hi: number, y_lo: number): boolean {
  return (x_hi ^ y_hi) === 0 && ((x_lo ^ y_lo) & HPTE_V_COMPARE_MASK_LO) === 0;
}

export function hpte_v_compare_big(x: bigint, y: bigint): boolean {
  return ((x ^ y) & HPTE_V_COMPARE_MASK) === 0n;
}

// ---------------------------------------------------------------------------------------------
// target/ppc/mmu-hash64.c (QEMU): the architectural permission model, for the hardware side.
// KVM's checks above differ for key 0 with PP0 set (see TV6): use these for what the CPU does,
// KVM's for what KVM decides.
// ---------------------------------------------------------------------------------------------

/** QEMU's prot bits (include/exec/cpu-all.h). */
export const PAGE_READ = 0x1;
export const PAGE_WRITE = 0x2;
export const PAGE_EXEC = 0x4;
const PAGE_RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
const PAGE_RX = PAGE_READ | PAGE_EXEC;

/**
 * Basic storage protection from PP0||PP and the segment key (nonzero = key 1; the caller passes
 * slb_v & (MSR.PR ? Kp : Ks)). pp3 = PP | PP0 >> 61. Undefined encodings give no access.
 *   key 0: 0, 1, 2 → RWX; 3, 6 → RX; 4, 5, 7 → none
 *   key 1: 0, 6 → none; 1, 3 → RX; 2 → RWX; 4, 5, 7 → none
 */
// Mirrors ppc_hash64_pte_prot() (target/ppc/mmu-hash64.c, QEMU)
export function ppc_hash64_pte_prot(key: number, r_hi: number, r_lo: number): number {
  const pp = (r_lo & HPTE_R_PP_LO) | ((r_hi & HPTE_R_PP0_HI) >>> 29);
  if (key === 0) {
    if (pp <= 2) return PAGE_RWX;
    if (pp === 3 || pp === 6) return PAGE_RX;
    return 0;
  }
  if (pp === 2) return PAGE_RWX;
  if (pp === 1 || pp === 3) return PAGE_RX;
  return 0;
}

export function ppc_hash64_pte_prot_big(key: bigint, r: bigint): number {
  const pp = Number((r & HPTE_R_PP) | ((r & HPTE_R_PP0) >> 61n));
  return (key !== 0n ? PTE_PROT_KEY1 : PTE_PROT_KEY0)[pp];
}

// The two switch statements of ppc_hash64_pte_prot() as tables indexed by pp3.
const PTE_PROT_KEY0: readonly number[] = [PAGE_RWX, PAGE_RWX, PAGE_RWX, PAGE_RX, 0, 0, PAGE_RX, 0];
const PTE_PROT_KEY1: readonly number[] = [0, PAGE_RX, PAGE_RWX, PAGE_RX, 0, 0, 0, 0];

/** N or G set: no execute (never takes away read or write). */
// Mirrors ppc_hash64_pte_noexec_guard() (target/ppc/mmu-hash64.c, QEMU)
export function ppc_hash64_pte_noexec_guard(r_lo: number): number {
  return (r_lo & (HPTE_R_N_LO | HPTE_R_G_LO)) !== 0 ? PAGE_READ | PAGE_WRITE : PAGE_RWX;
}

/**
 * Virtual page class key protection: AMR pair (AMR >> 2*(31 - key)) & 3; 0x2 denies stores, 0x1
 * denies loads. POWER7 (MMU 2.06) has no IAMR, so execute is never removed here.
 */
// Mirrors ppc_hash64_amr_prot() (target/ppc/mmu-hash64.c, QEMU; IAMR part omitted, MMU 2.07+ only)
export function ppc_hash64_amr_prot(r_hi: number, r_lo: number, amr_hi: number, amr_lo: number): number {
  const amrbits = hpte_get_skey_perm(r_hi, r_lo, amr_hi, amr_lo); // same pair: 62 - 2k == 2*(31 - k)
  let prot = PAGE_RWX;
  if ((amrbits & 0x2) !== 0) prot &= ~PAGE_WRITE;
  if ((amrbits & 0x1) !== 0) prot &= ~PAGE_READ;
  return prot;
}

export function ppc_hash64_amr_prot_big(r: bigint, amr: bigint): number {
  const key = BigInt(hpte_storage_key_big(r));
  const amrbits = Number((amr >> (2n * (31n - key))) & 3n);
  let prot = PAGE_RWX;
  if ((amrbits & 0x2) !== 0) prot &= ~PAGE_WRITE;
  if ((amrbits & 0x1) !== 0) prot &= ~PAGE_READ;
  return prot;
}
