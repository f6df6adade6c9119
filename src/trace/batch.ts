// In-memory event batch: the column buffers every sink writes from and every reader yields.
//
// One batch holds `length` consecutive events starting at `firstSeq`. Payload words are variable
// per event (trailing zero words are trimmed by the recorder) and stored as little-endian (lo, hi)
// u32 pairs in `words`, indexed by `wofs` (event i owns words wofs[i] .. wofs[i+1]-1). That layout is
// byte-for-byte the values buffer of an Arrow List<Uint64> column on a little-endian host, so the
// Arrow sink wraps it without copying.

import { MAX_FIELDS } from './kinds.js';

export const NO_CAUSE = -1;

export class EventBatch {
  readonly capacity: number;
  length = 0;
  firstSeq = 0;
  readonly time: Float64Array;
  readonly kind: Uint8Array;
  readonly lpid: Int16Array;
  readonly vcpu: Int16Array;
  readonly core: Int16Array;
  /** seq of the causing event, or NO_CAUSE (-1). */
  readonly cause: Float64Array;
  /** word offsets, length capacity + 1 (in 64-bit words). */
  readonly wofs: Int32Array;
  /** (lo, hi) u32 pairs. */
  words: Uint32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.time = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.lpid = new Int16Array(capacity);
    this.vcpu = new Int16Array(capacity);
    this.core = new Int16Array(capacity);
    this.cause = new Float64Array(capacity);
    this.wofs = new Int32Array(capacity + 1);
    this.words = new Uint32Array(capacity * MAX_FIELDS * 2);
  }

  reset(firstSeq: number): void {
    this.length = 0;
    this.firstSeq = firstSeq;
    this.wofs[0] = 0;
  }

  get wordCount(): number {
    return this.wofs[this.length];
  }

  /** Number of payload words stored for event i (≤ its kind's field count). */
  nwords(i: number): number {
    return this.wofs[i + 1] - this.wofs[i];
  }

  /** Word j of event i as a BigInt (0n past the stored words). Edge use only. */
  wordBig(i: number, j: number): bigint {
    if (j >= this.nwords(i)) return 0n;
    const p = (this.wofs[i] + j) * 2;
    return (BigInt(this.words[p + 1]) << 32n) | BigInt(this.words[p]);
  }

  /** Word j of event i as a JS number, exact when |value| < 2^53 as a signed 64-bit value. */
  wordNum(i: number, j: number): number {
    if (j >= this.nwords(i)) return 0;
    const p = (this.wofs[i] + j) * 2;
    return wordToNumber(this.words[p + 1], this.words[p]);
  }

  wordLo(i: number, j: number): number {
    return j >= this.nwords(i) ? 0 : this.words[(this.wofs[i] + j) * 2];
  }

  wordHi(i: number, j: number): number {
    return j >= this.nwords(i) ? 0 : this.words[(this.wofs[i] + j) * 2 + 1];
  }
}

/** Signed interpretation of a 64-bit word, as a number (exact within ±2^53). */
export function wordToNumber(hi: number, lo: number): number {
  return (hi | 0) * 4294967296 + lo;
}

/** The signed 64-bit pattern SQLite stores: a number when exact, else a BigInt. */
export function wordToSqlite(hi: number, lo: number): number | bigint {
  // Exact as a double iff the signed value lies in [-2^53, 2^53].
  if (hi < 0x00200000 || hi >= 0xffe00000) return (hi | 0) * 4294967296 + lo;
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

export function splitBig(x: bigint): [hi: number, lo: number] {
  const u = BigInt.asUintN(64, x);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}
