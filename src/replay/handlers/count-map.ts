// A counter keyed by integers (hcall numbers, (nr, ret) keys) that counts the common keys in a
// dense Float64Array and the rest in a Map, and iterates in first-seen order like the Map it
// replaces. `slot(key)` says where a key lives densely (-1: in the map). A Map get/set per hcall
// event was the largest cost of the counters handler.

export class CountMap {
  private readonly counts: Float64Array;
  private readonly other = new Map<number, number>();
  private readonly order: number[] = [];

  constructor(
    dense: number,
    private readonly slot: (key: number) => number,
  ) {
    this.counts = new Float64Array(dense);
  }

  add(key: number, n = 1): void {
    const s = this.slot(key);
    if (s >= 0) {
      if (this.counts[s] === 0) this.order.push(key);
      this.counts[s] += n;
      return;
    }
    const v = this.other.get(key);
    if (v === undefined) this.order.push(key);
    this.other.set(key, (v ?? 0) + n);
  }

  get(key: number): number {
    const s = this.slot(key);
    return s >= 0 ? this.counts[s] : (this.other.get(key) ?? 0);
  }

  get size(): number {
    return this.order.length;
  }

  clear(): void {
    for (const k of this.order) {
      const s = this.slot(k);
      if (s >= 0) this.counts[s] = 0;
    }
    this.other.clear();
    this.order.length = 0;
  }

  /** [key, count] in first-seen order. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (const k of this.order) yield [k, this.get(k)];
  }

  entries(): IterableIterator<[number, number]> {
    return this[Symbol.iterator]();
  }
}
