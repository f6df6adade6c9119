// The real-mode MMU hcalls of Book3S HV: H_ENTER, H_REMOVE, H_BULK_REMOVE, H_PROTECT, H_READ, and
// (kernel 4.20 only) H_CLEAR_REF / H_CLEAR_MOD; plus kvmppc_invalidate_hpte,
// kvmppc_clear_ref_hpte and kvmppc_hv_find_lock_hpte, which the notifier and fault paths share.
//
// Register convention (the kernel's vcpu->arch.gpr[4..11]): every handler takes `regs`, a
// Uint32Array of 16 words holding r4..r11 as (hi, lo) pairs — r(4+k) is regs[2k] (hi), regs[2k+1]
// (lo) — reads its arguments from it and writes its outputs into it in place, leaving the other
// registers as they were. It returns the H_* code for r3 as a signed number. Nothing is allocated.
//
// Event order inside one operation (see also kvm.ts): a chain *link* is recorded before the HPTE
// write that makes the entry VALID, and a chain *unlink* after the HPTE write and tlbie that make it
// invalid, so at every event boundary every VALID HPTE is on its chain. hpte_write always carries
// the values at the end of the operation for that HPTE, including a transient ABSENT/¬VALID the
// kernel holds while it issues the tlbie.

import {
  h_bulk_remove_ptex,
  h_bulk_remove_response,
  h_protect_bits,
  H_ANDCOND_LO,
  H_AVPN_LO,
  H_BULK_REMOVE_RESP_DONE,
  H_BULK_REMOVE_RESP_NOT_FOUND,
  H_BULK_REMOVE_RESP_PARM,
  H_EXACT_HI,
  H_LOCAL_LO,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PTEG_FULL,
  H_READ_4_HI,
  H_SUCCESS,
  hpte_cache_flags_ok,
  hpte_is_writable,
  hpte_make_readonly,
  hpte_page_size,
  hpte_rpn,
  hpte_search_key,
  hpte_pteg_search,
  HpteSearchKey,
  hpte_set_rpn,
  HPTE_R_C_LO,
  HPTE_R_G_LO,
  HPTE_R_I_LO,
  HPTE_R_KEY_HI_HI,
  HPTE_R_KEY_LO_LO,
  HPTE_R_M_LO,
  HPTE_R_N_LO,
  HPTE_R_PP0_HI,
  HPTE_R_PP_LO,
  HPTE_R_R_LO,
  HPTE_R_RPN_LO,
  HPTE_R_W_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
  HPTES_PER_GROUP,
  H_TOO_HARD,
  KVMPPC_PAGE_ORDER_MASK,
  KVMPPC_RMAP_REFERENCED_HI,
  rmap_rc_filter,
} from '../../arch/index.js';
import { PTE_DIRTY, PTE_PRESENT, PTE_RW, PTE_YOUNG } from '../../host/mm.js';
import { E } from '../../trace/kinds.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type Memslot } from '../types.js';
import { harvest_rc } from './rmap.js';

const VALID_OR_ABSENT = HPTE_V_VALID_LO | HPTE_V_ABSENT_LO;
const TWO32 = 0x1_0000_0000;
/** HPTE_R_PP0 | HPTE_R_KEY_HI (high word) and HPTE_R_PP | HPTE_R_N | HPTE_R_KEY_LO (low word). */
const PROT_MASK_HI = (HPTE_R_PP0_HI | HPTE_R_KEY_HI_HI) >>> 0;
const PROT_MASK_LO = HPTE_R_PP_LO | HPTE_R_N_LO | HPTE_R_KEY_LO_LO;

/** pte_index (a 64-bit register) ≥ NPTE? Unsigned, as the kernel compares it. */
export function badIndex(kvm: Kvm, idx_hi: number, idx_lo: number): boolean {
  return idx_hi !== 0 || idx_lo >= kvm.mmu.npte;
}

/** True if the page of `pagesize` bytes fits the slot's alignment (large pages need aligned slots). */
// Mirrors slot_is_aligned() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 3.4)
export function slot_is_aligned(slot: Memslot, pagesize: number, pageSize: number): boolean {
  if (pagesize <= pageSize) return true;
  const n = pagesize / pageSize;
  return slot.base_gfn % n === 0 && slot.npages % n === 0;
}

/** mmu_notifier_retry(): an invalidation is in progress or happened since mmu_seq was read. */
// Mirrors mmu_notifier_retry() (include/linux/kvm_host.h, Linux 3.4)
export function mmu_notifier_retry(kvm: Kvm, mmu_seq: number): boolean {
  return kvm.mmu_notifier_count !== 0 || kvm.mmu_notifier_seq !== mmu_seq;
}

// ---------------------------------------------------------------------------------------------
// H_ENTER
// ---------------------------------------------------------------------------------------------

/**
 * H_ENTER's slot choice (3.3 and 3.4): without H_EXACT the first entry of the PTEG of pte_index
 * whose dword 0 has none of the `busy` bits, with H_EXACT pte_index itself if it has none. Returns
 * the index, or -1 for H_PTEG_FULL. 3.4 counts ABSENT entries as busy; 3.3 has no ABSENT.
 */
export function h_enter_find_slot(hpt: Uint32Array, flags_hi: number, idx_lo: number, busy: number): number {
  if ((flags_hi & H_EXACT_HI) !== 0) return (hpt[idx_lo * 4 + 1] & busy) !== 0 ? -1 : idx_lo;
  const first = idx_lo & ~(HPTES_PER_GROUP - 1);
  for (let k = 0; k < HPTES_PER_GROUP; k++) if ((hpt[(first + k) * 4 + 1] & busy) === 0) return first + k;
  return -1;
}

/**
 * H_ENTER: r4 = flags, r5 = pte_index, r6 = pteh, r7 = ptel; on success r4 = the index used.
 * Both branches of step 5 (kernel-model §D.3): POWER7 (using_mmu_notifiers: the VMM's Linux PTE)
 * and PPC970 (slot_phys: no array → H_PARAMETER, entry 0 → H_TOO_HARD, which the caller finishes
 * in virtual mode with kvmppc_virtmode_do_h_enter). The PPC970 branch never produces ABSENT.
 */
// Mirrors kvmppc_h_enter() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_h_enter(kvm: Kvm, regs: Uint32Array): number {
  const flags_hi = regs[0];
  const idx_hi = regs[2];
  const idx_lo = regs[3];
  const g_ptel_hi = regs[6];
  const g_ptel_lo = regs[7];
  let pteh_hi = regs[4];
  let pteh_lo = regs[5];
  let ptel_hi = g_ptel_hi;
  let ptel_lo = g_ptel_lo;
  const t = kvm.tmp;

  // 1. Page size from L/LP; writing = guest wants a writable mapping; drop KVM's software bits.
  const psize = hpte_page_size(pteh_lo, ptel_lo, kvm.arch206);
  if (psize === 0) return H_PARAMETER;
  const writing = hpte_is_writable(ptel_hi, ptel_lo);
  pteh_lo = (pteh_lo & ~(HPTE_V_HVLOCK_LO | HPTE_V_ABSENT_LO | HPTE_V_VALID_LO)) >>> 0;
  const mmu_seq = kvm.mmu_notifier_seq;

  // 2. gpa = (ptel & RPN) & ~(psize - 1); gfn in host pages; memslot.
  const gfn = hpte_rpn(ptel_hi, ptel_lo, psize, kvm.pageShift);
  const gpa_lo = ptel_lo & HPTE_R_RPN_LO & ~(psize - 1);
  const slot = kvm.gfn_to_memslot(gfn);
  let off = -1;
  if (slot === null || (slot.flags & KVM_MEMSLOT_INVALID) !== 0) {
    // 3. Emulated MMIO: ABSENT with storage key 31; the RPN stays the guest's, no rmap.
    //    (PPC970 can't do emulated MMIO: H_PARAMETER there.)
    if (!kvm.arch206) return H_PARAMETER;
    pteh_lo |= HPTE_V_ABSENT_LO;
    ptel_hi = (ptel_hi | HPTE_R_KEY_HI_HI) >>> 0;
    ptel_lo = (ptel_lo | HPTE_R_KEY_LO_LO) >>> 0;
  } else {
    // 4. The page must fit the slot.
    if (!slot_is_aligned(slot, psize, kvm.pageSize)) return H_PARAMETER;
    off = gfn - slot.base_gfn;

    let pte_size = psize;
    let is_io = -1; // the kernel's ~0ul: "unknown", skip the WIMG check
    let pfn = 0;
    let present = false;
    if (!kvm.usingMmuNotifiers) {
      // 5a. slot_phys (PPC970): the page must already be pinned; pa, cache bits and backing size
      //     come from the entry. (off ≥ npages can only happen with a slot_phys left by a deleted
      //     smaller slot, which prepare_memory_region refuses; H_PARAMETER is the model's guard.)
      const physp = kvm.slot_phys[slot.id];
      if (physp === null || off >= physp.npages) return H_PARAMETER;
      if (!physp.has(off)) return H_TOO_HARD;
      const ef = physp.flags[off];
      is_io = ef & (HPTE_R_I_LO | HPTE_R_W_LO);
      pte_size = kvm.pageSize * 2 ** (ef & KVMPPC_PAGE_ORDER_MASK);
      pfn = physp.pfn[off];
      present = true;
    } else {
      // 5b. using_mmu_notifiers: look up the VMM's Linux PTE (lookup_linux_pte). pte_size starts at
      //     psize and stays there when there is no PTE at all; a present PTE of a page smaller than
      //     psize counts as not present (and then fails step 6).
      const mm = kvm.mm;
      const hva = kvm.gfn_to_hva_memslot(slot, gfn);
      const pi = mm.find_linux_pte_or_hugepte(hva);
      if (pi >= 0) {
        const vma = mm.foundVma!;
        pte_size = 2 ** vma.pageShift;
        let f = vma.flags[pi];
        if (psize <= pte_size && (f & PTE_PRESENT) !== 0) {
          // kvmppc_read_update_linux_pte(): young, and dirty if writing to a writable PTE.
          f |= PTE_YOUNG;
          if (writing && (f & PTE_RW) !== 0) f |= PTE_DIRTY;
          vma.flags[pi] = f;
          present = true;
          pfn = vma.pfn[pi];
          if (writing && (f & PTE_RW) === 0) {
            // Host page is read-only: make the real HPTE read-only.
            hpte_make_readonly(ptel_hi, ptel_lo, t, 0);
            ptel_hi = t[0];
            ptel_lo = t[1];
          }
          is_io = vma.cacheBits; // hpte_cache_bits(pte_val(pte))
        }
      }
    }

    // 6. Size check; pa = pfn << PAGE_SHIFT, | the offset of gpa in a larger backing page (an OR,
    //    as in the kernel: a slot_phys entry of a huge page already carries that offset); substitute.
    if (pte_size < psize) return H_PARAMETER;
    let pa_hi = 0;
    let pa_lo = 0;
    if (present) {
      const pa = pfn * kvm.pageSize;
      pa_hi = Math.floor(pa / TWO32) >>> 0;
      pa_lo = pa >>> 0;
      // Backing pages ≥ 4 GiB (an RMA that large) would need the high word of gpa too: not modelled.
      if (pte_size > psize) pa_lo = (pa_lo | (gpa_lo & (pte_size >= TWO32 ? 0xffffffff : pte_size - 1))) >>> 0;
    }
    const havePa = pa_hi !== 0 || pa_lo !== 0;
    hpte_set_rpn(ptel_hi, ptel_lo, psize, pa_hi, pa_lo, t, 0);
    ptel_hi = t[0];
    ptel_lo = t[1];

    // 7. VALID if there is a page, else ABSENT; then the WIMG check when the cache bits are known.
    pteh_lo |= havePa ? HPTE_V_VALID_LO : HPTE_V_ABSENT_LO;
    if (is_io !== -1 && !hpte_cache_flags_ok(ptel_lo, is_io, kvm.arch206)) {
      if (is_io !== 0) return H_PARAMETER;
      // Guest maps RAM cache-inhibited/guarded: silently make it cacheable (M).
      ptel_lo = ((ptel_lo & ~(HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_G_LO)) | HPTE_R_M_LO) >>> 0;
    }
  }

  // 8. do_insert: find a slot with neither VALID nor ABSENT (first in the PTEG, or the exact one).
  if (badIndex(kvm, idx_hi, idx_lo)) return H_PARAMETER;
  const index = h_enter_find_slot(kvm.mmu.hpt, flags_hi, idx_lo, VALID_OR_ABSENT);
  if (index < 0) return H_PTEG_FULL;

  // 9. Save the guest's idea of dword 1.
  kvm.mmu.revGuestR[index * 2] = g_ptel_hi;
  kvm.mmu.revGuestR[index * 2 + 1] = g_ptel_lo;

  // 10. Link into the rmap chain, unless an invalidation is in flight (then write it ABSENT).
  if ((pteh_lo & HPTE_V_VALID_LO) !== 0) {
    const s = slot as Memslot;
    if (kvm.usingMmuNotifiers && mmu_notifier_retry(kvm, mmu_seq)) {
      pteh_lo = ((pteh_lo | HPTE_V_ABSENT_LO) & ~HPTE_V_VALID_LO) >>> 0;
    } else {
      kvm.ops.hash.addRevmapChain(kvm, s, off, index);
      // Only set R/C in the real HPTE if already set in *rmap (K34: C never is, see rmap.ts).
      ptel_lo = rmap_rc_filter(ptel_lo, s.rmap[off * 2]);
    }
  }

  // 11. Write dword 1, then dword 0 (unlocking it). r4 = index.
  kvm.mmu.setHpte(index, pteh_hi >>> 0, pteh_lo >>> 0, ptel_hi >>> 0, ptel_lo >>> 0);
  regs[0] = 0;
  regs[1] = index;
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// H_REMOVE
// ---------------------------------------------------------------------------------------------

/**
 * H_REMOVE: r4 = flags (H_AVPN, H_ANDCOND, H_LOCAL), r5 = pte_index, r6 = avpn; returns r4 = old
 * dword 0 (ABSENT entries keep ABSENT in K34), r5 = guest view of dword 1 (guest_rpte, with
 * harvested R/C for a VALID entry).
 */
/**
 * The H_REMOVE match conditions shared by 3.3 and 3.4: with H_AVPN, dword 0 without its low 7 bits
 * must equal avpn; with H_ANDCOND, (dword 0 & avpn) must be 0. The kernel tests dword 0 while
 * holding HVLOCK, so a mask containing 0x40 always hits the lock bit (modelled). v_lo is given
 * without HVLOCK.
 */
export function h_remove_mismatch(flags_lo: number, v_hi: number, v_lo: number, a_hi: number, a_lo: number): boolean {
  return h_avpn_mismatch(flags_lo, v_hi, v_lo, a_hi, a_lo) || ((flags_lo & H_ANDCOND_LO) !== 0 && !h_andcond_clear(v_hi, v_lo, a_hi, a_lo));
}

/** H_AVPN given and dword 0 without its low 7 bits differs from avpn (H_REMOVE, H_PROTECT; 3.3 and 3.4). */
export function h_avpn_mismatch(flags_lo: number, v_hi: number, v_lo: number, a_hi: number, a_lo: number): boolean {
  return (flags_lo & H_AVPN_LO) !== 0 && !h_avpn_match(v_hi, v_lo, a_hi, a_lo);
}

/** Dword 0 without its low 7 bits equals avpn. */
function h_avpn_match(v_hi: number, v_lo: number, a_hi: number, a_lo: number): boolean {
  return v_hi === a_hi && ((v_lo & ~0x7f) >>> 0) === a_lo;
}

/** (dword 0 & mask) = 0, tested on the locked word (HVLOCK set, so a mask with 0x40 always hits). */
function h_andcond_clear(v_hi: number, v_lo: number, a_hi: number, a_lo: number): boolean {
  return ((v_hi & a_hi) | ((v_lo | HPTE_V_HVLOCK_LO) & a_lo)) === 0;
}

/**
 * Does an H_BULK_REMOVE request of type `flags` (0 exact, 1 andcond, 2 avpn) match the present
 * HPTE with dword 0 = v and argument a? Shared by 3.3 and 3.4, which differ in what "present" is.
 */
export function h_bulk_remove_match(flags: number, v_hi: number, v_lo: number, a_hi: number, a_lo: number): boolean {
  if (flags === 0) return true;
  return flags === 1 ? h_andcond_clear(v_hi, v_lo, a_hi, a_lo) : h_avpn_match(v_hi, v_lo, a_hi, a_lo);
}

// Mirrors kvmppc_h_remove() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_h_remove(kvm: Kvm, regs: Uint32Array): number {
  const flags_lo = regs[1];
  // 1. Bounds.
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  const r_hi = hpt[p + 2];
  const r_lo = hpt[p + 3];
  const a_hi = regs[4];
  const a_lo = regs[5];
  // 2. Not there, AVPN mismatch, or ANDCOND hit. The kernel tests hpte[0] while holding HVLOCK,
  //    so an ANDCOND mask containing 0x40 always matches the lock bit: modelled.
  if ((v_lo & VALID_OR_ABSENT) === 0 || h_remove_mismatch(flags_lo, v_hi, v_lo, a_hi, a_lo)) return H_NOT_FOUND;
  // 3./4. VALID: clear, tlbie (global unless H_LOCAL or a single online vcpu), unlink with the
  //       post-tlbie R/C. dword 0 = 0; dword 1 is left as it was.
  if ((v_lo & HPTE_V_VALID_LO) !== 0) {
    const local = (flags_lo & H_LOCAL_LO) !== 0 || !(kvm.online_vcpus > 1);
    const rc = harvest_rc(kvm, i, r_lo);
    kvm.mmu.setHpte(i, 0, 0, r_hi, r_lo);
    kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, local);
    kvm.ops.hash.unlinkRevmapChain(kvm, i, v_lo, rc, r_lo);
  } else {
    // 5. ABSENT: no tlbie, no chain.
    kvm.mmu.setHpte(i, 0, 0, r_hi, r_lo);
  }
  regs[0] = v_hi;
  regs[1] = v_lo;
  regs[2] = kvm.mmu.revGuestR[i * 2];
  regs[3] = kvm.mmu.revGuestR[i * 2 + 1];
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// H_BULK_REMOVE
// ---------------------------------------------------------------------------------------------

/**
 * H_BULK_REMOVE: up to four (tsh, tsl) pairs in r4..r11, rewritten in place into response words
 * (0x80|flags [+ R 0x08, C 0x04] removed, 0x90|flags not found, 0xa0|flags parameter error, which
 * stops processing with H_PARAMETER). VALID entries are removed in batches of up to four with one
 * tlbie sequence (global unless exactly one vcpu is online).
 */
// Mirrors kvmppc_h_bulk_remove() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_h_bulk_remove(kvm: Kvm, regs: Uint32Array): number {
  const local = kvm.online_vcpus === 1;
  const hpt = kvm.mmu.hpt;
  const bIdx = kvm.bulkIndex;
  const bReg = kvm.bulkReg;
  const bV = kvm.bulkV;
  const bR = kvm.bulkR;
  const bRc = kvm.bulkRc;
  let ret = H_SUCCESS;
  let i = 0;
  while (i < 4 && ret === H_SUCCESS) {
    let n = 0;
    // 1. Collect a batch.
    for (; i < 4; ++i) {
      const j = i * 2; // request in r(4+j), argument in r(5+j)
      const tsh_hi = regs[j * 2];
      const tsh_lo = regs[j * 2 + 1];
      let flags = tsh_hi >>> 24;
      const pte_index = h_bulk_remove_ptex(tsh_hi, tsh_lo);
      const req = flags >>> 6;
      flags &= 3;
      if (req === 3) {
        // End of list.
        i = 4;
        break;
      }
      if (req !== 1 || flags === 3 || pte_index >= kvm.mmu.npte) {
        h_bulk_remove_response(H_BULK_REMOVE_RESP_PARM, flags, 0, pte_index, regs, j * 2);
        ret = H_PARAMETER;
        break;
      }
      // try_lock_hpte fails only on an entry this batch already holds: then end the batch here
      // (the kernel spins only for the first entry of a batch) and revisit this request after it.
      let held = false;
      for (let k = 0; k < n; k++) if (bIdx[k] === pte_index) held = true;
      if (held) break;
      const p = pte_index * 4;
      const v_hi = hpt[p];
      const v_lo = hpt[p + 1];
      const a_hi = regs[j * 2 + 2];
      const a_lo = regs[j * 2 + 3];
      // andcond is tested against the locked word (HVLOCK set), as in H_REMOVE.
      const found = (v_lo & VALID_OR_ABSENT) !== 0 && h_bulk_remove_match(flags, v_hi, v_lo, a_hi, a_lo);
      if (!found) {
        h_bulk_remove_response(H_BULK_REMOVE_RESP_NOT_FOUND, flags, 0, pte_index, regs, j * 2);
        continue;
      }
      const r_hi = hpt[p + 2];
      const r_lo = hpt[p + 3];
      if ((v_lo & HPTE_V_VALID_LO) === 0) {
        // ABSENT: report the guest view's R/C and zero dword 0; no tlbie, no chain.
        const rc = kvm.mmu.revGuestR[pte_index * 2 + 1] & (HPTE_R_R_LO | HPTE_R_C_LO);
        h_bulk_remove_response(H_BULK_REMOVE_RESP_DONE, flags, rc, pte_index, regs, j * 2);
        kvm.mmu.setHpte(pte_index, 0, 0, r_hi, r_lo);
        continue;
      }
      // VALID: clear VALID and keep it locked until the batch is flushed.
      h_bulk_remove_response(H_BULK_REMOVE_RESP_DONE, flags, 0, pte_index, regs, j * 2);
      bRc[n] = harvest_rc(kvm, pte_index, r_lo);
      kvm.mmu.setHpte(pte_index, 0, 0, r_hi, r_lo);
      bIdx[n] = pte_index;
      bReg[n] = j;
      bV[n * 2] = v_hi;
      bV[n * 2 + 1] = v_lo;
      bR[n * 2] = r_hi;
      bR[n * 2 + 1] = r_lo;
      ++n;
    }
    if (n === 0) break;
    // 2. One tlbie sequence for the batch.
    for (let k = 0; k < n; k++) kvm.mmu.tlbie(bV[k * 2], bV[k * 2 + 1], bR[k * 2 + 1], bIdx[k], local);
    // 3. Unlink with the final R/C, report them (rcbits << 51), dword 0 = 0 (already written).
    for (let k = 0; k < n; k++) {
      const idx = bIdx[k];
      kvm.ops.hash.unlinkRevmapChain(kvm, idx, bV[k * 2 + 1], bRc[k], bR[k * 2 + 1]);
      const rc = kvm.mmu.revGuestR[idx * 2 + 1] & (HPTE_R_R_LO | HPTE_R_C_LO);
      const off = bReg[k] * 2;
      regs[off] = (regs[off] | (rc << 19)) >>> 0;
    }
  }
  return ret;
}

// ---------------------------------------------------------------------------------------------
// H_PROTECT
// ---------------------------------------------------------------------------------------------

/**
 * H_PROTECT: r4 = flags (new PP0/PP/N/key bits, H_AVPN, H_LOCAL), r5 = pte_index, r6 = avpn.
 * Rewrites the protection bits in the guest view and in the hardware dword 1 (even for ABSENT
 * entries, which in K34 overwrites the key-31 MMIO mark) and, for VALID entries, invalidates.
 * K34 does not keep a host-imposed read-only mapping read-only (fixed by K420).
 */
// Mirrors kvmppc_h_protect() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_h_protect(kvm: Kvm, regs: Uint32Array): number {
  let flags_lo = regs[1];
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  // 1. Not there or AVPN mismatch.
  if ((v_lo & VALID_OR_ABSENT) === 0 || h_avpn_mismatch(flags_lo, v_hi, v_lo, regs[4], regs[5])) return H_NOT_FOUND;
  if (kvm.online_vcpus === 1) flags_lo |= H_LOCAL_LO;
  // 2. New bits.
  const t = kvm.tmp;
  h_protect_bits(flags_lo, t, 0);
  const b_hi = t[0];
  const b_lo = t[1];
  // 3. Guest view, then the hardware word.
  const gr = kvm.mmu.revGuestR;
  gr[i * 2] = ((gr[i * 2] & ~PROT_MASK_HI) | b_hi) >>> 0;
  gr[i * 2 + 1] = ((gr[i * 2 + 1] & ~PROT_MASK_LO) | b_lo) >>> 0;
  const r_hi = ((hpt[p + 2] & ~PROT_MASK_HI) | b_hi) >>> 0;
  const r_lo = ((hpt[p + 3] & ~PROT_MASK_LO) | b_lo) >>> 0;
  // 4. VALID: invalidate (tlbiel if H_LOCAL / one vcpu) before the new r goes in.
  kvm.mmu.setHpte(i, v_hi, v_lo, r_hi, r_lo);
  if ((v_lo & HPTE_V_VALID_LO) !== 0) kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, (flags_lo & H_LOCAL_LO) !== 0);
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// H_READ
// ---------------------------------------------------------------------------------------------

/**
 * H_READ: r4 = flags (H_READ_4), r5 = pte_index; returns (v, r) in r4/r5, or four pairs in r4..r11
 * from pte_index & ~3. ABSENT reads as VALID; a (converted) VALID entry returns the guest view
 * guest_rpte | hardware R/C. H_R_XLATE is ignored (K34). No locking, no state change.
 */
// Mirrors kvmppc_h_read() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_h_read(kvm: Kvm, regs: Uint32Array): number {
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  let idx = regs[3];
  let n = 1;
  if ((regs[0] & H_READ_4_HI) !== 0) {
    idx &= ~3;
    n = 4;
  }
  const hpt = kvm.mmu.hpt;
  const gr = kvm.mmu.revGuestR;
  for (let k = 0; k < n; k++, idx++) {
    const p = idx * 4;
    const v_hi = hpt[p];
    let v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
    let r_hi = hpt[p + 2];
    let r_lo = hpt[p + 3];
    if ((v_lo & HPTE_V_ABSENT_LO) !== 0) v_lo = ((v_lo & ~HPTE_V_ABSENT_LO) | HPTE_V_VALID_LO) >>> 0;
    if ((v_lo & HPTE_V_VALID_LO) !== 0) {
      r_lo = (gr[idx * 2 + 1] | (r_lo & (HPTE_R_R_LO | HPTE_R_C_LO))) >>> 0;
      r_hi = gr[idx * 2];
    }
    regs[k * 4] = v_hi;
    regs[k * 4 + 1] = v_lo;
    regs[k * 4 + 2] = r_hi;
    regs[k * 4 + 3] = r_lo;
  }
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// H_CLEAR_REF / H_CLEAR_MOD (kernel 4.20; Linux 3.4 passes them to userspace)
// ---------------------------------------------------------------------------------------------

/** The memslot and page offset of the rmap word for (v, gr), or null (revmap_for_hpte). */
function rmapFor(kvm: Kvm, v_lo: number, gr_hi: number, gr_lo: number): Memslot | null {
  const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
  if (psize === 0) return null;
  const gfn = hpte_rpn(gr_hi, gr_lo, psize, kvm.pageShift);
  const s = kvm.valid_memslot(gfn);
  if (s !== null) kvm.tmp[7] = gfn - s.base_gfn;
  return s;
}

/**
 * H_CLEAR_REF: r4 = flags, r5 = pte_index; returns r4 = guest view of dword 1 before clearing.
 * Clears R in guest_rpte; for a VALID entry with hardware R, clears that too (kvmppc_clear_ref_hpte,
 * global tlbie) and sets the page's rmap REFERENCED.
 */
// Mirrors kvmppc_h_clear_ref() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20)
export function kvmppc_h_clear_ref(kvm: Kvm, regs: Uint32Array): number {
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  let r_lo = hpt[p + 3];
  if ((v_lo & VALID_OR_ABSENT) === 0) return H_NOT_FOUND;
  const grw = kvm.mmu.revGuestR;
  const gr_hi = grw[i * 2];
  let gr_lo = grw[i * 2 + 1];
  let changed = (gr_lo & HPTE_R_R_LO) !== 0;
  grw[i * 2 + 1] = (gr_lo & ~HPTE_R_R_LO) >>> 0;
  let tlb = false;
  if ((v_lo & HPTE_V_VALID_LO) !== 0) {
    gr_lo = (gr_lo | (r_lo & (HPTE_R_R_LO | HPTE_R_C_LO))) >>> 0;
    if ((r_lo & HPTE_R_R_LO) !== 0) {
      r_lo = (r_lo & ~HPTE_R_R_LO) >>> 0;
      changed = true;
      tlb = true;
    }
  }
  if (changed) kvm.mmu.setHpte(i, v_hi, v_lo, hpt[p + 2], r_lo);
  if (tlb) {
    kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, false);
    const s = rmapFor(kvm, v_lo, gr_hi, gr_lo);
    if (s !== null) {
      const off = kvm.tmp[7];
      s.rmap[off * 2] = (s.rmap[off * 2] | KVMPPC_RMAP_REFERENCED_HI) >>> 0;
      kvm.mmu.recRmap(E.rmap_op.update, s, off, -1, -1, -1);
    }
  }
  regs[0] = gr_hi;
  regs[1] = gr_lo;
  return H_SUCCESS;
}

/**
 * H_CLEAR_MOD: r4 = flags, r5 = pte_index; returns r4 = guest view of dword 1 before clearing.
 * Clears C in guest_rpte; a VALID entry is made temporarily ABSENT and invalidated (global tlbie)
 * so that C is stable, its hardware C is cleared and the page marked dirty, and dword 0 restored.
 */
// Mirrors kvmppc_h_clear_mod() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20)
export function kvmppc_h_clear_mod(kvm: Kvm, regs: Uint32Array): number {
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  let r_lo = hpt[p + 3];
  if ((v_lo & VALID_OR_ABSENT) === 0) return H_NOT_FOUND;
  const grw = kvm.mmu.revGuestR;
  const gr_hi = grw[i * 2];
  let gr_lo = grw[i * 2 + 1];
  const guestC = (gr_lo & HPTE_R_C_LO) !== 0;
  grw[i * 2 + 1] = (gr_lo & ~HPTE_R_C_LO) >>> 0;
  if ((v_lo & HPTE_V_VALID_LO) !== 0) {
    gr_lo = (gr_lo | (r_lo & (HPTE_R_R_LO | HPTE_R_C_LO))) >>> 0;
    const hwC = (r_lo & HPTE_R_C_LO) !== 0;
    if (hwC) r_lo = (r_lo & ~HPTE_R_C_LO) >>> 0;
    // Transiently ABSENT|¬VALID during the tlbie; dword 0 is restored afterwards.
    kvm.mmu.setHpte(i, v_hi, v_lo, hpt[p + 2], r_lo);
    kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, false);
    if (hwC) {
      // kvmppc_set_dirty_from_hpte(): mark the page's frames dirty in the slot bitmap.
      const s = rmapFor(kvm, v_lo, gr_hi, gr_lo);
      if (s !== null && s.dirty !== null) {
        const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
        const np = Math.max(1, psize / kvm.pageSize);
        const off = kvm.tmp[7];
        s.dirty.fill(1, off, Math.min(off + np, s.npages));
      }
    }
  } else if (guestC) {
    kvm.mmu.setHpte(i, v_hi, v_lo, hpt[p + 2], r_lo);
  }
  regs[0] = gr_hi;
  regs[1] = gr_lo;
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/**
 * Invalidate VALID HPTE i in place: the caller has set ABSENT (or not) in `v_lo`; VALID is cleared,
 * a global tlbie issued (RB from the invalidated word), and the new dword 0 written with `r`.
 * Records the write (final values) then the tlbie.
 */
// Mirrors kvmppc_invalidate_hpte() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_invalidate_hpte(kvm: Kvm, i: number, v_hi: number, v_lo: number, r_hi: number, r_lo: number): void {
  const nv_lo = (v_lo & ~HPTE_V_VALID_LO) >>> 0;
  kvm.mmu.setHpte(i, v_hi, nv_lo, r_hi, r_lo);
  kvm.mmu.tlbie(v_hi, nv_lo, r_lo, i, false);
}

/**
 * Clear hardware R of VALID HPTE i (a byte store into dword 1) and tlbie it (global). The entry
 * stays VALID. guest_rpte must already hold the final value (the caller ORs R in first).
 */
// Mirrors kvmppc_clear_ref_hpte() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_clear_ref_hpte(kvm: Kvm, i: number): void {
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  const r_lo = hpt[p + 3];
  kvm.mmu.setHpte(i, v_hi, v_lo, hpt[p + 2], (r_lo & ~HPTE_R_R_LO) >>> 0);
  kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, false);
}

/**
 * Search the primary then the secondary PTEG of (slb_v, eaddr) for an entry with one of the
 * `valid` bits (HPTE_V_VALID_LO, or VALID|ABSENT for a no-HPTE fault) whose B/AVPN/L/H match and
 * whose page size is the segment's base page size. Returns the HPTE index or -1. The kernel returns
 * with the HPTE locked; the model has no concurrency, so nothing is locked. `key` is scratch.
 */
// Mirrors kvmppc_hv_find_lock_hpte() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_hv_find_lock_hpte(
  kvm: Kvm,
  ea_hi: number,
  ea_lo: number,
  slb_v_hi: number,
  slb_v_lo: number,
  valid: number,
  key: HpteSearchKey,
): number {
  hpte_search_key(slb_v_hi, slb_v_lo, ea_hi, ea_lo, key);
  return hpte_pteg_search(kvm.mmu.hpt, kvm.mmu.geom.hashMask, key, valid, kvm.arch206);
}

export { HpteSearchKey };
