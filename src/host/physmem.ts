// Host physical memory: a frame allocator over `npages` frames of the host PAGE_SIZE.
//
// Frames are handed out in naturally aligned power-of-two blocks (order 0 = one PAGE_SIZE frame,
// order 12 = 16 MiB with 4 KiB pages). Where a block lands is chosen by the run's seeded PRNG, so a
// run is reproducible from its seed while different seeds scatter guest pages differently (which is
// what makes HPTE RPNs look like a real host's). Frame 0 is never handed out: KVM's H_ENTER treats
// pa == 0 as "no page" (kvmppc_h_enter, Linux 3.4), so a guest page at pfn 0 could never be mapped.
//
// Pin references. A frame can carry extra references besides its page-table mapping: the page
// references KVM takes with get_user_pages for slot_phys on PPC970 (kernel-model §C.4). `pins`
// counts them per frame (allocated on the first pin, so POWER7 runs pay nothing). A pinned frame
// is never freed: `release` (the mapping's put_page) defers the free until the last `unpin`, as an
// elevated page refcount does in Linux, and reclaim refuses pinned pages (HostMm.swapOut).

import type { Pfn } from '../arch/types.js';
import { Prng } from '../base/prng.js';

/** Host PAGE_SHIFT: a build option of the host kernel (4 KiB or 64 KiB pages). */
export type HostPageShift = 12 | 16;

/** Who holds a frame (kept per frame; the host_page event's `owner` field uses 0 and 1). */
export const FRAME_FREE = 0;
const CHUNK_SHIFT = 6;
const CHUNK = 1 << CHUNK_SHIFT;
export const FRAME_VMM = 1;
export const FRAME_OTHER = 2;
export const FRAME_RESERVED = 3;

export interface PhysMemOptions {
  readonly pageShift: HostPageShift;
  /** Number of frames of 2^pageShift bytes. Must be ≤ 2^32 (pfns are stored as u32). */
  readonly npages: number;
  /** Seed of the placement PRNG. */
  readonly seed: number;
}

export class PhysMem {
  readonly pageShift: HostPageShift;
  readonly npages: number;
  /** FRAME_* per frame. */
  readonly owner: Uint8Array;
  private readonly rng: Prng;
  private nfree: number;
  /** Pin references per frame (null until the first pin). */
  private pins: Uint32Array | null = null;
  private npinned = 0;
  /** Free frames per 64-frame chunk (lets a probe skip full chunks). */
  private readonly chunkFree: Uint16Array;
  /** Blocks released by their mapping while pinned: first pfn → order. Freed at the last unpin. */
  private readonly pendingFree = new Map<number, number>();

  constructor(opts: PhysMemOptions) {
    if (opts.pageShift !== 12 && opts.pageShift !== 16) throw new RangeError(`host PAGE_SHIFT must be 12 or 16, not ${opts.pageShift}`);
    if (!Number.isInteger(opts.npages) || opts.npages < 2 || opts.npages > 0x1_0000_0000) {
      throw new RangeError(`PhysMem: npages ${opts.npages} outside [2, 2^32]`);
    }
    this.pageShift = opts.pageShift;
    this.npages = opts.npages;
    this.owner = new Uint8Array(opts.npages);
    this.owner[0] = FRAME_RESERVED;
    this.nfree = opts.npages - 1;
    this.chunkFree = new Uint16Array(Math.ceil(opts.npages / CHUNK));
    for (let p = 1; p < opts.npages; p++) this.chunkFree[p >> CHUNK_SHIFT]++;
    this.rng = new Prng(opts.seed);
  }

  get freePages(): number {
    return this.nfree;
  }

  /**
   * Allocate 2^order frames, aligned to their size, for `owner`. Returns the first pfn, or -1 if no
   * aligned free block exists. Placement: a PRNG-chosen starting block, then a linear probe.
   */
  alloc(order: number, owner: number = FRAME_VMM): number {
    const n = 2 ** order;
    if (n > this.nfree) return -1;
    const nblocks = Math.floor(this.npages / n);
    if (nblocks === 0) return -1;
    const start = this.rng.below(nblocks);
    // The probe skips 64-frame chunks that cannot hold the block (per-chunk free counts); the
    // block found is the same as a frame-by-frame probe would find, only sooner on a full host.
    const cf = this.chunkFree;
    for (let k = 0; k < nblocks; k++) {
      let b = start + k;
      if (b >= nblocks) b -= nblocks;
      const pfn = b * n;
      if (n < CHUNK) {
        if (cf[pfn >> CHUNK_SHIFT] < n) {
          // Jump to the last block of this chunk (the loop's k++ then enters the next chunk).
          const lastInChunk = ((pfn >> CHUNK_SHIFT) + 1) * (CHUNK / n) - 1;
          const skip = (lastInChunk >= b ? lastInChunk - b : 0);
          if (b + skip < nblocks && skip > 0) k += skip;
          continue;
        }
      } else if (!this.chunksFree(pfn, n)) continue;
      if (this.blockFree(pfn, n)) {
        this.take(pfn, n, owner);
        return pfn;
      }
    }
    return -1;
  }

  private chunksFree(pfn: number, n: number): boolean {
    for (let c = pfn >> CHUNK_SHIFT; c < (pfn + n) >> CHUNK_SHIFT; c++) if (this.chunkFree[c] !== CHUNK) return false;
    return true;
  }

  private take(pfn: number, n: number, owner: number): void {
    this.owner.fill(owner, pfn, pfn + n);
    this.nfree -= n;
    for (let p = pfn; p < pfn + n; p++) this.chunkFree[p >> CHUNK_SHIFT]--;
  }

  /** Allocate exactly [pfn, pfn + 2^order) (tests and scenarios that name the frame). */
  allocAt(pfn: Pfn | number, order: number, owner: number = FRAME_VMM): boolean {
    const n = 2 ** order;
    if (pfn % n !== 0 || pfn + n > this.npages || !this.blockFree(pfn, n)) return false;
    this.take(pfn, n, owner);
    return true;
  }

  free(pfn: Pfn | number, order: number): void {
    const n = 2 ** order;
    for (let p = pfn; p < pfn + n; p++) {
      if (this.owner[p] === FRAME_FREE || this.owner[p] === FRAME_RESERVED) {
        throw new Error(`PhysMem.free: pfn 0x${p.toString(16)} is not allocated`);
      }
    }
    this.owner.fill(FRAME_FREE, pfn, pfn + n);
    this.nfree += n;
    for (let p = pfn; p < pfn + n; p++) this.chunkFree[p >> CHUNK_SHIFT]++;
  }

  /** Frames with at least one pin reference. */
  get pinnedFrames(): number {
    return this.npinned;
  }

  /** Pin references of frame pfn. */
  pinCount(pfn: number): number {
    return this.pins === null ? 0 : this.pins[pfn];
  }

  /** Does any frame of [pfn, pfn + 2^order) hold a pin reference? */
  pinned(pfn: number, order: number): boolean {
    const p = this.pins;
    if (p === null || this.npinned === 0) return false;
    const end = pfn + 2 ** order;
    for (let f = pfn; f < end; f++) if (p[f] !== 0) return true;
    return false;
  }

  /** Take a reference on allocated frame pfn (get_page). Returns the new count. */
  pin(pfn: number): number {
    const o = this.owner[pfn];
    if (o === FRAME_FREE || o === FRAME_RESERVED) throw new Error(`PhysMem.pin: pfn 0x${pfn.toString(16)} is not allocated`);
    if (this.pins === null) this.pins = new Uint32Array(this.npages);
    const c = ++this.pins[pfn];
    if (c === 1) this.npinned++;
    return c;
  }

  /**
   * Drop a reference taken with pin (put_page). When the last pin of a block whose mapping was
   * already released goes, the block is freed. Returns the new count.
   */
  unpin(pfn: number): number {
    const p = this.pins;
    if (p === null || p[pfn] === 0) throw new Error(`PhysMem.unpin: pfn 0x${pfn.toString(16)} is not pinned`);
    const c = --p[pfn];
    if (c === 0) {
      this.npinned--;
      for (const [start, order] of this.pendingFree) {
        if (pfn >= start && pfn < start + 2 ** order && !this.pinned(start, order)) {
          this.pendingFree.delete(start);
          this.free(start, order);
          break;
        }
      }
    }
    return c;
  }

  /**
   * The mapping's reference to [pfn, pfn + 2^order) goes away (unmap, replaced page): free the
   * block now, or, if a frame of it is pinned, when the last pin is dropped. Returns true if freed now.
   */
  release(pfn: number, order: number): boolean {
    if (this.pinned(pfn, order)) {
      this.pendingFree.set(pfn, order);
      return false;
    }
    this.free(pfn, order);
    return true;
  }

  /** Blocks released by their mapping and kept only by pins. */
  get pendingFreeBlocks(): number {
    return this.pendingFree.size;
  }

  /** Is the block starting at pfn released by its mapping but kept by pins? */
  isPendingFree(pfn: number): boolean {
    return this.pendingFree.has(pfn);
  }

  private blockFree(pfn: number, n: number): boolean {
    const o = this.owner;
    for (let p = pfn; p < pfn + n; p++) if (o[p] !== FRAME_FREE) return false;
    return true;
  }
}
