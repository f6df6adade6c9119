// The chunk-skipping probe of PhysMem.alloc must pick exactly the block a frame-by-frame probe
// from the same PRNG-chosen start would pick (so traces do not depend on the optimisation).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhysMem } from '../../src/host/physmem.js';
import { Prng } from '../../src/base/prng.js';

/** Reference: the plain linear probe over blocks from a start drawn from an identical PRNG. */
class NaiveMem {
  readonly used: Uint8Array;
  nfree: number;
  constructor(readonly npages: number, readonly rng: Prng) {
    this.used = new Uint8Array(npages);
    this.used[0] = 1;
    this.nfree = npages - 1;
  }
  alloc(order: number): number {
    const n = 2 ** order;
    if (n > this.nfree) return -1;
    const nblocks = Math.floor(this.npages / n);
    const start = this.rng.below(nblocks);
    for (let k = 0; k < nblocks; k++) {
      const b = (start + k) % nblocks;
      let free = true;
      for (let p = b * n; p < b * n + n; p++) if (this.used[p]) free = false;
      if (free) {
        this.used.fill(1, b * n, b * n + n);
        this.nfree -= n;
        return b * n;
      }
    }
    return -1;
  }
  free(pfn: number, order: number): void {
    this.used.fill(0, pfn, pfn + 2 ** order);
    this.nfree += 2 ** order;
  }
}

test('PhysMem.alloc equals the naive probe over a long random alloc/free sequence', () => {
  for (const npages of [4096, 5000]) {
    const mem = new PhysMem({ pageShift: 12, npages, seed: 77 });
    const ref = new NaiveMem(npages, new Prng(77));
    const ops = new Prng(3);
    const held: [number, number][] = [];
    for (let k = 0; k < 20000; k++) {
      if (held.length > 0 && ops.chance(0.45)) {
        const [pfn, order] = held.splice(ops.below(held.length), 1)[0];
        mem.free(pfn, order);
        ref.free(pfn, order);
      } else {
        const order = [0, 0, 0, 1, 3, 6, 8][ops.below(7)];
        const a = mem.alloc(order);
        const b = ref.alloc(order);
        assert.equal(a, b, `alloc #${k} order ${order}`);
        if (a >= 0) held.push([a, order]);
      }
    }
  }
});
