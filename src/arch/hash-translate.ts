// Hash-MMU translation of one effective address, the pure rule (no hardware or KVM state): what
// the hardware model (hw/mmu.ts) and the replay's point query (`state --ea`, replay/seek.ts) both
// follow, so that a replayed translation cannot drift from the emulated one.
//
// CPU variants: `arch206` is CPU_FTR_ARCH_206 (POWER7). Without it (PPC970) an HPTE's large page
// is 16M only: the 64K encoding (LP 0x1000 in dword 1) does not exist and decodes to no page size
// (hpte_page_size → 0), so an entry carrying it never matches a segment, as on the hardware.

import { hpte_pteg_search, hpte_search_key, HpteSearchKey } from './hash.js';
import { HPTE_R_RPN_HI, HPTE_R_RPN_LO, hpte_page_size } from './hpte.js';
import { slb_esid_match } from './slb.js';

const TWO32 = 0x1_0000_0000;

/** Result of hash_translate (reuse one per caller: nothing is allocated per translation). */
export class HashTranslation {
  /** HPTE index found, or -1. */
  index = -1;
  /** Page size of the HPTE found (bytes; 0 if none). */
  psize = 0;
  /** Real address (hi, lo) when found. */
  raHi = 0;
  raLo = 0;
  /** Hash, base page shift and compare key of the segment (valid after every call). */
  readonly key = new HpteSearchKey();
}

/**
 * The first SLB slot translating EA, or -1. `slb` holds `n` rows of four words
 * [esid_hi, esid_lo, vsid_hi, vsid_lo] from row `first` on (ESID V bit and B decide).
 */
// Mirrors kvmppc_mmu_book3s_hv_find_slbe() (book3s_64_mmu_hv.c, Linux 3.4)
export function hash_slb_lookup(slb: Uint32Array, first: number, n: number, ea_hi: number, ea_lo: number): number {
  for (let k = 0; k < n; k++) {
    const p = (first + k) * 4;
    if (slb_esid_match(slb[p], slb[p + 1], slb[p + 2], ea_hi, ea_lo)) return k;
  }
  return -1;
}

/**
 * Real address of EA through an HPTE with dword 1 (r_hi, r_lo) and page size psize: the RPN above
 * the page size, EA below it. Into out.raHi / out.raLo.
 */
// Mirrors step 8 of ppc_hash64_handle_mmu_fault() (target/ppc/mmu-hash64.c, QEMU: ppc_hash64_pte_raddr)
export function hash_real_address(r_hi: number, r_lo: number, psize: number, ea_hi: number, ea_lo: number, out: { raHi: number; raLo: number }): void {
  if (psize >= TWO32) {
    out.raHi = ((r_hi & HPTE_R_RPN_HI & ~(psize / TWO32 - 1)) | (ea_hi & (psize / TWO32 - 1))) >>> 0;
    out.raLo = ea_lo >>> 0;
  } else {
    out.raHi = (r_hi & HPTE_R_RPN_HI) >>> 0;
    out.raLo = ((r_lo & HPTE_R_RPN_LO & ~(psize - 1)) | (ea_lo & (psize - 1))) >>> 0;
  }
}

/**
 * Translate EA in the segment slb_v through the HPT `hpt` (four words per HPTE: v_hi, v_lo, r_hi,
 * r_lo; hashMask = PTEGs - 1):
 * 1. key: hash, base page shift (SLB L||LP), B|AVPN|L compare value (hpte_search_key);
 * 2. primary then secondary PTEG, first entry with one of the `valid` bits that matches and whose
 *    page size (for this CPU) is the segment's base page size (hpte_pteg_search);
 * 3. real address (hash_real_address).
 * Returns true if an HPTE was found; the TLB, permissions and R/C are the caller's.
 */
export function hash_translate(
  hpt: Uint32Array,
  hashMask: number,
  slb_v_hi: number,
  slb_v_lo: number,
  ea_hi: number,
  ea_lo: number,
  valid: number,
  arch206: boolean,
  out: HashTranslation,
): boolean {
  // 1.
  hpte_search_key(slb_v_hi, slb_v_lo, ea_hi, ea_lo, out.key);
  // 2.
  const i = hpte_pteg_search(hpt, hashMask, out.key, valid, arch206);
  out.index = i;
  if (i < 0) {
    out.psize = 0;
    return false;
  }
  // 3.
  out.psize = hpte_page_size(hpt[i * 4 + 1], hpt[i * 4 + 3], arch206);
  hash_real_address(hpt[i * 4 + 2], hpt[i * 4 + 3], out.psize, ea_hi, ea_lo, out);
  return true;
}
