// get_user_pages_fast() for one page, as KVM's virtual-mode page fault uses it: the host side of
// "find the host page behind this hva", which belongs to the host model (mm/), not to KVM.

import { type HostMm, PTE_DIRTY, PTE_PRESENT, PTE_RW, PTE_YOUNG } from './mm.js';

/** Result of get_user_pages_fast() for one page (the model's struct page *): reused per Kvm call. */
export class HostPage {
  /** First pfn of the backing (huge) page, host PAGE_SIZE units. */
  pfn = 0;
  /** Backing page size in bytes (PAGE_SIZE, or the hugetlb size). */
  size = 0;
  /** The host PTE was writable after the lookup. */
  writable = false;
}

/**
 * get_user_pages_fast(hva, 1, writing) against the host model: the VMA's PTE for hva, faulting it
 * in when it is not present (mm.map: a fresh page, or swap-in of a swapped one — no notifier, as in
 * Linux), and, for a write to a present read-only PTE, the write fault's reuse case (mm.protect to
 * writable: do_wp_page on an exclusively owned page; no notifier). The PTE is marked young, and
 * dirty when writing (FOLL_TOUCH). Returns false where gup fails: no VMA, or an I/O VMA (cache
 * bits set: VM_IO/VM_PFNMAP, which gup refuses). Time: gupFast for the walk, plus mm.map's
 * hostFault or swapIn when the page is faulted in.
 */
// Mirrors get_user_pages_fast() as used by kvmppc_book3s_hv_page_fault() (mm/gup, Linux 3.4), as modelled
export function host_get_user_page(mm: HostMm, hva: number, writing: boolean, out: HostPage): boolean {
  // The lockless walk is always tried first; a page that is not there is then faulted in (slow
  // gup → handle_mm_fault), which charges its own entry (mm.map: hostFault or swapIn).
  mm.clock.charge(mm.clock.t.gupFast);
  const vma = mm.find_vma(hva);
  if (vma === null || vma.cacheBits !== 0) return false;
  const i = vma.index(hva);
  let f = vma.flags[i];
  if ((f & PTE_PRESENT) === 0) {
    // map() records swap_in for a swapped PTE (PTE_SWAP), map otherwise.
    mm.map(hva, { writable: true });
    f = vma.flags[i];
  } else if (writing && (f & PTE_RW) === 0) {
    mm.protect(hva, true);
    f = vma.flags[i];
  }
  f |= PTE_YOUNG;
  if (writing) f |= PTE_DIRTY;
  vma.flags[i] = f;
  out.pfn = vma.pfn[i];
  out.size = 2 ** vma.pageShift;
  out.writable = (f & PTE_RW) !== 0;
  return true;
}
