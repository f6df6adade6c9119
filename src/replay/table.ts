// RowTable: fixed-width rows of u32 words with change tracking. Every piece of folded state that can
// be large (HPT, guest view, revmap links, rmap words, SLBs, host page table, host frames) lives in
// one, so that
//   - the fold hot path is a few typed-array stores (no allocation per event), and
//   - a checkpoint can be written as "rows changed since the previous checkpoint" (the dirty list),
//     the way KVM's HTAB save stream sends only the HPTEs modified since the last pass
//     (kvm_htab_read() with the HPTE_GR_MODIFIED bit, book3s_64_mmu_hv.c), plus periodic full
//     snapshots that hold every nonzero row.

export class RowTable {
  readonly width: number;
  /** Rows in use (row indices < rows are valid). */
  rows: number;
  data: Uint32Array;
  private dirty: Uint8Array;
  private dlist: Int32Array;
  private ndirty = 0;

  constructor(width: number, rows = 0) {
    this.width = width;
    this.rows = rows;
    const cap = Math.max(rows, 16);
    this.data = new Uint32Array(cap * width);
    this.dirty = new Uint8Array(cap);
    this.dlist = new Int32Array(cap);
  }

  get capacity(): number {
    return this.dirty.length;
  }

  /** Make rows [0, n) valid (new rows are zero). Amortised growth: only on a new high-water mark. */
  ensure(n: number): void {
    if (n <= this.rows) return;
    if (n > this.capacity) {
      let cap = this.capacity * 2;
      while (cap < n) cap *= 2;
      const d = new Uint32Array(cap * this.width);
      d.set(this.data);
      this.data = d;
      const dt = new Uint8Array(cap);
      dt.set(this.dirty);
      this.dirty = dt;
      const dl = new Int32Array(cap);
      dl.set(this.dlist.subarray(0, this.ndirty));
      this.dlist = dl;
    }
    this.rows = n;
  }

  /** Record that row r changed since the last checkpoint. */
  mark(r: number): void {
    if (this.dirty[r] === 0) {
      this.dirty[r] = 1;
      this.dlist[this.ndirty++] = r;
    }
  }

  get dirtyCount(): number {
    return this.ndirty;
  }

  /** Rows changed since the last clearDirty, in first-change order. */
  dirtyRows(): Int32Array {
    return this.dlist.subarray(0, this.ndirty);
  }

  clearDirty(): void {
    const d = this.dirty;
    const l = this.dlist;
    for (let k = 0; k < this.ndirty; k++) d[l[k]] = 0;
    this.ndirty = 0;
  }

  rowIsZero(r: number): boolean {
    const w = this.width;
    const d = this.data;
    for (let k = r * w, e = k + w; k < e; k++) if (d[k] !== 0) return false;
    return true;
  }

  /** Deep copy (dirty state not copied). */
  clone(): RowTable {
    const t = new RowTable(this.width, 0);
    t.data = this.data.slice();
    t.dirty = new Uint8Array(this.capacity);
    t.dlist = new Int32Array(this.capacity);
    t.rows = this.rows;
    return t;
  }
}
