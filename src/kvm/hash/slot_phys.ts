// slot_phys: the pinned-page table of a VM without MMU notifiers (PPC970, Linux 3.4;
// kernel-model §C.4), the functions that fill and empty it, and the PPC970 RMA set-up.
//
// kvm->arch.slot_phys[slot_id][npages] holds one unsigned long per host page of the memslot:
// (host_pfn << PAGE_SHIFT) | flags, where the low byte is KVMPPC_PAGE_ORDER_MASK (log2 of the host
// pages of the backing page) | KVMPPC_PAGE_NO_CACHE | KVMPPC_PAGE_WRITETHRU | KVMPPC_GOT_PAGE.
// The model keeps the two parts apart: `pfn` (Uint32Array) and `flags` (Uint8Array; all flag bits
// fit a byte). An entry is "zero" (not pinned yet) iff both are 0; frame 0 is never handed out, so
// a filled entry always has pfn ≠ 0.
//
// Like the kernel, slot_phys is indexed by slot *id* and outlives memslot deletion: it is allocated
// by the first KVM_SET_USER_MEMORY_REGION for that id and freed only by unpin_slot at VM destroy.

import { hid4_set_rma, HPTE_R_I_LO, HPTE_R_W_LO, KVMPPC_GOT_PAGE, KVMPPC_PAGE_ORDER_MASK, lpcr_rmls } from '../../arch/index.js';
import { PTE_PRESENT } from '../../host/mm.js';
import { FRAME_RESERVED } from '../../host/physmem.js';
import { E } from '../../trace/kinds.js';
import { NO_CAUSE } from '../../trace/recorder.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type Memslot, SlotPhys } from '../types.js';

export { SlotPhys } from '../types.js';

const EINVAL = -22;
const ENOMEM = -12;

/**
 * Allocate the slot_phys array of a new memslot when notifiers are off (and it does not exist yet).
 * Returns 0 or a negative errno. Model deviation: an existing array (left from a deleted slot with
 * the same id) that is smaller than the new slot is refused with -EINVAL, where Linux 3.4 would
 * index beyond it.
 */
// Mirrors kvmppc_core_prepare_memory_region() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
export function kvmppc_core_prepare_memory_region(kvm: Kvm, slotId: number, npages: number): number {
  // 1. Only without MMU notifiers.
  if (kvm.usingMmuNotifiers) return 0;
  const phys = kvm.slot_phys[slotId];
  if (phys !== null) return phys.npages >= npages ? 0 : EINVAL;
  // 2. vzalloc(npages * sizeof(unsigned long)).
  if (npages <= 0) return ENOMEM;
  kvm.slot_phys[slotId] = new SlotPhys(npages);
  return 0;
}

/**
 * Get a reference to the guest page at gfn if slot_phys has none yet, and fill its entry (all
 * entries of a huge backing page when the slot and userspace_addr are aligned to it; only the
 * first entry filled carries KVMPPC_GOT_PAGE). Returns 0 or -EINVAL. Records host_page(pin) for
 * the reference kept (lpid = VM, cause = kvm.ctxCause); a fault-in by get_user_pages records its
 * own map / swap_in first.
 *
 * Model notes: get_user_pages_fast fails for I/O VMAs (cacheBits ≠ 0), which stand in for
 * VM_PFNMAP; their "vm_pgoff + offset" pfn is the VMA's PTE for hva (it must be present). The pin
 * reference is held on the exact frame named by the GOT_PAGE entry (Linux holds it on the compound
 * head; put_page on a tail page reaches the head, so both release the same page).
 */
// Mirrors kvmppc_get_guest_page() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_get_guest_page(kvm: Kvm, gfn: number, slot: Memslot, psize: number): number {
  const physp = kvm.slot_phys[slot.id];
  const mm = kvm.mm;
  const ps = kvm.pageSize;
  // 1. No array → -EINVAL; already filled → nothing to do.
  if (physp === null) return EINVAL;
  const off = gfn - slot.base_gfn;
  if (off < 0 || off >= physp.npages) return EINVAL;
  if (physp.has(off)) return 0;
  let is_io = 0;
  let got = 0;
  let page = -1;
  let pgsize = psize;
  let start = kvm.gfn_to_hva_memslot(slot, gfn);
  let pfn: number;
  // 2. get_user_pages_fast(start, 1, write = 1).
  const np = mm.get_user_pages_fast(start, true, kvm.ctxCause);
  if (np < 0) {
    // 3. VM_PFNMAP: an I/O VMA covering [start, start + psize), pfn aligned to psize.
    const vma = mm.find_vma(start);
    if (vma === null || vma.start > start || start + psize > vma.end || vma.cacheBits === 0) return EINVAL;
    is_io = vma.cacheBits & (HPTE_R_I_LO | HPTE_R_W_LO); // hpte_cache_bits(vm_page_prot)
    const pi = vma.index(start);
    if ((vma.flags[pi] & PTE_PRESENT) === 0) return EINVAL; // model: the I/O "pgoff" comes from a present PTE
    pfn = vma.pfn[pi] + Math.floor((start - vma.address(pi)) / ps);
    if (psize > ps && pfn % (psize / ps) !== 0) return EINVAL;
  } else {
    page = np;
    got = KVMPPC_GOT_PAGE;
    // 4. A huge page: take the whole of it if the slot and userspace_addr are aligned to it.
    const vma = mm.foundVma!;
    let s = ps;
    if (vma.pageShift > kvm.pageShift) {
      s = 2 ** vma.pageShift;
      if (s > psize && slot_aligned_to(slot, s, ps) && slot.userspace_addr % s === 0) {
        start -= start % s;
        pgsize = s;
        const head = np - (np % (s / ps));
        // get_page(hpage); put_page(page); page = hpage;
        kvm.mm.phys.pin(head);
        kvm.mm.phys.unpin(np);
        page = head;
      }
    }
    if (s < psize) {
      // out: put_page(page); err = -EINVAL.
      kvm.mm.phys.unpin(page);
      return EINVAL;
    }
    pfn = page;
  }
  // 5. Fill every empty entry of the backing page; the first one filled holds the reference.
  const npages = pgsize / ps;
  const pgorder = Math.log2(npages);
  const first = off - (off % npages);
  let gotAt = -1;
  for (let i = 0; i < npages; ++i) {
    if (!physp.has(first + i)) {
      physp.pfn[first + i] = pfn + i;
      physp.flags[first + i] = got | is_io | pgorder;
      if (got !== 0) gotAt = i;
      got = 0;
    }
  }
  // 6. out: a reference not stored in an entry is dropped; the kept one moves to its entry's frame.
  const phys = kvm.mm.phys;
  if (got !== 0) phys.unpin(page);
  if (gotAt >= 0) {
    if (pfn + gotAt !== page) {
      phys.pin(pfn + gotAt);
      phys.unpin(page);
    }
    mm.recordPage(E.host_page_op.pin, start + gotAt * ps, pfn + gotAt, true, kvm.pageShift + pgorder, kvm.ctxCause, kvm.lpid);
  }
  return 0;
}

/** slot_is_aligned() on a Memslot with the host page size passed in. */
function slot_aligned_to(slot: Memslot, size: number, ps: number): boolean {
  if (size <= ps) return true;
  const n = size / ps;
  return slot.base_gfn % n === 0 && slot.npages % n === 0;
}

/**
 * Drop every page reference slot_phys[slotId] holds (SetPageDirty + put_page for each
 * KVMPPC_GOT_PAGE entry; the model has no page dirty flag, so only the put_page is modelled), record
 * host_page(unpin) for each, and free the array. Frames whose mapping is gone are freed here.
 */
// Mirrors unpin_slot() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
export function unpin_slot(kvm: Kvm, slotId: number): void {
  const physp = kvm.slot_phys[slotId];
  if (physp === null) return;
  const slot = kvm.memslots.find((s) => s.id === slotId) ?? null;
  const ps = kvm.pageSize;
  for (let j = 0; j < physp.npages; j++) {
    const f = physp.flags[j];
    if ((f & KVMPPC_GOT_PAGE) === 0) continue;
    const pfn = physp.pfn[j];
    const hva = slot !== null ? slot.userspace_addr + j * ps : 0;
    kvm.mm.recordPage(E.host_page_op.unpin, hva, pfn, true, kvm.pageShift + (f & KVMPPC_PAGE_ORDER_MASK), NO_CAUSE, kvm.lpid);
    kvm.mm.phys.unpin(pfn);
  }
  kvm.slot_phys[slotId] = null;
}

// ---------------------------------------------------------------------------------------------
// PPC970 RMA (kvm_alloc_rma / kvmppc_hv_setup_rma, the RMO branch)
// ---------------------------------------------------------------------------------------------

/** struct kvmppc_linear_info for an RMA: physically contiguous, aligned to its size. */
export interface KvmppcLinearInfo {
  readonly base_pfn: number;
  /** Host pages. */
  readonly npages: number;
}

/**
 * Take an RMA of `bytes` (a power of two) from host memory, as the boot-time pool
 * (kvm_rma_size × kvm_rma_count, book3s_hv_builtin.c) provides it: contiguous, aligned to its size,
 * owned by nobody's page table (FRAME_RESERVED, so neither reclaim nor the VMM frees it). Returns
 * null if no aligned block is free.
 */
// Mirrors kvm_alloc_rma() (arch/powerpc/kvm/book3s_hv_builtin.c, Linux 3.4) as modelled here
export function kvm_alloc_rma(kvm: Kvm, bytes: number): KvmppcLinearInfo | null {
  const ps = kvm.pageSize;
  const npages = bytes / ps;
  if (!Number.isInteger(npages) || npages < 1 || (npages & (npages - 1)) !== 0) return null;
  const base = kvm.mm.phys.alloc(Math.log2(npages), FRAME_RESERVED);
  return base < 0 ? null : { base_pfn: base, npages };
}

/**
 * First-run set-up of the real-mode area on PPC970 (the RMO branch; PPC970 has no VRMA, so without
 * an RMA this fails with -EPERM, "KVM: CPU requires an RMO"): put RMLS (split field) and RMOR
 * (base in 64 MiB units) into the guest HID4 (kvm.lpcrHi/Lo), and fill slot_phys of the memslot at
 * gpa 0 with ((base_pfn + i) << PAGE_SHIFT) | log2(ri.npages), without GOT_PAGE.
 * Returns 0, -EINVAL (no slot at 0, unencodable RMA size) or -EPERM (no RMA).
 *
 * Kernel facts kept: the order written is log2 of the RMA's page count (so H_ENTER sees the whole
 * RMA as one backing page); RMOR is ORed in without clearing the field; entries are overwritten
 * even if already pinned (a reference would leak). Model deviation: the fill stops at the end of
 * slot_phys (Linux writes ri->npages entries even when the slot is smaller).
 */
// Mirrors kvmppc_hv_setup_rma() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4), PPC970 paths
export function kvmppc_hv_setup_rma_970(kvm: Kvm, ri: KvmppcLinearInfo | null): number {
  if (kvm.arch206) throw new Error('kvmppc_hv_setup_rma_970: POWER7 uses the VRMA (POWER7 + RMA is not modelled, §C.4)');
  // 1. Memory at gpa 0.
  const memslot = kvm.gfn_to_memslot(0);
  if (memslot === null || (memslot.flags & KVM_MEMSLOT_INVALID) !== 0) return EINVAL;
  // 2. No preallocated RMA → "KVM: CPU requires an RMO".
  if (ri === null) return -1; // -EPERM
  // 3. rmls for min(RMA, slot) bytes.
  const rmaSize = Math.min(ri.npages, memslot.npages) * kvm.pageSize;
  const rmls = lpcr_rmls(rmaSize, false);
  if (rmls < 0) return EINVAL;
  // 4. HID4: RMLS split field, RMOR ORed in.
  const hid4 = hid4_set_rma((BigInt(kvm.lpcrHi) << 32n) | BigInt(kvm.lpcrLo), rmls, ri.base_pfn, kvm.pageShift);
  kvm.lpcrHi = Number(hid4 >> 32n) >>> 0;
  kvm.lpcrLo = Number(hid4 & 0xffffffffn) >>> 0;
  // 5. slot_phys of the slot at gpa 0.
  const physp = kvm.slot_phys[memslot.id];
  if (physp !== null) {
    const porder = Math.log2(ri.npages) & KVMPPC_PAGE_ORDER_MASK;
    const n = Math.min(ri.npages, physp.npages);
    for (let i = 0; i < n; ++i) {
      physp.pfn[i] = ri.base_pfn + i;
      physp.flags[i] = porder;
    }
  }
  return 0;
}
