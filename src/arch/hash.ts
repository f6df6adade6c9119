// The hashed page table: geometry, the hash, KVM's lookup key and the tlbie RB value.
//
// Naming as in word.ts / hpte.ts: NAME bigint, NAME_HI / NAME_LO nonzero 32-bit halves; hot-path
// functions take (hi, lo) halves and allocate nothing; `<name>_big` is the BigInt reference.
//
// VSIDs may exceed 32 bits (up to 36 in 256 MiB segments as Linux allocates them, and the hardware
// field is wider), so they travel as (hi, lo). A hash is returned as a number: Linux truncates it to
// 39 bits, which is exact in a double and loses nothing once the PTEG mask (at most 2^39 - 1, order
// 46) is applied.

import {
  HPTE_V_1TB_SEG_HI,
  HPTE_V_AVPN_HI,
  HPTE_V_AVPN_LO,
  HPTE_V_LARGE,
  HPTE_V_LARGE_LO,
  HPTE_V_SECONDARY,
  HPTE_V_SECONDARY_LO,
  HPTE_V_AVPN,
  HPTE_V_1TB_SEG,
  hpte_page_size,
} from './hpte.js';
import {
  SLB_VSID_B,
  SLB_VSID_B_1T,
  SLB_VSID_B_1T_HI,
  SLB_VSID_B_HI,
  SLB_VSID_L,
  SLB_VSID_LP,
  SLB_VSID_LP_LO,
  SLB_VSID_L_LO,
  SLB_VSID_SHIFT,
  SLB_VSID_SHIFT_1T,
  slb_base_page_shift,
} from './slb.js';
import type { Word64Out } from './word.js';

const M64 = (1n << 64n) - 1n;
const TWO32 = 0x1_0000_0000;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/mmu-hash64.h (Linux 3.4)
// ---------------------------------------------------------------------------------------------

export const HPTES_PER_GROUP = 8;
/** Segment sizes as carried in the B field of SLB entries and HPTE dword 0. */
export const MMU_SEGSIZE_256M = 0;
export const MMU_SEGSIZE_1T = 1;

/** Linux's hpt_hash() truncates to 39 bits. */
export const HPT_HASH_BITS = 39;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_book3s_64.h (Linux 3.4) and later kernels: HPT size
// ---------------------------------------------------------------------------------------------

/** K31–K34: the one fixed HPT order (16 MiB). */
export const HPT_ORDER = 24;
/** K36: default order for KVM_PPC_ALLOCATE_HTAB and the implicit first-run allocation. */
export const KVM_DEFAULT_HPT_ORDER = 24;
/** K36 raises smaller requests to 18; K420 rejects orders outside [18, 46]. */
export const PPC_MIN_HPT_ORDER = 18;
export const PPC_MAX_HPT_ORDER = 46;

/** Everything derived from an HPT order. Built once per VM, so a plain object is fine. */
export interface HptGeometry {
  /** log2 of the table size in bytes. */
  readonly order: number;
  readonly bytes: number;
  /** HPTEs: 2^(order - 4) (16 bytes each). */
  readonly npte: number;
  /** PTEGs: 2^(order - 7) (128 bytes, 8 HPTEs each). */
  readonly npteg: number;
  /** NPTEG - 1: PTEG = hash & hashMask. Up to 2^39 - 1, so it may exceed 32 bits. */
  readonly hashMask: number;
  /** SDR1 HTABSIZE field (low 5 bits): order - 18. */
  readonly htabsize: number;
}

/**
 * Geometry of an HPT of 2^order bytes. Throws RangeError outside [PPC_MIN_HPT_ORDER,
 * PPC_MAX_HPT_ORDER] (the K420 rule; K31–K34 only ever use HPT_ORDER).
 */
// Mirrors HPT_NPTEG / HPT_NPTE / HPT_HASH_MASK (kvm_book3s_64.h, Linux 3.4) generalised as in 3.6+
export function hpt_geometry(order: number): HptGeometry {
  if (!Number.isInteger(order) || order < PPC_MIN_HPT_ORDER || order > PPC_MAX_HPT_ORDER) {
    throw new RangeError(`HPT order ${order} outside [${PPC_MIN_HPT_ORDER}, ${PPC_MAX_HPT_ORDER}]`);
  }
  const npteg = 2 ** (order - 7);
  return {
    order,
    bytes: 2 ** order,
    npte: npteg * HPTES_PER_GROUP,
    npteg,
    hashMask: npteg - 1,
    htabsize: order - 18,
  };
}

/** SDR1 for an HPT at physical address `base` (aligned to its size): base | (order - 18). */
// Mirrors `kvm->arch.sdr1 = __pa(hpt) | (HPT_ORDER - 18)` (kvmppc_alloc_hpt, Linux 3.4)
export function hpt_sdr1(base: bigint, order: number): bigint {
  return base | BigInt(order - 18);
}

/** `a & b` for non-negative integers below 2^53 (JS `&` alone sees only the low 32 bits). */
function and53(a: number, b: number): number {
  const lo = (a & b) >>> 0;
  if (a < TWO32 || b < TWO32) return lo;
  const hi = (Math.floor(a / TWO32) & Math.floor(b / TWO32)) >>> 0;
  return hi * TWO32 + lo;
}

/** Primary PTEG number: hash & hashMask. */
export function hpteg_primary(hash: number, hashMask: number): number {
  return and53(hash, hashMask);
}

/**
 * Secondary PTEG number: ~hash & hashMask. Because the primary's bits are a subset of the mask,
 * this equals hashMask - primary (= primary XOR hashMask).
 */
export function hpteg_secondary(hash: number, hashMask: number): number {
  return hashMask - and53(hash, hashMask);
}

/**
 * The hash of (VSID, EA) for a base page shift and segment size, truncated to 39 bits.
 *   256M: VSID ^ ((EA & 0x0fffffff) >> shift)
 *   1T:   VSID ^ (VSID << 25) ^ ((EA & 0xffffffffff) >> shift)   (VSID << 25 truncated to 64 bits)
 * Linux hashes a VA; KVM (and this function) start from the VSID, because a 1T VA with a 25-bit VSID
 * (VRMA_VSID) is wider than 64 bits. shift in [0, 63].
 */
// Mirrors hpt_hash() (arch/powerpc/include/asm/mmu-hash64.h, Linux 3.4), VSID-based as in
// kvmppc_hv_find_lock_hpte() (book3s_hv_rm_mmu.c, Linux 3.4)
export function hpt_hash(
  vsid_hi: number,
  vsid_lo: number,
  ea_hi: number,
  ea_lo: number,
  shift: number,
  ssize: number,
): number {
  let h_hi: number;
  let h_lo: number;
  if (ssize === MMU_SEGSIZE_256M) {
    const off = ea_lo & 0x0fffffff;
    h_hi = vsid_hi;
    h_lo = vsid_lo ^ (shift >= 32 ? 0 : off >>> shift);
  } else {
    // vsid ^ (vsid << 25)
    h_hi = vsid_hi ^ ((vsid_hi << 25) | (vsid_lo >>> 7));
    h_lo = vsid_lo ^ (vsid_lo << 25);
    // (ea & 0xff_ffffffff) >> shift
    const o_hi = ea_hi & 0xff;
    if (shift === 0) {
      h_hi ^= o_hi;
      h_lo ^= ea_lo;
    } else if (shift < 32) {
      h_hi ^= o_hi >>> shift;
      h_lo ^= (ea_lo >>> shift) | (o_hi << (32 - shift));
    } else {
      h_lo ^= o_hi >>> (shift - 32);
    }
  }
  return (h_hi & 0x7f) * TWO32 + (h_lo >>> 0);
}

export function hpt_hash_big(vsid: bigint, ea: bigint, shift: number, ssize: number): bigint {
  const s = BigInt(shift);
  let hash: bigint;
  if (ssize === MMU_SEGSIZE_256M) {
    hash = vsid ^ ((ea & 0x0fffffffn) >> s);
  } else {
    hash = vsid ^ ((vsid << 25n) & M64) ^ ((ea & 0xffffffffffn) >> s);
  }
  return hash & 0x7fffffffffn;
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/kvm/book3s_hv_rm_mmu.c (Linux 3.4): what kvmppc_hv_find_lock_hpte() looks for
// ---------------------------------------------------------------------------------------------

/**
 * The search key KVM derives from (slb_v, EA) before scanning the two PTEGs. Reuse one instance
 * per caller (fields are overwritten by hpte_search_key; nothing is allocated per lookup).
 */
export class HpteSearchKey {
  /** 39-bit hash; primary PTEG = hash & hashMask, secondary = hashMask - primary. */
  hash = 0;
  /** Base page shift from SLB L||LP (12, 16, 24; 34 and 20 are passed through as KVM does). */
  pshift = 0;
  /** Expected dword 0 for the primary PTEG (add HPTE_V_SECONDARY for the secondary one). */
  valHi = 0;
  valLo = 0;
  /** Bits of dword 0 compared: B | AVPN | SECONDARY, plus LARGE for a large-page segment. */
  maskHi = 0;
  maskLo = 0;
}

/**
 * Fill `out` with the hash, page shift, expected dword 0 and compare mask KVM uses for (slb_v, EA):
 * 1. mask = B | AVPN | SECONDARY; with SLB.L also LARGE (in mask and val), pshift from LP.
 * 2. vsid = (slb_v & ~B) >> 12 (256M) or >> 24 (1T; then vsid ^= vsid << 25); hash as hpt_hash.
 * 3. avpn = (slb_v & ~(somask >> 16)) | ((EA & somask) >> 16): keeps B and the VSID, drops flags.
 * 4. Clear the low (pshift - 16) bits if pshift ≥ 24, else the low 7 bits; val |= avpn.
 */
// Mirrors the set-up half of kvmppc_hv_find_lock_hpte() (book3s_hv_rm_mmu.c, Linux 3.4)
export function hpte_search_key(
  slb_v_hi: number,
  slb_v_lo: number,
  ea_hi: number,
  ea_lo: number,
  out: HpteSearchKey,
): void {
  // 1.
  const maskHi = SLB_VSID_B_HI | HPTE_V_AVPN_HI;
  let maskLo = HPTE_V_AVPN_LO | HPTE_V_SECONDARY_LO;
  let valLo = 0;
  let pshift = 12;
  if ((slb_v_lo & SLB_VSID_L_LO) !== 0) {
    maskLo |= HPTE_V_LARGE_LO;
    valLo |= HPTE_V_LARGE_LO;
    pshift = slb_base_page_shift[(slb_v_lo & SLB_VSID_LP_LO) >>> 4];
  }
  // 2. + 3.
  const b_stripped_hi = slb_v_hi & ~SLB_VSID_B_HI;
  const avpnHi = slb_v_hi;
  let avpnLo: number;
  if ((slb_v_hi & SLB_VSID_B_1T_HI) !== 0) {
    const vsid_hi = b_stripped_hi >>> 24;
    const vsid_lo = (slb_v_lo >>> 24) | (b_stripped_hi << 8);
    out.hash = hpt_hash(vsid_hi, vsid_lo, ea_hi, ea_lo, pshift, MMU_SEGSIZE_1T);
    // somask >> 16 = 0xffffff; (EA & somask) >> 16 = EA bits 16..39
    avpnLo = (slb_v_lo & 0xff000000) | ((ea_hi & 0xff) << 16) | (ea_lo >>> 16);
  } else {
    const vsid_hi = b_stripped_hi >>> 12;
    const vsid_lo = (slb_v_lo >>> 12) | (b_stripped_hi << 20);
    out.hash = hpt_hash(vsid_hi, vsid_lo, ea_hi, ea_lo, pshift, MMU_SEGSIZE_256M);
    // somask >> 16 = 0xfff; (EA & somask) >> 16 = EA bits 16..27
    avpnLo = (slb_v_lo & ~0xfff) | ((ea_lo & 0x0fffffff) >>> 16);
  }
  // 4. pshift - 16 ≤ 18 for every LP encoding, so only the low word is touched.
  if (pshift >= 24) avpnLo &= ~((1 << (pshift - 16)) - 1);
  else avpnLo &= ~0x7f;
  out.pshift = pshift;
  out.valHi = avpnHi >>> 0;
  out.valLo = (valLo | avpnLo) >>> 0;
  out.maskHi = maskHi >>> 0;
  out.maskLo = maskLo >>> 0;
}

/** Result of hpte_search_key_big. */
export interface HpteSearchKeyBig {
  hash: bigint;
  pshift: number;
  val: bigint;
  mask: bigint;
}

export function hpte_search_key_big(slb_v: bigint, eaddr: bigint): HpteSearchKeyBig {
  let mask = SLB_VSID_B | HPTE_V_AVPN | HPTE_V_SECONDARY;
  let val = 0n;
  let pshift = 12;
  if ((slb_v & SLB_VSID_L) !== 0n) {
    mask |= HPTE_V_LARGE;
    val |= HPTE_V_LARGE;
    pshift = slb_base_page_shift[Number((slb_v & SLB_VSID_LP) >> 4n)];
  }
  let somask: bigint;
  let vsid: bigint;
  if ((slb_v & SLB_VSID_B_1T) !== 0n) {
    somask = (1n << 40n) - 1n;
    vsid = (slb_v & (~SLB_VSID_B & M64)) >> BigInt(SLB_VSID_SHIFT_1T);
    vsid ^= (vsid << 25n) & M64;
  } else {
    somask = (1n << 28n) - 1n;
    vsid = (slb_v & (~SLB_VSID_B & M64)) >> BigInt(SLB_VSID_SHIFT);
  }
  const hash = (vsid ^ ((eaddr & somask) >> BigInt(pshift))) & 0x7fffffffffn;
  let avpn = slb_v & (~(somask >> 16n) & M64);
  avpn |= (eaddr & somask) >> 16n;
  if (pshift >= 24) avpn &= ~((1n << BigInt(pshift - 16)) - 1n) & M64;
  else avpn &= ~0x7fn & M64;
  val |= avpn;
  return { hash, pshift, val, mask };
}

/**
 * Does dword 0 `v` match the key in the given PTEG? `valid` is the wanted-valid-bits set
 * (HPTE_V_VALID_LO, or VALID|ABSENT for a no-HPTE fault). HVLOCK is outside the mask, so `v` may be
 * the raw word. The page-size re-check (hpte_page_size == 1 << pshift) is the caller's.
 */
// Mirrors the PTEG scan test in kvmppc_hv_find_lock_hpte() (book3s_hv_rm_mmu.c, Linux 3.4)
export function hpte_search_match(
  v_hi: number,
  v_lo: number,
  valid: number,
  key: HpteSearchKey,
  secondary: boolean,
): boolean {
  if ((v_lo & valid) === 0) return false;
  const want_lo = secondary ? key.valLo | HPTE_V_SECONDARY_LO : key.valLo;
  return ((v_hi & key.maskHi) >>> 0) === key.valHi && ((v_lo & key.maskLo) >>> 0) === want_lo >>> 0;
}

/**
 * The PTEG search both the hardware and KVM perform: the primary PTEG (hash & hashMask), then the
 * secondary (primary ^ hashMask, H = 1), each slot in order, for an entry with one of the `valid`
 * bits whose B/AVPN/L/H match `key` and whose page size is the segment's base page size (the
 * hardware searches VALID entries; KVM's no-HPTE fault path also ABSENT ones). `hpt` holds four
 * 32-bit words per HPTE (v_hi, v_lo, r_hi, r_lo). Returns the HPTE index or -1.
 */
// Mirrors the PTEG loop of kvmppc_hv_find_lock_hpte() (book3s_hv_rm_mmu.c, Linux 3.4) and ppc_hash64_htab_lookup() (target/ppc/mmu-hash64.c, QEMU)
export function hpte_pteg_search(hpt: Uint32Array, hashMask: number, key: HpteSearchKey, valid: number, arch206: boolean): number {
  // hash & mask (mask < 2^32 for every order this model allocates).
  let pteg = ((key.hash % 0x1_0000_0000) & hashMask) >>> 0;
  const want = 2 ** key.pshift;
  for (let pass = 0; pass < 2; pass++) {
    const secondary = pass === 1;
    for (let k = 0; k < HPTES_PER_GROUP; k++) {
      const i = pteg * HPTES_PER_GROUP + k;
      const v_lo = hpt[i * 4 + 1];
      if (!hpte_search_match(hpt[i * 4], v_lo, valid, key, secondary)) continue;
      if (hpte_page_size(v_lo, hpt[i * 4 + 3], arch206) === want) return i;
    }
    pteg = (pteg ^ hashMask) >>> 0;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_book3s_64.h (Linux 3.4): tlbie RB
// ---------------------------------------------------------------------------------------------

/**
 * RB operand of the tlbie/tlbiel that invalidates HPTE `pte_index` with dword 0 `v` (POWER7 form):
 * 1. rb = (v & ~0x7f) << 16 (AVA), truncated to 64 bits.
 * 2. va_low = pte_index >> 3, inverted if H; XOR v >> 12 (256M) or v >> 24 (1T); keep 11 bits.
 * 3. L: rb |= 1; if ARCH_206 and (r & 0xff000) (a 64K page) also LP 0x1000, (va_low & 0x7f) << 16
 *    and the AVAL bits va_low & 0xfe.
 * 4. 4K: rb |= va_low << 12.
 * 5. rb |= (v >> 54) & 0x300 (B).
 * Only r's low word is read. Result to out[off] (hi), out[off + 1] (lo).
 */
// Mirrors compute_tlbie_rb() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function compute_tlbie_rb(
  v_hi: number,
  v_lo: number,
  r_lo: number,
  pte_index: number,
  arch206: boolean,
  out: Word64Out,
  off = 0,
): void {
  // 1.
  const rb_hi = ((v_hi << 16) | (v_lo >>> 16)) >>> 0;
  let rb_lo = (v_lo & ~0x7f) << 16;
  // 2. Only the low 11 bits survive, so pte_index's low 14 bits are enough (`&` wraps mod 2^32).
  let va_low = (pte_index & 0x3fff) >>> 3;
  if ((v_lo & HPTE_V_SECONDARY_LO) !== 0) va_low = ~va_low;
  if ((v_hi & HPTE_V_1TB_SEG_HI) === 0) va_low ^= v_lo >>> 12;
  else va_low ^= (v_lo >>> 24) | (v_hi << 8);
  va_low &= 0x7ff;
  if ((v_lo & HPTE_V_LARGE_LO) !== 0) {
    // 3.
    rb_lo |= 1;
    if (arch206 && (r_lo & 0xff000) !== 0) {
      rb_lo |= 0x1000;
      rb_lo |= (va_low & 0x7f) << 16;
      rb_lo |= va_low & 0xfe;
    }
  } else {
    // 4.
    rb_lo |= (va_low & 0x7ff) << 12;
  }
  // 5.
  rb_lo |= (v_hi >>> 22) & 0x300;
  out[off] = rb_hi;
  out[off + 1] = rb_lo >>> 0;
}

export function compute_tlbie_rb_big(v: bigint, r: bigint, pte_index: bigint, arch206: boolean): bigint {
  let rb = ((v & (~0x7fn & M64)) << 16n) & M64;
  let va_low = pte_index >> 3n;
  if ((v & HPTE_V_SECONDARY) !== 0n) va_low = ~va_low & M64;
  if ((v & HPTE_V_1TB_SEG) === 0n) va_low ^= v >> 12n;
  else va_low ^= v >> 24n;
  va_low &= 0x7ffn;
  if ((v & HPTE_V_LARGE) !== 0n) {
    rb |= 1n;
    if (arch206 && (r & 0xff000n) !== 0n) {
      rb |= 0x1000n;
      rb |= (va_low & 0x7fn) << 16n;
      rb |= va_low & 0xfen;
    }
  } else {
    rb |= (va_low & 0x7ffn) << 12n;
  }
  rb |= (v >> 54n) & 0x300n;
  return rb;
}

// ---------------------------------------------------------------------------------------------
// book3s_hv_rmhandlers.S (Linux 3.4): flushing the TLB sets of an LPID on guest entry
// ---------------------------------------------------------------------------------------------

/** tlbiel RB of the first set of an LPID flush: IS = 0b10 (`li r7,0x800`, "IS field = 0b10"). */
export const TLBIEL_RB_LPID_SETS = 0x800;
/** RB step from one TLB set to the next in that loop ("addi r7,r7,0x1000"). */
export const TLBIEL_RB_SET_STRIDE = 0x1000;
