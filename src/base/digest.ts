// State digests: one function over the same typed-array layout serves the emulator (Kvm) and the
// replay fold (VmState), so a checkpoint recorded by the emulator can be checked by a replay.
// Components: HPT hardware words, revmap guest view, rmap words (nonzero, by gfn), notifier seq/count.
// The mixer is a 2×32-bit multiply-xorshift (not cryptographic: it detects divergence).

export interface DigestParts {
  hpt: [number, number];
  guest: [number, number];
  rmap: [number, number];
  all: [number, number];
}

class Mix {
  a = 0x243f6a88;
  b = 0x85a308d3;
  add(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x9e3779b1);
    this.a ^= this.a >>> 15;
    this.b = Math.imul(this.b ^ x, 0x85ebca77);
    this.b ^= this.b >>> 13;
    this.b = (this.b + this.a) | 0;
  }
  get value(): [number, number] {
    let h = Math.imul(this.a ^ (this.b >>> 16), 0xc2b2ae3d);
    h ^= h >>> 16;
    let l = Math.imul(this.b ^ (this.a >>> 16), 0x27d4eb2f);
    l ^= l >>> 15;
    return [h >>> 0, l >>> 0];
  }
}

/** Words of HPTE i that are all zero are skipped (an empty slot contributes nothing). */
function hptDigest(hpt: Uint32Array, npte: number): [number, number] {
  const m = new Mix();
  for (let i = 0; i < npte; i++) {
    const p = i * 4;
    const a = hpt[p];
    const b = hpt[p + 1];
    const c = hpt[p + 2];
    const d = hpt[p + 3];
    if ((a | b | c | d) === 0) continue;
    m.add(i);
    m.add(a);
    m.add(b);
    m.add(c);
    m.add(d);
  }
  return m.value;
}

function guestDigest(g: Uint32Array, npte: number): [number, number] {
  const m = new Mix();
  for (let i = 0; i < npte; i++) {
    const a = g[i * 2];
    const b = g[i * 2 + 1];
    if ((a | b) === 0) continue;
    m.add(i);
    m.add(a);
    m.add(b);
  }
  return m.value;
}

/** rmap words as (gfn, hi, lo) triples with gfn ascending; zero words skipped. Lock bit ignored. */
function rmapDigest(entries: Iterable<[number, number, number]>): [number, number] {
  const m = new Mix();
  for (const [gfn, hi, lo] of entries) {
    const h = hi & 0x7fffffff;
    if ((h | lo) === 0) continue;
    m.add(gfn);
    m.add(h);
    m.add(lo);
  }
  return m.value;
}

export interface DigestSource {
  hpt: Uint32Array;
  guestR: Uint32Array;
  npte: number;
  /** (gfn, hi, lo), gfn ascending. */
  rmapEntries(): Iterable<[number, number, number]>;
  mmuSeq: number;
  mmuCount: number;
}

export function stateDigest(s: DigestSource): DigestParts {
  const hpt = hptDigest(s.hpt, s.npte);
  const guest = guestDigest(s.guestR, s.npte);
  const rmap = rmapDigest(s.rmapEntries());
  const m = new Mix();
  for (const x of [...hpt, ...guest, ...rmap, s.mmuSeq >>> 0, s.mmuCount >>> 0]) m.add(x);
  return { hpt, guest, rmap, all: m.value };
}

