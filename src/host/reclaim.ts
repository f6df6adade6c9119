// Host memory pressure: other host processes allocating, touching and freeing memory, and a
// second-chance (clock) page reclaim over the VMM's guest RAM and those processes' pages, driven by
// free-memory watermarks. Seeded and deterministic: every choice comes from the run's PRNG and
// pages are scanned in a fixed order.
//
// Model (a simplification of Linux 3.4 mm/vmscan.c, kswapd + direct reclaim):
//   - Candidates: every PTE slot of the VMM's ordinary VMAs (host PAGE_SIZE pages, cacheBits 0;
//     hugetlbfs and I/O VMAs are not reclaimable), then every page slot of the other processes.
//     One clock hand sweeps them in that order.
//   - A present VMM page is aged with HostMm.age (page_referenced → ptep_clear_flush_young_notify:
//     the host PTE young bit, then the clear_flush_young notifier, i.e. KVM's kvm_age_hva for guest
//     pages: rmap REFERENCED and HPTE R bits). Young → second chance. Not young → HostMm.swapOut
//     (try_to_unmap_one: invalidate_page → kvm_unmap_hva: HPTEs ABSENT, R/C harvested). A page with
//     a pin reference (PPC970 slot_phys) is refused by swapOut and counted in `pinnedSkipped`.
//   - Other processes' pages have their own young bit (set when the process touches them); not
//     young → swapped out (frame freed, a swap entry kept). A touch of a swapped page swaps it in.
//   - kswapd: `pressure(step)` runs the processes' activity and, if free memory is below the low
//     watermark, reclaims until it reaches the high watermark or the hand has made two full turns
//     without reaching it. Direct reclaim: HostMm.directReclaim and the processes' own allocations
//     call `shrink` when an allocation fails.
// Swap-in of guest pages happens when the VMM or KVM faults the page back (HostMm.map of a
// swapped hva records swap_in; on POWER7 KVM's page fault path does that, on PPC970
// get_user_pages in kvmppc_get_guest_page).

import type { Prng } from '../base/prng.js';
import { E } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';
import { type HostMm, OWNER_OTHER, PTE_PRESENT, type Vma } from './mm.js';
import { FRAME_OTHER, type PhysMem } from './physmem.js';

export interface ReclaimOptions {
  readonly mm: HostMm;
  readonly phys: PhysMem;
  readonly rng: Prng;
  /** kswapd wakes when free frames < this. */
  readonly lowWatermarkPages: number;
  /** ... and reclaims until free frames ≥ this. */
  readonly highWatermarkPages: number;
  /** Other processes: at most this many pages allocated per step (uniform 0..max). Default 0. */
  readonly otherAllocPerStep?: number;
  /** Other processes: at most this many of their pages freed per step. Default 0. */
  readonly otherFreePerStep?: number;
  /** Other processes: pages (resident or swapped) they can hold at most. Default 0 (none). */
  readonly otherMaxPages?: number;
  /** Other processes: each of their pages is touched in a step with this probability. Default 0.1. */
  readonly otherTouchProbability?: number;
  /** Install `shrink` as HostMm.directReclaim (default true). */
  readonly directReclaim?: boolean;
}

export interface ReclaimCounters {
  /** pressure() calls. */
  steps: number;
  /** kswapd runs (free < low at a step). */
  kswapdRuns: number;
  /** Direct reclaim calls (an allocation failed). */
  directReclaims: number;
  /** Candidate slots the clock hand visited. */
  scanned: number;
  /** Present pages aged and found young (second chance). */
  secondChances: number;
  /** Guest RAM (VMM) pages swapped out. */
  swapoutsGuest: number;
  /** Other processes' pages swapped out. */
  swapoutsOther: number;
  /** Other processes' pages swapped back in when touched. */
  swapinsOther: number;
  /** VMM pages reclaim wanted to swap out but could not because they are pinned. */
  pinnedSkipped: number;
  /** Other processes' allocations / frees. */
  otherAllocs: number;
  otherFrees: number;
  /** Allocations of other processes that failed even after direct reclaim (OOM, skipped). */
  allocFailures: number;
}

// Other-process page slot states.
const SLOT_UNUSED = 0;
const SLOT_RESIDENT = 1;
const SLOT_SWAPPED = 2;

export class Reclaim {
  readonly mm: HostMm;
  readonly phys: PhysMem;
  readonly rng: Prng;
  readonly low: number;
  readonly high: number;
  readonly counters: ReclaimCounters = {
    steps: 0,
    kswapdRuns: 0,
    directReclaims: 0,
    scanned: 0,
    secondChances: 0,
    swapoutsGuest: 0,
    swapoutsOther: 0,
    swapinsOther: 0,
    pinnedSkipped: 0,
    otherAllocs: 0,
    otherFrees: 0,
    allocFailures: 0,
  };
  private readonly allocPerStep: number;
  private readonly freePerStep: number;
  private readonly touchP: number;
  /** Other processes' pages: state, pfn, young. */
  private readonly oState: Uint8Array;
  private readonly oPfn: Int32Array;
  private readonly oYoung: Uint8Array;
  private oCount = 0;
  private readonly oFree: Int32Array;
  private oFreeTop = 0;
  /** Clock hand (index into VMM slots then other slots). */
  private hand = 0;
  private inShrink = false;

  constructor(opts: ReclaimOptions) {
    if (!(opts.lowWatermarkPages >= 0 && opts.highWatermarkPages >= opts.lowWatermarkPages)) {
      throw new RangeError('Reclaim: need 0 ≤ lowWatermarkPages ≤ highWatermarkPages');
    }
    this.mm = opts.mm;
    this.phys = opts.phys;
    this.rng = opts.rng;
    this.low = opts.lowWatermarkPages;
    this.high = opts.highWatermarkPages;
    this.allocPerStep = opts.otherAllocPerStep ?? 0;
    this.freePerStep = opts.otherFreePerStep ?? 0;
    this.touchP = opts.otherTouchProbability ?? 0.1;
    const max = opts.otherMaxPages ?? 0;
    this.oState = new Uint8Array(max);
    this.oPfn = new Int32Array(max);
    this.oYoung = new Uint8Array(max);
    // Unused slots as a stack (lowest index on top), so an allocation takes O(1), not a scan.
    this.oFree = new Int32Array(max);
    for (let k = 0; k < max; k++) this.oFree[k] = max - 1 - k;
    this.oFreeTop = max;
    if (opts.directReclaim !== false) {
      this.mm.directReclaim = (pages: number) => {
        this.counters.directReclaims++;
        this.shrink(this.phys.freePages + pages);
      };
    }
  }

  /** Other processes' resident pages. */
  get otherResident(): number {
    let n = 0;
    for (let i = 0; i < this.oState.length; i++) if (this.oState[i] === SLOT_RESIDENT) n++;
    return n;
  }

  /** Other processes' pages (resident + swapped). */
  get otherPages(): number {
    return this.oCount;
  }

  /**
   * One step of host activity: the other processes touch, free and allocate pages; then kswapd
   * reclaims if free memory is below the low watermark. `step` is the caller's step number (kept
   * only as the last step seen; the pressure itself is set by the options).
   */
  pressure(step: number): void {
    const c = this.counters;
    c.steps++;
    this.lastStep = step;
    const rng = this.rng;
    // 1. Touch: touchP × (all slots) random slot picks, so each used page is touched with about
    //    probability touchP (unused picks are skipped; a Bernoulli trial per slot cost a full scan
    //    per step). Resident pages become young, swapped ones are swapped in.
    const n = this.oState.length;
    const touches = Math.round(n * this.touchP);
    for (let k = 0; k < touches && n > 0; k++) {
      const i = rng.below(n);
      const st = this.oState[i];
      if (st === SLOT_RESIDENT) this.oYoung[i] = 1;
      else if (st === SLOT_SWAPPED) this.swapInOther(i);
    }
    // 2. Free some pages (resident or swapped) of the other processes.
    const nfree = this.freePerStep > 0 ? rng.below(this.freePerStep + 1) : 0;
    for (let k = 0; k < nfree && this.oCount > 0; k++) this.freeOther(this.pickUsed());
    // 3. Allocate.
    const nalloc = this.allocPerStep > 0 ? rng.below(this.allocPerStep + 1) : 0;
    for (let k = 0; k < nalloc && this.oCount < this.oState.length; k++) this.allocOther();
    // 4. kswapd.
    if (this.phys.freePages < this.low) {
      c.kswapdRuns++;
      this.shrink(this.high);
    }
  }

  /** Step number passed to the last pressure() call. */
  lastStep = -1;

  /**
   * Run the clock until free frames ≥ target, or the hand has swept every candidate twice without
   * getting there. Returns the number of pages swapped out.
   */
  // Mirrors shrink_page_list()/page_referenced() second-chance behaviour (mm/vmscan.c, Linux 3.4) as modelled here
  shrink(target: number): number {
    if (this.inShrink) return 0; // no recursion from a swap-in inside reclaim
    this.inShrink = true;
    const mm = this.mm;
    const c = this.counters;
    const vmas = this.reclaimableVmas();
    let nvmm = 0;
    for (const v of vmas) nvmm += v.npages;
    const total = nvmm + this.oState.length;
    let out = 0;
    if (total > 0) {
      for (let n = 0; n < 2 * total && this.phys.freePages < target; n++) {
        if (this.hand >= total) this.hand = 0;
        const h = this.hand++;
        c.scanned++;
        if (h < nvmm) {
          // 1. A VMM page: age through the host PTE and the notifiers, then try to swap it out.
          let rest = h;
          let vma = vmas[0];
          for (const v of vmas) {
            if (rest < v.npages) {
              vma = v;
              break;
            }
            rest -= v.npages;
          }
          if ((vma.flags[rest] & PTE_PRESENT) === 0) continue;
          const hva = vma.address(rest);
          if (mm.age(hva)) {
            c.secondChances++;
            continue;
          }
          const r = mm.swapOut(hva);
          if (r === -2) c.pinnedSkipped++;
          else if (r >= 0) {
            c.swapoutsGuest++;
            out++;
          }
        } else {
          // 2. An other process's page.
          const i = h - nvmm;
          if (this.oState[i] !== SLOT_RESIDENT) continue;
          if (this.oYoung[i] !== 0) {
            this.oYoung[i] = 0;
            c.secondChances++;
            continue;
          }
          this.swapOutOther(i);
          out++;
        }
      }
    }
    this.inShrink = false;
    return out;
  }

  private reclaimableVmas(): Vma[] {
    const mm = this.mm;
    return mm.vmas.filter((v) => v.pageShift === mm.pageShift && v.cacheBits === 0);
  }

  private allocFrame(): number {
    let pfn = this.phys.alloc(0, FRAME_OTHER);
    if (pfn < 0 && !this.inShrink) {
      this.counters.directReclaims++;
      this.shrink(this.phys.freePages + 1);
      pfn = this.phys.alloc(0, FRAME_OTHER);
    }
    if (pfn < 0) this.counters.allocFailures++;
    return pfn;
  }

  private allocOther(): void {
    if (this.oFreeTop === 0) return;
    const i = this.oFree[this.oFreeTop - 1];
    const pfn = this.allocFrame();
    if (pfn < 0) return;
    this.oFreeTop--;
    this.oState[i] = SLOT_RESIDENT;
    this.oPfn[i] = pfn;
    this.oYoung[i] = 1;
    this.oCount++;
    this.counters.otherAllocs++;
    this.rec(E.host_page_op.map, pfn);
  }

  private freeOther(i: number): void {
    if (i < 0) return;
    if (this.oState[i] === SLOT_RESIDENT) {
      const pfn = this.oPfn[i];
      this.rec(E.host_page_op.unmap, pfn);
      this.phys.free(pfn, 0);
    }
    this.oState[i] = SLOT_UNUSED;
    this.oPfn[i] = 0;
    this.oYoung[i] = 0;
    this.oFree[this.oFreeTop++] = i;
    this.oCount--;
    this.counters.otherFrees++;
  }

  private swapOutOther(i: number): void {
    const pfn = this.oPfn[i];
    this.rec(E.host_page_op.swap_out, pfn);
    this.phys.free(pfn, 0);
    this.oState[i] = SLOT_SWAPPED;
    this.oPfn[i] = 0;
    this.counters.swapoutsOther++;
  }

  private swapInOther(i: number): void {
    const pfn = this.allocFrame();
    if (pfn < 0) return;
    this.oState[i] = SLOT_RESIDENT;
    this.oPfn[i] = pfn;
    this.oYoung[i] = 1;
    this.counters.swapinsOther++;
    this.rec(E.host_page_op.swap_in, pfn);
  }

  /** A uniformly chosen used slot (resident or swapped), or -1. */
  private pickUsed(): number {
    if (this.oCount === 0) return -1;
    let k = this.rng.below(this.oCount);
    for (let i = 0; i < this.oState.length; i++) {
      if (this.oState[i] === SLOT_UNUSED) continue;
      if (k-- === 0) return i;
    }
    return -1;
  }

  private rec(op: number, pfn: number): void {
    this.mm.recordPage(op, 0, pfn, true, this.mm.pageShift, NO_CAUSE, -1, OWNER_OTHER);
  }
}
