// The Linux 4.20 variants of the hash-MMU paths an HPT guest on POWER7 can tell apart from 3.4
// (traces/README.md "Linux 3.4 vs 4.20 (HPT guests)" lists each difference and its function).
// They are reached only through the 4.20 ops table (kvm/ops.ts): the hcall table entries, and the
// HashVariantOps steps that the shared paths (rm_mmu.ts, page_fault.ts, mmu_notifier.ts) call.
//
// Source read: arch/powerpc/kvm/book3s_hv_rm_mmu.c, book3s_64_mmu_hv.c, book3s_hv_rmhandlers.S and
// arch/powerpc/include/asm/kvm_book3s_64.h of tree sjitindarsingh/linux (the nested-HV tree; the
// stored copies are 4.20-or-later states of these files: their HPT paths are the 4.20 ones apart
// from realmode/nested plumbing), compared line by line with Linux 3.4 (holyangel/M7-GPE_L, 3.4.10).
// Not modelled (see the README paragraph): the MMIO HPTE cache, global_invalidates()/need_tlb_flush,
// kvmppc_actual_pgsz() MPSS sizes, HPT resizing (mmu_ready), HTAB migration (HPTE_GR_MODIFIED).

import {
  h_protect_bits,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PTEG_FULL,
  H_RESOURCE,
  H_SUCCESS,
  H_TOO_HARD,
  HPTE_GR_MODIFIED_HI,
  hpte_is_writable,
  hpte_make_readonly,
  hpte_page_size,
  hpte_rpn,
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
  HPTE_R_WIMG_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
  KVMPPC_RMAP_PRESENT_HI,
  rmap_rc_filter,
} from '../../arch/index.js';
import { PTE_DIRTY, PTE_NO_CACHE, PTE_PRESENT, PTE_RW, PTE_YOUNG } from '../../host/mm.js';
import { E } from '../../trace/kinds.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type Memslot } from '../types.js';
import { harvest_rc, unlink_from_rmap } from './rmap.js';
import { badIndex, h_avpn_mismatch, h_enter_find_slot, h_remove_mismatch, kvmppc_invalidate_hpte, mmu_notifier_retry, slot_is_aligned } from './rm_mmu.js';

const VALID_OR_ABSENT = HPTE_V_VALID_LO | HPTE_V_ABSENT_LO;
const RC_LO = HPTE_R_R_LO | HPTE_R_C_LO;
const TWO32 = 0x1_0000_0000;
/** HPTE_R_PP0 | HPTE_R_KEY_HI (high word) and HPTE_R_PP | HPTE_R_N | HPTE_R_KEY_LO (low word). */
const PROT_MASK_HI = (HPTE_R_PP0_HI | HPTE_R_KEY_HI_HI) >>> 0;
const PROT_MASK_LO = HPTE_R_PP_LO | HPTE_R_N_LO | HPTE_R_KEY_LO_LO;
/** HPTE_GR_RESERVED = HPTE_GR_MODIFIED (bit 62 of guest_rpte), high word. */
const GR_RESERVED_HI = HPTE_GR_MODIFIED_HI;

// ---------------------------------------------------------------------------------------------
// rmap chain and dirty map
// ---------------------------------------------------------------------------------------------

/**
 * Link HPTE i into the chain of rmap word `off`: as the tail of a non-empty chain (the word is
 * left alone), or alone, the word becoming (word & ~INDEX) | i | PRESENT. Unlike 3.4 no
 * REFERENCED is set and the R/C bits (bits 40, 39) the word already had are kept.
 */
// Mirrors kvmppc_add_revmap_chain() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_add_revmap_chain_420(kvm: Kvm, slot: Memslot, off: number, i: number): void {
  const rmap = slot.rmap;
  const forw = kvm.mmu.revForw;
  const back = kvm.mmu.revBack;
  if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) !== 0) {
    const head = rmap[off * 2 + 1];
    const tail = back[head];
    forw[i] = head;
    back[i] = tail;
    forw[tail] = i;
    back[head] = i;
  } else {
    forw[i] = i;
    back[i] = i;
    rmap[off * 2] = (rmap[off * 2] | KVMPPC_RMAP_PRESENT_HI) >>> 0;
    rmap[off * 2 + 1] = i;
  }
  kvm.mmu.recRmap(E.rmap_op.link, slot, off, i, forw[i], back[i]);
}

/** Set the dirty-log bits of the (psize + PAGE_SIZE - 1) / PAGE_SIZE pages from gfn, if the slot logs. */
// Mirrors kvmppc_update_dirty_map() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_update_dirty_map(kvm: Kvm, slot: Memslot, gfn: number, psize: number): void {
  if (psize === 0 || slot.dirty === null) return;
  const npages = Math.floor((psize + kvm.pageSize - 1) / kvm.pageSize);
  const off = gfn - slot.base_gfn;
  slot.dirty.fill(1, off, Math.min(off + npages, slot.npages));
}

/**
 * remove_revmap_chain after the harvest (guest_rpte already holds the R/C): find the memslot of the
 * guest view (4.20 takes __gfn_to_memslot as it is: a slot marked KVM_MEMSLOT_INVALID still counts),
 * unlink, OR R/C into the rmap word, and if C mark the page dirty in the slot's log (size from
 * dword 0 and the hardware dword 1).
 */
// Mirrors remove_revmap_chain() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function unlink_revmap_chain_420(kvm: Kvm, i: number, v_lo: number, rc: number, r_lo: number): void {
  const gr_hi = kvm.mmu.revGuestR[i * 2];
  const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
  const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
  if (psize === 0) return;
  const gfn = hpte_rpn(gr_hi, gr_lo, psize, kvm.pageShift);
  const slot = kvm.gfn_to_memslot(gfn);
  if (slot === null) return;
  const off = gfn - slot.base_gfn;
  unlink_from_rmap(kvm, slot, off, i);
  slot.rmap[off * 2] = (slot.rmap[off * 2] | rc) >>> 0;
  if ((rc & HPTE_R_C_LO) !== 0) kvmppc_update_dirty_map(kvm, slot, gfn, hpte_page_size(v_lo, r_lo, kvm.arch206));
  kvm.mmu.recRmap(E.rmap_op.unlink, slot, off, i, -1, -1);
}

/**
 * The MMU-notifier unmap of one rmap word (kvm_unmap_rmapp → kvmppc_unmap_hpte per chained HPTE):
 * unlink the head; if it is VALID and maps this gfn, make it ABSENT and invalidate it (global
 * tlbie), *then* clear its hardware key bits and harvest R/C from the hardware word into the rmap
 * word and guest_rpte, marking the page dirty if C. (3.4 harvests before the tlbie and leaves the
 * key bits, so an unmapped page's ABSENT HPTE could carry key 31 and look like MMIO.)
 */
// Mirrors kvm_unmap_rmapp() / kvmppc_unmap_hpte() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvm_unmap_rmapp_420(kvm: Kvm, slot: Memslot, off: number, gfn: number): number {
  const rmap = slot.rmap;
  const forw = kvm.mmu.revForw;
  const back = kvm.mmu.revBack;
  const hpt = kvm.mmu.hpt;
  const grw = kvm.mmu.revGuestR;
  for (;;) {
    if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) break;
    const i = rmap[off * 2 + 1];
    // kvmppc_unmap_hpte: 1. unlink i.
    const j = forw[i];
    if (j === i) {
      rmap[off * 2] = (rmap[off * 2] & ~KVMPPC_RMAP_PRESENT_HI) >>> 0;
      rmap[off * 2 + 1] = 0;
    } else {
      const h = back[i];
      forw[h] = j;
      back[j] = h;
      forw[i] = i;
      back[i] = i;
      rmap[off * 2 + 1] = j;
    }
    // 2. A VALID HPTE of this gfn: ABSENT, invalidate, clear the key bits, harvest R/C.
    const p = i * 4;
    const v_lo = hpt[p + 1];
    const gr_hi = grw[i * 2];
    const gr_lo = grw[i * 2 + 1];
    const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
    if ((v_lo & HPTE_V_VALID_LO) !== 0 && psize !== 0 && hpte_rpn(gr_hi, gr_lo, psize, kvm.pageShift) === gfn) {
      const r_hi = (hpt[p + 2] & ~HPTE_R_KEY_HI_HI) >>> 0;
      const r_lo = (hpt[p + 3] & ~HPTE_R_KEY_LO_LO) >>> 0;
      const rc = r_lo & RC_LO;
      rmap[off * 2] = (rmap[off * 2] | rc) >>> 0;
      if ((rc & HPTE_R_C_LO) !== 0) kvmppc_update_dirty_map(kvm, slot, gfn, psize);
      if ((rc & ~gr_lo) !== 0) grw[i * 2 + 1] = (gr_lo | rc) >>> 0;
      // One hpte_write with the final words (ABSENT, ¬VALID, no key), then the tlbie: the RB is
      // computed from the invalidated dword 1, whose key bits do not enter it.
      kvmppc_invalidate_hpte(kvm, i, hpt[p], (v_lo | HPTE_V_ABSENT_LO) >>> 0, r_hi, r_lo);
    }
    kvm.mmu.recRmap(E.rmap_op.unlink, slot, off, i, -1, -1);
    kvm.clock.charge(kvm.clock.t.notifierHpte);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Page-fault steps
// ---------------------------------------------------------------------------------------------

/**
 * The WIMG rule with the host mapping's cache-inhibit bit (pte_ci: the model's PTE_NO_CACHE; 4.20
 * has no write-through host PTE type): is_ci → the guest's W must be clear and I set, else
 * refuse (-1); not is_ci → the guest's WIMG must be M (SAO W|I|M counts as M on ARCH_206), else
 * silently made M. Returns the (possibly rewritten) low word of dword 1, or -1 to refuse.
 */
// Mirrors hpte_cache_flags_ok() (arch/powerpc/include/asm/kvm_book3s_64.h, Linux 4.20, tree sjitindarsingh/linux)
export function wimg_fixup_420(r_lo: number, hostCacheBits: number, arch206: boolean): number {
  const is_ci = (hostCacheBits & PTE_NO_CACHE) !== 0;
  let wimg = r_lo & HPTE_R_WIMG_LO;
  if (wimg === (HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_M_LO) && arch206) wimg = HPTE_R_M_LO;
  let ok: boolean;
  if (!is_ci) ok = wimg === HPTE_R_M_LO;
  else ok = (wimg & HPTE_R_W_LO) === 0 && (wimg & HPTE_R_I_LO) !== 0;
  if (ok) return r_lo;
  if (is_ci) return -1;
  return ((r_lo & ~(HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_G_LO)) | HPTE_R_M_LO) >>> 0;
}

/**
 * The page fault's new dword 1: r = (r & KEY_HI) | (r & ~(PP0 - psize)) | (pa & ~(psize - 1)),
 * psize raised to PAGE_SIZE. 3.4 masks with the backing size instead and drops KEY_HI.
 */
// Mirrors the "Set the HPTE to point to pfn" step of kvmppc_book3s_hv_page_fault() (book3s_64_mmu_hv.c, Linux 4.20, tree sjitindarsingh/linux)
export function fault_set_rpn_420(r_hi: number, r_lo: number, psize: number, _pteSize: number, pa_hi: number, pa_lo: number, pageSize: number, out: Uint32Array): void {
  const ps = psize < pageSize ? pageSize : psize;
  // ps ≤ 16 MiB here, so ~(ps - 1) has an all-ones high word.
  out[0] = ((r_hi & (HPTE_R_KEY_HI_HI | HPTE_R_PP0_HI)) | pa_hi) >>> 0;
  out[1] = ((r_lo & (ps - 1)) | (pa_lo & ~(ps - 1))) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// H_ENTER
// ---------------------------------------------------------------------------------------------

/**
 * H_ENTER (POWER7, MMU notifiers): r4 = flags, r5 = pte_index, r6 = pteh, r7 = ptel; r4 = index.
 * The 3.4 algorithm (rm_mmu.ts kvmppc_h_enter) with these 4.20 changes, in the kernel's order:
 * - HPTE_GR_RESERVED (bit 62) is stripped from ptel before it is saved as guest_rpte;
 * - the host PTE: a backing page smaller than psize is H_PARAMETER as soon as a PTE slot exists
 *   (present or not); present: young/dirty, host read-only → hpte_make_readonly, is_ci = pte_ci,
 *   pa = pfn << PAGE_SHIFT | (hva & (host size - 1)) | (gpa & ~PAGE_MASK);
 * - ptel &= KEY | PP0 | (psize - 1), then | pa: KEY_HI survives (3.4 clears it);
 * - no page: ABSENT with the key bits *cleared* (3.4 keeps the guest's, so key 31 looks like MMIO);
 * - the WIMG check runs whenever a PTE slot exists (3.4: only for a present page), with the 4.20
 *   rule (wimg_fixup_420);
 * - an invalidation in flight writes ABSENT with the key bits cleared;
 * - chain insertion keeps the rmap word's R/C (kvmppc_add_revmap_chain_420), so the R/C filter
 *   lets through what an earlier unmap harvested.
 */
// Mirrors kvmppc_do_h_enter() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_h_enter_420(kvm: Kvm, regs: Uint32Array): number {
  const flags_hi = regs[0];
  const idx_hi = regs[2];
  const idx_lo = regs[3];
  let pteh_hi = regs[4];
  let pteh_lo = regs[5];
  let ptel_hi = regs[6];
  let ptel_lo = regs[7];
  const t = kvm.tmp;

  const psize = hpte_page_size(pteh_lo, ptel_lo, kvm.arch206);
  if (psize === 0) return H_PARAMETER;
  const writing = hpte_is_writable(ptel_hi, ptel_lo);
  pteh_lo = (pteh_lo & ~(HPTE_V_HVLOCK_LO | HPTE_V_ABSENT_LO | HPTE_V_VALID_LO)) >>> 0;
  ptel_hi = (ptel_hi & ~GR_RESERVED_HI) >>> 0;
  const g_ptel_hi = ptel_hi;
  const g_ptel_lo = ptel_lo;
  const mmu_seq = kvm.mmu_notifier_seq;

  const gfn = hpte_rpn(ptel_hi, ptel_lo, psize, kvm.pageShift);
  const gpa_lo = ptel_lo & HPTE_R_RPN_LO & ~(psize - 1);
  const slot = kvm.gfn_to_memslot(gfn);
  let off = -1;
  if (slot === null || (slot.flags & KVM_MEMSLOT_INVALID) !== 0) {
    // Emulated MMIO: ABSENT with key 31; straight to do_insert.
    pteh_lo |= HPTE_V_ABSENT_LO;
    ptel_hi = (ptel_hi | HPTE_R_KEY_HI_HI) >>> 0;
    ptel_lo = (ptel_lo | HPTE_R_KEY_LO_LO) >>> 0;
  } else {
    if (!slot_is_aligned(slot, psize, kvm.pageSize)) return H_PARAMETER;
    off = gfn - slot.base_gfn;
    const hva = kvm.gfn_to_hva_memslot(slot, gfn);
    const mm = kvm.mm;
    const pi = mm.find_linux_pte_or_hugepte(hva);
    let is_ci = false;
    let pa_hi = 0;
    let pa_lo = 0;
    if (pi >= 0) {
      const vma = mm.foundVma!;
      const host_pte_size = 2 ** vma.pageShift;
      if (host_pte_size < psize) return H_PARAMETER;
      // kvmppc_read_update_linux_pte(ptep, writing): present → young, dirty if writing and writable.
      let f = vma.flags[pi];
      if ((f & PTE_PRESENT) !== 0) {
        f |= PTE_YOUNG;
        if (writing && (f & PTE_RW) !== 0) f |= PTE_DIRTY;
        vma.flags[pi] = f;
        if (writing && (f & PTE_RW) === 0) {
          hpte_make_readonly(ptel_hi, ptel_lo, t, 0);
          ptel_hi = t[0];
          ptel_lo = t[1];
        }
        is_ci = (vma.cacheBits & PTE_NO_CACHE) !== 0;
        // pa = pfn << PAGE_SHIFT | (hva & (host_pte_size - 1)) | (gpa & ~PAGE_MASK)
        const pa = vma.pfn[pi] * kvm.pageSize + (hva % host_pte_size);
        pa_hi = Math.floor(pa / TWO32) >>> 0;
        pa_lo = (pa >>> 0 | (gpa_lo & (kvm.pageSize - 1))) >>> 0;
      }
    }
    // ptel &= HPTE_R_KEY | HPTE_R_PP0 | (psize - 1); ptel |= pa.
    ptel_hi = ((ptel_hi & (HPTE_R_KEY_HI_HI | HPTE_R_PP0_HI)) | pa_hi) >>> 0;
    ptel_lo = ((ptel_lo & (HPTE_R_KEY_LO_LO | (psize - 1))) | pa_lo) >>> 0;
    if (pa_hi !== 0 || pa_lo !== 0) {
      pteh_lo |= HPTE_V_VALID_LO;
    } else {
      pteh_lo |= HPTE_V_ABSENT_LO;
      ptel_hi = (ptel_hi & ~HPTE_R_KEY_HI_HI) >>> 0;
      ptel_lo = (ptel_lo & ~HPTE_R_KEY_LO_LO) >>> 0;
    }
    if (pi >= 0) {
      const w = wimg_fixup_420(ptel_lo, is_ci ? PTE_NO_CACHE : 0, kvm.arch206);
      if (w < 0) return H_PARAMETER;
      ptel_lo = w;
    }
  }

  // do_insert.
  if (badIndex(kvm, idx_hi, idx_lo)) return H_PARAMETER;
  const index = h_enter_find_slot(kvm.mmu.hpt, flags_hi, idx_lo, VALID_OR_ABSENT);
  if (index < 0) return H_PTEG_FULL;
  kvm.mmu.revGuestR[index * 2] = g_ptel_hi;
  kvm.mmu.revGuestR[index * 2 + 1] = g_ptel_lo;
  if ((pteh_lo & HPTE_V_VALID_LO) !== 0) {
    const s = slot as Memslot;
    if (mmu_notifier_retry(kvm, mmu_seq)) {
      pteh_lo = ((pteh_lo | HPTE_V_ABSENT_LO) & ~HPTE_V_VALID_LO) >>> 0;
      ptel_hi = (ptel_hi & ~HPTE_R_KEY_HI_HI) >>> 0;
      ptel_lo = (ptel_lo & ~HPTE_R_KEY_LO_LO) >>> 0;
    } else {
      kvm.ops.hash.addRevmapChain(kvm, s, off, index);
      ptel_lo = rmap_rc_filter(ptel_lo, s.rmap[off * 2]);
    }
  }
  kvm.mmu.setHpte(index, pteh_hi >>> 0, pteh_lo >>> 0, ptel_hi >>> 0, ptel_lo >>> 0);
  regs[0] = 0;
  regs[1] = index;
  return H_SUCCESS;
}

/** H_ENTER from host virtual mode (VRMA set-up): kvmppc_do_h_enter, H_TOO_HARD → H_RESOURCE. */
// Mirrors kvmppc_virtmode_do_h_enter() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_virtmode_do_h_enter_420(kvm: Kvm, regs: Uint32Array): number {
  const ret = kvmppc_h_enter_420(kvm, regs);
  return ret === H_TOO_HARD ? H_RESOURCE : ret;
}

// ---------------------------------------------------------------------------------------------
// H_REMOVE
// ---------------------------------------------------------------------------------------------

/**
 * H_REMOVE: as 3.4 (match rules, VALID → clear, tlbie, unlink with the post-tlbie R/C; ABSENT →
 * no tlbie, no chain; dword 0 = 0), but r4 reports an ABSENT entry as VALID ((v & ~ABSENT) |
 * VALID; 3.4 returns ABSENT set, VALID clear) and r5 = guest_rpte & ~HPTE_GR_RESERVED. The
 * tlbie scope follows global_invalidates(): H_LOCAL is ignored, tlbiel only with one vcpu
 * (modelled as online_vcpus === 1; need_tlb_flush is not modelled).
 */
// Mirrors kvmppc_do_h_remove() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_h_remove_420(kvm: Kvm, regs: Uint32Array): number {
  const flags_lo = regs[1];
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  let v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  const r_hi = hpt[p + 2];
  const r_lo = hpt[p + 3];
  if ((v_lo & VALID_OR_ABSENT) === 0 || h_remove_mismatch(flags_lo, v_hi, v_lo, regs[4], regs[5])) return H_NOT_FOUND;
  if ((v_lo & HPTE_V_VALID_LO) !== 0) {
    const rc = harvest_rc(kvm, i, r_lo);
    kvm.mmu.setHpte(i, 0, 0, r_hi, r_lo);
    kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, kvm.online_vcpus === 1);
    kvm.ops.hash.unlinkRevmapChain(kvm, i, v_lo, rc, r_lo);
  } else {
    kvm.mmu.setHpte(i, 0, 0, r_hi, r_lo);
  }
  if ((v_lo & HPTE_V_ABSENT_LO) !== 0) v_lo = ((v_lo & ~HPTE_V_ABSENT_LO) | HPTE_V_VALID_LO) >>> 0;
  regs[0] = v_hi;
  regs[1] = v_lo;
  regs[2] = (kvm.mmu.revGuestR[i * 2] & ~GR_RESERVED_HI) >>> 0;
  regs[3] = kvm.mmu.revGuestR[i * 2 + 1];
  return H_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// H_PROTECT
// ---------------------------------------------------------------------------------------------

/**
 * H_PROTECT: r4 = flags, r5 = pte_index, r6 = avpn. The guest view always takes the new
 * PP0/PP/N/key bits. The hardware dword 1 changes only for a VALID entry (an ABSENT one keeps its
 * key, so an MMIO HPTE stays key 31 — 3.4 rewrites it): r = (hw r & ~mask) | bits, kept read-only
 * if it was (hpte_make_readonly), and only if r differs from the hardware word: dword 0 ABSENT|¬VALID,
 * tlbie (global_invalidates: H_LOCAL ignored, local only with one vcpu), r |= the hardware R/C,
 * write r, restore dword 0. An unchanged r issues no tlbie (3.4 always invalidates).
 */
// Mirrors kvmppc_do_h_protect() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_h_protect_420(kvm: Kvm, regs: Uint32Array): number {
  const flags_lo = regs[1];
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  if ((v_lo & VALID_OR_ABSENT) === 0 || h_avpn_mismatch(flags_lo, v_hi, v_lo, regs[4], regs[5])) return H_NOT_FOUND;
  const pte_r_hi = hpt[p + 2];
  const pte_r_lo = hpt[p + 3];
  const t = kvm.tmp;
  h_protect_bits(flags_lo, t, 0);
  const b_hi = t[0];
  const b_lo = t[1];
  const gr = kvm.mmu.revGuestR;
  gr[i * 2] = ((gr[i * 2] & ~PROT_MASK_HI) | b_hi) >>> 0;
  gr[i * 2 + 1] = ((gr[i * 2 + 1] & ~PROT_MASK_LO) | b_lo) >>> 0;
  if ((v_lo & HPTE_V_VALID_LO) === 0) {
    // The guest view changed; the hardware words did not (recorded so the trace carries the view).
    kvm.mmu.setHpte(i, v_hi, v_lo, pte_r_hi, pte_r_lo);
    return H_SUCCESS;
  }
  let r_hi = ((pte_r_hi & ~PROT_MASK_HI) | b_hi) >>> 0;
  let r_lo = ((pte_r_lo & ~PROT_MASK_LO) | b_lo) >>> 0;
  if (hpte_is_writable(r_hi, r_lo) && !hpte_is_writable(pte_r_hi, pte_r_lo)) {
    hpte_make_readonly(r_hi, r_lo, t, 0);
    r_hi = t[0];
    r_lo = t[1];
  }
  if (r_hi === pte_r_hi && r_lo === pte_r_lo) {
    kvm.mmu.setHpte(i, v_hi, v_lo, pte_r_hi, pte_r_lo);
    return H_SUCCESS;
  }
  // R/C cannot change under the model's tlbie (no concurrent hardware), so OR-ing the hardware R/C
  // back in is r |= pte_r & (R|C). Final words first (dword 0 restored), then the tlbie.
  r_lo = (r_lo | (pte_r_lo & RC_LO)) >>> 0;
  kvm.mmu.setHpte(i, v_hi, v_lo, r_hi, r_lo);
  kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, kvm.online_vcpus === 1);
  return H_SUCCESS;
}
