// The host: the VMM page table (one row per host page ever seen, keyed by hva) and physical frames
// (dense by pfn: pin references and the owner for frames of other processes), from host_page.

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E } from '../../trace/kinds.js';
import { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_HOST_PAGE_HVA = F.host_page.hva;
const W_HOST_PAGE_OP = F.host_page.op;
const W_HOST_PAGE_OWNER = F.host_page.owner;
const W_HOST_PAGE_PAGE_SHIFT = F.host_page.page_shift;
const W_HOST_PAGE_PFN = F.host_page.pfn;
const W_HOST_PAGE_WRITABLE = F.host_page.writable;

/** Host PTE flags kept by the fold (same values as src/host/mm.ts PTE_*). */
export const HOST_PRESENT = 0x01;
export const HOST_RW = 0x02;
export const HOST_SWAP = 0x80;
/** Frame owners kept by the fold. */
export const FRAME_OWNER_OTHER = 1;


export class HostState {
  /** [hva_hi, hva_lo, pfn, flags (HOST_*), page_shift]. */
  readonly pages = new RowTable(5, 0);
  /** hva / 4096 → row of `pages`. */
  readonly pageRow = new Map<number, number>();
  /** [pins, owner] per pfn. */
  readonly frames = new RowTable(2, 0);

  /** Row of the page at hva (created zero if new). */
  row(hva: number): number {
    const key = hva / 4096;
    let r = this.pageRow.get(key);
    if (r === undefined) {
      r = this.pages.rows;
      this.pages.ensure(r + 1);
      const d = this.pages.data;
      d[r * 5] = Math.floor(hva / 4294967296) >>> 0;
      d[r * 5 + 1] = hva >>> 0;
      this.pages.mark(r);
      this.pageRow.set(key, r);
    }
    return r;
  }

  /** The page covering hva (page sizes 4K, 64K, 16M), or -1. */
  find(hva: number): number {
    for (const shift of [12, 16, 24]) {
      const base = Math.floor(hva / 2 ** shift) * 2 ** shift;
      const r = this.pageRow.get(base / 4096);
      if (r !== undefined && this.pages.data[r * 5 + 4] === shift) return r;
    }
    const r = this.pageRow.get(Math.floor(hva / 4096));
    return r ?? -1;
  }

  /** Index rows [from, rows) by hva (after a checkpoint restore filled them). */
  indexRows(from: number): void {
    if (from === 0) this.pageRow.clear();
    const d = this.pages.data;
    for (let r = from; r < this.pages.rows; r++) this.pageRow.set((d[r * 5] * 4294967296 + d[r * 5 + 1]) / 4096, r);
  }

  pins(pfn: number): number {
    return pfn < this.frames.rows ? this.frames.data[pfn * 2] : 0;
  }
}

export class HostHandler implements ReplayHandler {
  readonly name = 'host';
  readonly deps: readonly HandlerName[] = ['anomalies'];
  host = new HostState();
  /** Host page rows indexed in pageRow (restore indexes only the new ones: rows are append-only). */
  private indexedBefore = 0;

  constructor(private readonly anomalies: AnomalyHandler) {}

  reset(): void {
    this.host = new HostState();
  }

  host_page(b: EventBatch, i: number): void {
    const op = b.num(i, W_HOST_PAGE_OP);
    const hva = b.num(i, W_HOST_PAGE_HVA);
    const pfn = b.num(i, W_HOST_PAGE_PFN);
    const owner = b.num(i, W_HOST_PAGE_OWNER);
    const h = this.host;
    if (op === E.host_page_op.pin || op === E.host_page_op.unpin) {
      const f = h.frames;
      if (pfn >= f.rows) f.ensure(pfn + 1);
      const c = f.data[pfn * 2];
      if (op === E.host_page_op.unpin && c === 0) return this.anomalies.count(A.unpin_without_pin, b.firstSeq + i);
      f.data[pfn * 2] = op === E.host_page_op.pin ? c + 1 : c - 1;
      f.mark(pfn);
      return;
    }
    if (owner === 1 || hva === 0) {
      // Other processes' frames have no VMM address: only the frame's owner changes.
      const f = h.frames;
      if (pfn >= f.rows) f.ensure(pfn + 1);
      const live = op === E.host_page_op.map || op === E.host_page_op.swap_in;
      if (live || op === E.host_page_op.unmap || op === E.host_page_op.swap_out) {
        f.data[pfn * 2 + 1] = live ? FRAME_OWNER_OTHER : 0;
        f.mark(pfn);
      }
      return;
    }
    const r = h.row(hva);
    const d = h.pages.data;
    const p = r * 5;
    const writable = b.num(i, W_HOST_PAGE_WRITABLE) !== 0;
    switch (op) {
      case E.host_page_op.map:
      case E.host_page_op.swap_in:
        d[p + 2] = pfn;
        d[p + 3] = HOST_PRESENT | (writable ? HOST_RW : 0);
        d[p + 4] = b.num(i, W_HOST_PAGE_PAGE_SHIFT);
        break;
      case E.host_page_op.unmap:
        d[p + 2] = 0;
        d[p + 3] = 0;
        break;
      case E.host_page_op.swap_out:
        d[p + 2] = 0;
        d[p + 3] = HOST_SWAP;
        break;
      case E.host_page_op.protect:
        d[p + 3] = writable ? d[p + 3] | HOST_RW : d[p + 3] & ~HOST_RW;
        break;
      default:
        return; // age: only the young bit, which the fold does not keep
    }
    h.pages.mark(r);
  }

  finalize(): void {}

  data(): HostState {
    return this.host;
  }

  save(): unknown {
    return [this.host.pages.rows, this.host.frames.rows];
  }

  restore(s: unknown): void {
    const [pages, frames] = s as [number, number];
    const h = this.host;
    this.indexedBefore = h.pageRow.size === h.pages.rows ? h.pages.rows : 0;
    h.pages.ensure(pages);
    h.frames.ensure(frames);
  }

  afterRestore(): void {
    this.host.indexRows(this.indexedBefore);
  }

  tables(out: [string, RowTable][]): void {
    out.push(['host.pages', this.host.pages], ['host.frames', this.host.frames]);
  }
}
