// The reverse map: per-gfn rmap words and the revmap chains through revmap[].forw/back
// (kernel-model §C.2, §C.3). All rmap words are (hi, lo) pairs in Memslot.rmap.

import {
  HPTE_R_C_LO,
  HPTE_R_R_LO,
  hpte_page_size,
  hpte_rpn,
  KVMPPC_RMAP_PRESENT_HI,
  KVMPPC_RMAP_REFERENCED_HI,
} from '../../arch/index.js';
import { E } from '../../trace/kinds.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type Memslot } from '../types.js';

/**
 * Link HPTE i into the chain of rmap word `off` of `slot`, as the tail (just before the head), or
 * as a one-element ring if the chain was empty. Then (K34) the word becomes
 * head | REFERENCED | PRESENT: this "unlock" also *drops a CHANGED bit the word had*, which is how
 * Linux 3.4 loses dirty information when a page is re-mapped (kernel-model §C.3). Records
 * rmap_change(link).
 */
// Mirrors kvmppc_add_revmap_chain() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_add_revmap_chain(kvm: Kvm, slot: Memslot, off: number, i: number): void {
  const rmap = slot.rmap;
  const forw = kvm.mmu.revForw;
  const back = kvm.mmu.revBack;
  let head: number;
  // 1. Non-empty chain: insert before the head (the head index stays).
  if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) !== 0) {
    head = rmap[off * 2 + 1];
    const tail = back[head];
    forw[i] = head;
    back[i] = tail;
    forw[tail] = i;
    back[head] = i;
  } else {
    // 2. Empty chain: i alone.
    forw[i] = i;
    back[i] = i;
    head = i;
  }
  // 3. *rmap = i | REFERENCED | PRESENT (unlocks; CHANGED and anything else are gone).
  rmap[off * 2] = KVMPPC_RMAP_REFERENCED_HI | KVMPPC_RMAP_PRESENT_HI;
  rmap[off * 2 + 1] = head;
  kvm.mmu.recRmap(E.rmap_op.link, slot, off, i, forw[i], back[i]);
}

/**
 * First half of remove_revmap_chain(): guest_rpte |= hardware R/C. Returns the R/C bits (low word).
 * Split from the unlink so the hpte_write event of the caller carries the final guest view.
 */
// Mirrors the R/C harvest at the top of remove_revmap_chain() (book3s_hv_rm_mmu.c, Linux 3.4)
export function harvest_rc(kvm: Kvm, i: number, r_lo: number): number {
  const rc = r_lo & (HPTE_R_R_LO | HPTE_R_C_LO);
  kvm.mmu.revGuestR[i * 2 + 1] = (kvm.mmu.revGuestR[i * 2 + 1] | rc) >>> 0;
  return rc;
}

/**
 * Second half of remove_revmap_chain(): find the slot of the (harvested) guest view, unlink i from
 * its chain (moving the head on if i was it, clearing PRESENT|INDEX if i was alone), and OR the
 * R/C bits into the rmap word. No slot (MMIO, or a slot deleted under K34) → nothing. Records
 * rmap_change(unlink). `v_lo` is the HPTE's dword 0 before removal (its L bit sizes the page).
 *
 * K34 leaves the removed entry's forw/back stale; the model points them at i itself so that state
 * digests never depend on dead links (nothing reads them before the next link overwrites them).
 */
// Mirrors remove_revmap_chain() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function unlink_revmap_chain(kvm: Kvm, i: number, v_lo: number, rc: number, _r_lo: number): void {
  const gr_hi = kvm.mmu.revGuestR[i * 2];
  const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
  // 1. gfn = hpte_rpn(ptel, hpte_page_size(v, ptel)); find its memslot.
  const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
  if (psize === 0) return;
  const gfn = hpte_rpn(gr_hi, gr_lo, psize, kvm.pageShift);
  const slot = kvm.gfn_to_memslot(gfn);
  if (slot === null || (slot.flags & KVM_MEMSLOT_INVALID) !== 0) return;
  const off = gfn - slot.base_gfn;
  unlink_from_rmap(kvm, slot, off, i);
  // 2. *rmap |= rcbits << KVMPPC_RMAP_RC_SHIFT.
  slot.rmap[off * 2] = (slot.rmap[off * 2] | rc) >>> 0;
  kvm.mmu.recRmap(E.rmap_op.unlink, slot, off, i, -1, -1);
}

/** Unlink i from the chain of rmap word `off` (head moves to forw; empty → PRESENT|INDEX cleared). */
export function unlink_from_rmap(kvm: Kvm, slot: Memslot, off: number, i: number): void {
  const rmap = slot.rmap;
  const forw = kvm.mmu.revForw;
  const back = kvm.mmu.revBack;
  const next = forw[i];
  const prev = back[i];
  back[next] = prev;
  forw[prev] = next;
  if (rmap[off * 2 + 1] === i) {
    if (next === i) {
      rmap[off * 2] = (rmap[off * 2] & ~KVMPPC_RMAP_PRESENT_HI) >>> 0;
      rmap[off * 2 + 1] = 0;
    } else {
      rmap[off * 2 + 1] = next;
    }
  }
  forw[i] = i;
  back[i] = i;
}
