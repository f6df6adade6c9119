// The VMM process's address space (QEMU's mm_struct): VMAs, the Linux page table hva → pfn, and
// the MMU-notifier chain through which KVM hears about every change that could make an HPTE stale.
//
// Model of the page table. Each VMA is backed by pages of one size (its `pageShift`: the host
// PAGE_SHIFT for ordinary anonymous memory, or a hugetlbfs size 16/24 ≥ PAGE_SHIFT) and holds one
// PTE per such page: flags (present / writable / young / dirty / swapped) and the first pfn (host
// PAGE_SIZE units; a huge page occupies 2^(pageShift - PAGE_SHIFT) aligned frames). Page-table pages
// are treated as always allocated inside a VMA, so find_linux_pte_or_hugepte() returns NULL only
// outside every VMA: that makes KVM's "host page smaller than guest page → H_PARAMETER" decision
// independent of whether a page happens to have been touched (in Linux it depends on it).
//
// Which notifier each operation fires (Linux 3.4 mm/, as modelled):
//   unmap (reclaim of one small page)        pte cleared, then invalidate_page
//   unmap({range}) / any huge page            invalidate_range_start, pte cleared, invalidate_range_end
//   swapOut                                   as unmap of one page (try_to_unmap_one), pte → swap entry;
//                                             refused (nothing happens) if a frame of the page is pinned
//   protect(writable=false)                   invalidate_range_start/end around the downgrade
//   protect(writable=true)                    none (Linux never notifies a permission upgrade)
//   replacePage (KSM/COW style)               change_pte (set_pte_at_notify), then the new pte
//   age (page_referenced)                     pte young cleared, clear_flush_young
//   testYoung                                 test_young
// Every operation records one `host_page` event first; notifier callbacks get its seq as their
// cause, so the KVM events they produce chain back to the host operation.
//
// Page references. A frame is freed when its mapping goes (unmap, swapOut, replacePage) unless it
// holds pin references (PhysMem.pin: KVM's get_user_pages on PPC970); then it is freed at the last
// unpin. get_user_pages_fast() faults a page in (map, or swap-in of a swapped page) and pins it.
// Allocation failures call `directReclaim` (set by a Reclaim instance) once before giving up.

import type { Clock } from '../arch/timing.js';
import type { Hva } from '../arch/types.js';
import { K, E } from '../trace/kinds.js';
import { RecorderClock } from '../trace/clock.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import { FRAME_VMM, type HostPageShift, type PhysMem } from './physmem.js';

// PTE flag bits of this model (a subset of Linux's pte-hash64.h meanings; values are ours except the
// cache bits, which equal HPTE_R_I / HPTE_R_W as _PAGE_NO_CACHE / _PAGE_WRITETHRU do on ppc64, so
// hpte_cache_bits() is a plain mask).
export const PTE_PRESENT = 0x01;
export const PTE_RW = 0x02;
export const PTE_YOUNG = 0x04;
export const PTE_DIRTY = 0x08;
/** Not present, but a swap entry (the page's contents live in swap). */
export const PTE_SWAP = 0x80;
/** _PAGE_NO_CACHE (= HPTE_R_I). */
export const PTE_NO_CACHE = 0x20;
/** _PAGE_WRITETHRU (= HPTE_R_W). */
export const PTE_WRITETHRU = 0x40;

/** host_page.owner values. */
export const OWNER_VMM = 0;
export const OWNER_OTHER = 1;

/** The KVM side of mmu_notifier_ops (include/linux/mmu_notifier.h, Linux 3.4). */
export interface MmuNotifier {
  invalidate_page(mm: HostMm, address: number, cause: number): void;
  invalidate_range_start(mm: HostMm, start: number, end: number, cause: number): void;
  invalidate_range_end(mm: HostMm, start: number, end: number, cause: number): void;
  change_pte(mm: HostMm, address: number, cause: number): void;
  clear_flush_young(mm: HostMm, address: number, cause: number): number;
  test_young(mm: HostMm, address: number, cause: number): number;
  release(mm: HostMm, cause: number): void;
}

export class Vma {
  readonly start: number;
  readonly end: number;
  /** Backing page size of this VMA: PAGE_SHIFT, or a huge page shift (16 with 4K pages, 24). */
  readonly pageShift: number;
  /** Cache bits of vm_page_prot (PTE_NO_CACHE | PTE_WRITETHRU subset); 0 for RAM. */
  readonly cacheBits: number;
  readonly flags: Uint8Array;
  readonly pfn: Uint32Array;

  constructor(start: number, bytes: number, pageShift: number, cacheBits: number) {
    this.start = start;
    this.end = start + bytes;
    this.pageShift = pageShift;
    this.cacheBits = cacheBits;
    const n = bytes / 2 ** pageShift;
    this.flags = new Uint8Array(n);
    this.pfn = new Uint32Array(n);
  }

  get npages(): number {
    return this.flags.length;
  }

  /** PTE index of hva (caller checks start ≤ hva < end). */
  index(hva: number): number {
    return Math.floor((hva - this.start) / 2 ** this.pageShift);
  }

  /** hva of PTE index i. */
  address(i: number): number {
    return this.start + i * 2 ** this.pageShift;
  }
}

export interface HostMmOptions {
  readonly phys: PhysMem;
  readonly rec: Recorder;
  /**
   * The run's clock (arch/timing.ts): a fault-in charges hostFault, a swap-in swapIn. Default: a
   * clock over `rec` with the POWER7 table (the machine passes its own, of its CPU).
   */
  readonly clock?: Clock;
}

export interface MapOptions {
  /** Host PTE writable (default true). */
  writable?: boolean;
  /** Use exactly this first pfn (must be free and aligned to the VMA page size). */
  pfn?: number;
  /** cause of the host_page event (default NO_CAUSE). */
  cause?: number;
}

export class HostMm {
  readonly phys: PhysMem;
  readonly pageShift: HostPageShift;
  readonly rec: Recorder;
  /** The run's clock: host work that takes time charges it (fault-in, swap-in). */
  readonly clock: Clock;
  readonly vmas: Vma[] = [];
  readonly notifiers: MmuNotifier[] = [];
  /** Out-values of find_linux_pte_or_hugepte(): the VMA of the returned PTE. */
  foundVma: Vma | null = null;
  /**
   * Direct reclaim (try_to_free_pages) when an allocation for the VMM fails: asked to free at least
   * `pages` frames; the allocation is retried once afterwards. Set by Reclaim; null = none.
   */
  directReclaim: ((pages: number) => void) | null = null;
  /** swapOut calls refused because a frame of the page was pinned. */
  swapOutPinnedRefused = 0;
  /** Pages swapped out / swapped back in (map of a swapped hva). */
  swapOuts = 0;
  swapIns = 0;

  constructor(opts: HostMmOptions) {
    this.phys = opts.phys;
    this.pageShift = opts.phys.pageShift;
    this.rec = opts.rec;
    this.clock = opts.clock ?? RecorderClock.forCpu(opts.rec, 'power7');
  }

  get pageSize(): number {
    return 2 ** this.pageShift;
  }

  /** mmu_notifier_register(). */
  register(n: MmuNotifier): void {
    this.notifiers.push(n);
  }

  unregister(n: MmuNotifier): void {
    const i = this.notifiers.indexOf(n);
    if (i >= 0) this.notifiers.splice(i, 1);
  }

  /**
   * Create a VMA [start, start + bytes) backed by 2^pageShift-byte pages (default PAGE_SHIFT; 16
   * or 24 for hugetlbfs). Nothing is populated. start and bytes must be multiples of the page size.
   */
  mmap(start: Hva | number, bytes: number, opts: { pageShift?: number; cacheBits?: number } = {}): Vma {
    const shift = opts.pageShift ?? this.pageShift;
    if (shift !== 12 && shift !== 16 && shift !== 24) throw new RangeError(`mmap: page shift ${shift} not 12, 16 or 24`);
    if (shift < this.pageShift) throw new RangeError(`mmap: page shift ${shift} below host PAGE_SHIFT ${this.pageShift}`);
    const size = 2 ** shift;
    if (start % size !== 0 || bytes % size !== 0 || bytes <= 0) {
      throw new RangeError(`mmap: [0x${start.toString(16)}, +0x${bytes.toString(16)}) not aligned to 0x${size.toString(16)}`);
    }
    for (const v of this.vmas) {
      if (start < v.end && start + bytes > v.start) throw new RangeError(`mmap: overlaps VMA at 0x${v.start.toString(16)}`);
    }
    const vma = new Vma(start, bytes, shift, (opts.cacheBits ?? 0) & (PTE_NO_CACHE | PTE_WRITETHRU));
    this.vmas.push(vma);
    return vma;
  }

  /** The VMA containing hva, or null (find_vma with the vm_start check). */
  find_vma(hva: number): Vma | null {
    const f = this.foundVma;
    if (f !== null && hva >= f.start && hva < f.end) return f;
    for (const v of this.vmas) {
      if (hva >= v.start && hva < v.end) {
        this.foundVma = v;
        return v;
      }
    }
    return null;
  }

  /**
   * The PTE covering hva: its index in `foundVma`, or -1 (NULL) outside every VMA. The page size of
   * the PTE is 2^foundVma.pageShift (the kernel's `shift` out-parameter, 0 meaning PAGE_SIZE).
   */
  // Mirrors find_linux_pte_or_hugepte() (arch/powerpc/mm/hugetlbpage.c, Linux 3.4) as modelled here
  find_linux_pte_or_hugepte(hva: number): number {
    const v = this.find_vma(hva);
    if (v === null) return -1;
    return v.index(hva);
  }

  /** Present PTE's first pfn for hva, or -1. */
  pfnOf(hva: number): number {
    const i = this.find_linux_pte_or_hugepte(hva);
    if (i < 0) return -1;
    const v = this.foundVma as Vma;
    return (v.flags[i] & PTE_PRESENT) !== 0 ? v.pfn[i] : -1;
  }

  /** PTE flags for hva (0 outside every VMA). */
  pteFlags(hva: number): number {
    const i = this.find_linux_pte_or_hugepte(hva);
    return i < 0 ? 0 : (this.foundVma as Vma).flags[i];
  }

  /**
   * Populate the page containing hva (a page fault in the VMM, or swap-in of a swapped page).
   * Returns the first pfn. Marks the PTE young (a fault always references the page). No notifier:
   * Linux does not notify when a not-present PTE becomes present.
   */
  map(hva: Hva | number, opts: MapOptions = {}): number {
    const pfn = this.tryMap(hva, opts);
    if (pfn < 0) throw new Error('map: out of host physical memory');
    return pfn;
  }

  /** map() that returns -1 instead of throwing when no frame can be allocated (after direct reclaim). */
  tryMap(hva: Hva | number, opts: MapOptions = {}): number {
    const vma = this.need(hva);
    const i = vma.index(hva);
    const f = vma.flags[i];
    if ((f & PTE_PRESENT) !== 0) throw new Error(`map: hva 0x${hva.toString(16)} already mapped`);
    const order = vma.pageShift - this.pageShift;
    let pfn: number;
    if (opts.pfn !== undefined) {
      if (!this.phys.allocAt(opts.pfn, order, FRAME_VMM)) throw new Error(`map: pfn 0x${opts.pfn.toString(16)} not free/aligned`);
      pfn = opts.pfn;
    } else {
      pfn = this.allocFrames(order);
      if (pfn < 0) return -1;
    }
    const writable = opts.writable ?? true;
    vma.pfn[i] = pfn;
    vma.flags[i] = PTE_PRESENT | PTE_YOUNG | (writable ? PTE_RW : 0);
    const swapped = (f & PTE_SWAP) !== 0;
    if (swapped) this.swapIns++;
    this.recHost(swapped ? E.host_page_op.swap_in : E.host_page_op.map, vma.address(i), pfn, writable, vma.pageShift, opts.cause ?? NO_CAUSE);
    // The fault-in takes its time after the event that starts it: the page's contents read back
    // from swap (do_swap_page), or a fresh page zeroed (do_anonymous_page).
    const clock = this.clock;
    clock.charge(swapped ? clock.t.swapIn : clock.t.hostFault);
    return pfn;
  }

  /**
   * Pin the small page at hva for the kernel (get_user_pages_fast(hva, 1, write, pages) as modelled):
   * fault it in if it is not present (a swapped page is swapped in), make a read-only PTE writable
   * if `write` (a write fault on a writable private VMA: do_wp_page reuses the page, so only the
   * PTE changes and nobody is notified), mark it young (and dirty if write), and take a pin
   * reference on the frame backing hva (head pfn + offset inside a huge page). Returns that pfn,
   * or -1 if the page cannot be had: hva in no VMA, an I/O VMA (cacheBits ≠ 0, standing in for
   * VM_PFNMAP/VM_IO, where gup fails), or no memory. Records only the fault-in (map / swap_in) and
   * protect events; the caller records the pin.
   */
  // Mirrors get_user_pages_fast() (mm/gup.c via arch/powerpc/mm/gup.c, Linux 3.4) as modelled here
  get_user_pages_fast(hva: number, write: boolean, cause: number = NO_CAUSE): number {
    this.clock.charge(this.clock.t.gupFast);
    const vma = this.find_vma(hva);
    if (vma === null || vma.cacheBits !== 0) return -1;
    const i = vma.index(hva);
    if ((vma.flags[i] & PTE_PRESENT) === 0) {
      if (this.tryMap(hva, { writable: true, cause }) < 0) return -1;
    } else if (write && (vma.flags[i] & PTE_RW) === 0) {
      this.protect(hva, true, cause);
    }
    vma.flags[i] |= PTE_YOUNG | (write ? PTE_DIRTY : 0);
    const pfn = vma.pfn[i] + Math.floor((hva - vma.address(i)) / this.pageSize);
    this.phys.pin(pfn);
    return pfn;
  }

  /** Is any frame of the page containing hva pinned? (false if not present). */
  isPinned(hva: number): boolean {
    const v = this.find_vma(hva);
    if (v === null) return false;
    const i = v.index(hva);
    if ((v.flags[i] & PTE_PRESENT) === 0) return false;
    return this.phys.pinned(v.pfn[i], v.pageShift - this.pageShift);
  }

  /** Record a host_page event for a page operation done outside this class (pin, unpin). */
  recordPage(op: number, hva: number, pfn: number, writable: boolean, shift: number, cause: number = NO_CAUSE, lpid = -1, owner = OWNER_VMM): number {
    return this.recHost(op, hva, pfn, writable, shift, cause, lpid, owner);
  }

  private allocFrames(order: number): number {
    let pfn = this.phys.alloc(order, FRAME_VMM);
    if (pfn < 0 && this.directReclaim !== null) {
      this.directReclaim(2 ** order);
      pfn = this.phys.alloc(order, FRAME_VMM);
    }
    return pfn;
  }

  /**
   * Tear down the page containing hva (munmap/MADV_DONTNEED with `range`, or reclaim of one page
   * without). The frame is freed after the notifiers ran. Returns the freed pfn, or -1 if the page
   * was not present (then only the swap entry, if any, is dropped and nothing is notified).
   */
  unmap(hva: Hva | number, opts: { range?: boolean } = {}): number {
    return this.teardown(hva, opts.range === true, false);
  }

  /**
   * Reclaim the page containing hva to swap (try_to_unmap_one: pte cleared, invalidate_page).
   * Returns the freed pfn, -1 if the page was not present, or -2 if a frame of it holds a pin
   * reference: then nothing happens (no event, no notifier). Linux 3.4 would still unmap such a
   * page into the swap cache and then fail to free it (page_count too high); the model refuses
   * up front, which has the same outcome for memory (the frame stays) without the PTE churn.
   */
  swapOut(hva: Hva | number): number {
    if (this.isPinned(hva)) {
      this.swapOutPinnedRefused++;
      return -2;
    }
    const pfn = this.teardown(hva, false, true);
    if (pfn >= 0) this.swapOuts++;
    return pfn;
  }

  /**
   * Change the writability of the page containing hva. A downgrade is bracketed by
   * invalidate_range_start/end (so KVM drops its HPTEs and re-faults them read-only); an upgrade
   * notifies nobody.
   */
  protect(hva: Hva | number, writable: boolean, why: number = NO_CAUSE): void {
    const vma = this.need(hva);
    const i = vma.index(hva);
    const f = vma.flags[i];
    if ((f & PTE_PRESENT) === 0) throw new Error(`protect: hva 0x${hva.toString(16)} not mapped`);
    const base = vma.address(i);
    const size = 2 ** vma.pageShift;
    const cause = this.recHost(E.host_page_op.protect, base, vma.pfn[i], writable, vma.pageShift, why);
    const downgrade = (f & PTE_RW) !== 0 && !writable;
    if (downgrade) for (const n of this.notifiers) n.invalidate_range_start(this, base, base + size, cause);
    vma.flags[i] = writable ? f | PTE_RW : f & ~PTE_RW;
    if (downgrade) for (const n of this.notifiers) n.invalidate_range_end(this, base, base + size, cause);
  }

  /**
   * Give the page containing hva a new frame with the same contents (KSM merge / COW break):
   * set_pte_at_notify() calls change_pte before installing the new PTE; the old frame is freed
   * (or, if pinned, kept until its last unpin: with PPC970 the guest then still uses the old frame
   * while the VMM sees the new one, as a COW break of a get_user_pages page does in Linux).
   * Returns the new pfn.
   */
  replacePage(hva: Hva | number, opts: MapOptions = {}): number {
    const vma = this.need(hva);
    const i = vma.index(hva);
    const f = vma.flags[i];
    if ((f & PTE_PRESENT) === 0) throw new Error(`replacePage: hva 0x${hva.toString(16)} not mapped`);
    const order = vma.pageShift - this.pageShift;
    let pfn: number;
    if (opts.pfn !== undefined) {
      if (!this.phys.allocAt(opts.pfn, order, FRAME_VMM)) throw new Error(`replacePage: pfn 0x${opts.pfn.toString(16)} not free/aligned`);
      pfn = opts.pfn;
    } else {
      pfn = this.allocFrames(order);
      if (pfn < 0) throw new Error('replacePage: out of host physical memory');
    }
    const writable = opts.writable ?? (f & PTE_RW) !== 0;
    const base = vma.address(i);
    const cause = this.recHost(E.host_page_op.map, base, pfn, writable, vma.pageShift);
    for (const n of this.notifiers) n.change_pte(this, base, cause);
    const old = vma.pfn[i];
    vma.pfn[i] = pfn;
    vma.flags[i] = PTE_PRESENT | (f & PTE_YOUNG) | (writable ? PTE_RW : 0);
    this.phys.release(old, order);
    return pfn;
  }

  /**
   * One aging pass over the page containing hva (page_referenced_one →
   * ptep_clear_flush_young_notify): test-and-clear the PTE's young bit, then ask the notifiers.
   * Returns true if the page was referenced through either.
   */
  age(hva: Hva | number): boolean {
    const vma = this.need(hva);
    const i = vma.index(hva);
    const f = vma.flags[i];
    if ((f & PTE_PRESENT) === 0) return false;
    const base = vma.address(i);
    const cause = this.recHost(E.host_page_op.age, base, vma.pfn[i], (f & PTE_RW) !== 0, vma.pageShift);
    let young = (f & PTE_YOUNG) !== 0 ? 1 : 0;
    vma.flags[i] = f & ~PTE_YOUNG;
    for (const n of this.notifiers) young |= n.clear_flush_young(this, base, cause);
    return young !== 0;
  }

  /** mmu_notifier_test_young(): does any secondary MMU (KVM) see the page as young? No state change. */
  testYoung(hva: Hva | number): boolean {
    let young = 0;
    for (const n of this.notifiers) young |= n.test_young(this, hva, NO_CAUSE);
    return young !== 0;
  }

  /** Process exit: mmu_notifier_release(). */
  release(): void {
    for (const n of this.notifiers) n.release(this, NO_CAUSE);
  }

  private teardown(hva: number, range: boolean, toSwap: boolean): number {
    const vma = this.need(hva);
    const i = vma.index(hva);
    const f = vma.flags[i];
    if ((f & PTE_PRESENT) === 0) {
      if (!toSwap) vma.flags[i] = 0;
      return -1;
    }
    const base = vma.address(i);
    const size = 2 ** vma.pageShift;
    const pfn = vma.pfn[i];
    const cause = this.recHost(toSwap ? E.host_page_op.swap_out : E.host_page_op.unmap, base, pfn, false, vma.pageShift);
    // Huge pages are always torn down with a range (unmap_hugepage_range); small ones by reclaim
    // with invalidate_page after the PTE is cleared (ptep_clear_flush_notify).
    const useRange = range || vma.pageShift > this.pageShift;
    if (useRange) for (const n of this.notifiers) n.invalidate_range_start(this, base, base + size, cause);
    vma.flags[i] = toSwap ? PTE_SWAP : 0;
    vma.pfn[i] = 0;
    if (useRange) for (const n of this.notifiers) n.invalidate_range_end(this, base, base + size, cause);
    else for (const n of this.notifiers) n.invalidate_page(this, base, cause);
    this.phys.release(pfn, vma.pageShift - this.pageShift);
    return pfn;
  }

  private need(hva: number): Vma {
    const v = this.find_vma(hva);
    if (v === null) throw new RangeError(`hva 0x${hva.toString(16)} is in no VMA`);
    return v;
  }

  private recHost(op: number, hva: number, pfn: number, writable: boolean, shift: number, cause: number = NO_CAUSE, lpid = -1, owner = OWNER_VMM): number {
    const rec = this.rec;
    const seq = rec.emit(K.host_page, lpid, -1, -1, cause)
      .op(op)
      .hva(hva)
      .pfn(pfn)
      .writable(writable ? 1 : 0)
      .page_shift(shift)
      .owner(owner).seq;
    return seq;
  }
}
