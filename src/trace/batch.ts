// In-memory event batch: the column buffers every sink writes from and every reader yields.
//
// One batch holds `length` consecutive events starting at `firstSeq`, in one or both of two forms
// that share the kind/lpid/vcpu/core columns:
//
// - dense (`denseValid`): time and cause as numbers, payload words as little-endian (lo, hi) u32
//   pairs in `words`, indexed by `wofs` (event i owns words wofs[i] .. wofs[i+1]-1; trailing zero
//   words are not stored). What every consumer indexes (folds, printing, the SQLite sink).
// - wire (`wireValid`, `wire`): the columns exactly as the Arrow sink stores them (WireColumns), so
//   the sink wraps them without an encoding pass.
//
// The recorder writes the wire form only, as each event is recorded: it is the trace's final
// format, written once, the way kernel tracers serialise at the tracepoint. Readers yield dense
// batches (the Arrow reader also keeps the file's columns as the wire form). Either form is derived
// from the other on demand: toDense() for consumers of recorder batches, toWire() for the Arrow sink.

import { hi32, lo32 } from '../arch/word.js';
import { MAX_FIELDS } from './kinds.js';
import type { FieldIndex } from './fields.js';

export const NO_CAUSE = -1;

/** The dense columns of a batch of exactly kind.length events (wofs has length + 1 entries). */
export interface DenseColumns {
  firstSeq: number;
  time: Float64Array;
  kind: Uint8Array;
  lpid: Int16Array;
  vcpu: Int16Array;
  core: Int16Array;
  cause: Float64Array;
  wofs: Int32Array;
  words: Uint32Array;
}

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
  /** time, cause, wofs and words hold this batch's events. */
  denseValid = true;
  /** The Arrow encoding of this batch; valid only when wireValid. */
  wire: WireColumns | undefined;
  wireValid = false;
  /** `wire` holds views of buffers this batch does not own (adoptWire). */
  private wireBorrowed = false;

  /** A batch of `capacity` events; with `cols`, a dense batch over those arrays (capacity = cols.kind.length). */
  constructor(capacity: number, cols?: DenseColumns) {
    if (cols) {
      this.capacity = cols.kind.length;
      this.time = cols.time;
      this.kind = cols.kind;
      this.lpid = cols.lpid;
      this.vcpu = cols.vcpu;
      this.core = cols.core;
      this.cause = cols.cause;
      this.wofs = cols.wofs;
      this.words = cols.words;
      this.length = cols.kind.length;
      this.firstSeq = cols.firstSeq;
      return;
    }
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

  /** The dense form as arrays sized to the events held (copies, so they can be transferred). */
  denseColumns(): DenseColumns {
    const b = this.toDense();
    const n = b.length;
    return {
      firstSeq: b.firstSeq,
      time: b.time.slice(0, n),
      kind: b.kind.slice(0, n),
      lpid: b.lpid.slice(0, n),
      vcpu: b.vcpu.slice(0, n),
      core: b.core.slice(0, n),
      cause: b.cause.slice(0, n),
      wofs: b.wofs.slice(0, n + 1),
      words: b.words.slice(0, b.wofs[n] * 2),
    };
  }

  /** Start filling the dense form (readers, batchOf); the recorder then switches to the wire form. */
  reset(firstSeq: number): void {
    this.length = 0;
    this.firstSeq = firstSeq;
    this.wofs[0] = 0;
    this.denseValid = true;
    this.wireValid = false;
    // Views of a file's buffers are this batch's wire form only until the batch is refilled: never
    // encode into them (they belong to the reader, and are sized to that batch).
    if (this.wireBorrowed) this.wire = undefined;
    this.wireBorrowed = false;
  }

  /** Take `w` (views of a file's columns) as the only valid form; the dense form is derived on demand. */
  adoptWire(w: WireColumns): void {
    this.wire = w;
    this.wireBorrowed = true;
    this.wireValid = true;
    this.denseValid = false;
  }

  /** The dense form, expanded from the wire form when only that was written (recorder batches). */
  toDense(): this {
    if (this.denseValid) return this;
    const w = this.wire!;
    const n = this.length;
    const t = w.time;
    const c = w.cause;
    const valid = w.causeValid;
    const nulls = w.causeNulls > 0;
    for (let i = 0; i < n; i++) {
      this.time[i] = t[2 * i + 1] * 4294967296 + t[2 * i];
      this.cause[i] = nulls && ((valid[i >> 3] >> (i & 7)) & 1) === 0 ? NO_CAUSE : c[2 * i + 1] * 4294967296 + c[2 * i];
    }
    const src = w.words;
    const ofs = w.wofs;
    const mask = w.wmask;
    const dst = this.words;
    let k = 0;
    for (let i = 0; i < n; i++) {
      this.wofs[i] = k;
      let m = mask[i];
      let p = ofs[i];
      while (m !== 0) {
        dst[2 * k] = m & 1 ? src[p++] : 0;
        dst[2 * k + 1] = m & 2 ? src[p++] : 0;
        k++;
        m >>>= 2;
      }
    }
    this.wofs[n] = k;
    this.denseValid = true;
    return this;
  }

  /** The wire form, encoded from the dense form unless a producer already wrote it. */
  toWire(): WireColumns {
    if (this.wireValid) return this.wire!;
    if (this.wireBorrowed) {
      this.wire = undefined;
      this.wireBorrowed = false;
    }
    const w = (this.wire ??= new WireColumns(this.capacity));
    const n = this.length;
    w.ensure(this.capacity, this.wofs[n]);
    w.causeNulls = 0;
    for (let i = 0; i < n; i++) w.causeNulls += w.setCommon(i, this.firstSeq + i, this.time[i], this.cause[i]);
    const src = this.words;
    const wofs = this.wofs;
    const dst = w.words;
    const ofs = w.wofs;
    const mask = w.wmask;
    let k = 0;
    for (let i = 0; i < n; i++) {
      ofs[i] = k;
      let m = 0;
      const e = wofs[i + 1];
      for (let p = wofs[i], bit = 0; p < e; p++, bit += 2) {
        const lo = src[2 * p];
        const hi = src[2 * p + 1];
        if (lo !== 0) {
          dst[k++] = lo;
          m |= 1 << bit;
        }
        if (hi !== 0) {
          dst[k++] = hi;
          m |= 2 << bit;
        }
      }
      mask[i] = m >>> 0;
    }
    ofs[n] = k;
    this.wireValid = true;
    return w;
  }

  /** A copy sized to the events it holds, in the forms that are valid. For benchmarks and tests. */
  clone(): EventBatch {
    const n = this.length;
    const c = new EventBatch(n);
    c.reset(this.firstSeq);
    c.length = n;
    c.kind.set(this.kind.subarray(0, n));
    c.lpid.set(this.lpid.subarray(0, n));
    c.vcpu.set(this.vcpu.subarray(0, n));
    c.core.set(this.core.subarray(0, n));
    c.denseValid = this.denseValid;
    if (this.denseValid) {
      c.time.set(this.time.subarray(0, n));
      c.cause.set(this.cause.subarray(0, n));
      c.wofs.set(this.wofs.subarray(0, n + 1));
      c.words = this.words.slice(0, this.wofs[n] * 2);
    }
    if (this.wireValid) {
      const w = this.wire!;
      const cw = new WireColumns(0);
      cw.seq = w.seq.slice(0, 2 * n);
      cw.time = w.time.slice(0, 2 * n);
      cw.cause = w.cause.slice(0, 2 * n);
      cw.causeValid = w.causeValid.slice(0, (n + 7) >> 3);
      cw.causeNulls = w.causeNulls;
      cw.wofs = w.wofs.slice(0, n + 1);
      cw.words = w.words.slice(0, w.wofs[n]);
      cw.wmask = w.wmask.slice(0, n);
      c.wire = cw;
      c.wireValid = true;
    }
    return c;
  }

  /** Number of payload words stored for event i (≤ its kind's field count). */
  nwords(i: number): number {
    return this.wofs[i + 1] - this.wofs[i];
  }

  // Field accessors: the way to read a payload field, by name through F (fields.ts):
  // `b.num(i, F.fault_triage.gfn)`, `b.lo(i, F.hpte_write.new_r) & 0x20`.

  // The bodies are written out rather than calling a positional helper: they sit on the replay's
  // hottest path (every handler's field reads), one call level less per read.

  /** Field f of event i as a JS number, exact when |value| < 2^53 as a signed 64-bit value. */
  num(i: number, f: FieldIndex): number {
    const w = this.wofs[i];
    if (f >= this.wofs[i + 1] - w) return 0;
    const p = (w + f) * 2;
    return (this.words[p + 1] | 0) * 4294967296 + this.words[p];
  }

  /** Low 32 bits of field f of event i (unsigned). */
  lo(i: number, f: FieldIndex): number {
    const w = this.wofs[i];
    return f >= this.wofs[i + 1] - w ? 0 : this.words[(w + f) * 2];
  }

  /** High 32 bits of field f of event i (unsigned). */
  hi(i: number, f: FieldIndex): number {
    const w = this.wofs[i];
    return f >= this.wofs[i + 1] - w ? 0 : this.words[(w + f) * 2 + 1];
  }

  /** Field f of event i as an unsigned 64-bit BigInt (0n past the stored words). Edge use only. */
  big(i: number, f: FieldIndex): bigint {
    if (f >= this.nwords(i)) return 0n;
    const p = (this.wofs[i] + f) * 2;
    return (BigInt(this.words[p + 1]) << 32n) | BigInt(this.words[p]);
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
  return [hi32(x), lo32(x)];
}

const INV_2_32 = 1 / 4294967296;

/**
 * A batch as the Arrow sink stores it (arrow-schema.ts). 64-bit columns are little-endian (lo, hi)
 * u32 halves, i.e. the bytes of a Uint64/Int64 column. The payload is zero-suppressed at 32-bit
 * granularity: `words` holds only the nonzero halves of each event's words, in order, from `wofs[i]`;
 * `wmask` bit 2j / 2j+1 says the low / high half of word j is present. Most words (indexes, gfns,
 * enums, ptel values) have a zero high half and many are 0, so this halves the payload bytes of a
 * List<Uint64> (measured 67 → 58 B/event on the synthetic mix).
 */
export class WireColumns {
  seq: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  time: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** Halves of the cause seq; 0 under a null (Arrow leaves the value there unspecified). */
  cause: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** Arrow validity bitmap of cause (bit i set: event i has a cause); read only when causeNulls > 0. */
  causeValid: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  causeNulls = 0;
  words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** Offsets into `words`, length + 1. */
  wofs: Int32Array<ArrayBufferLike> = new Int32Array(0);
  wmask: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

  /**
   * Sized for `capacity` events of up to MAX_FIELDS words. The recorder's blind stores need no slack:
   * before the last word of a full batch at most 2·MAX_FIELDS·capacity − 2 halves are kept, so the
   * store at cursor + 1 stays inside.
   */
  constructor(capacity: number) {
    this.ensure(capacity, capacity * MAX_FIELDS);
  }

  /** Room for `capacity` events and `nwords` 64-bit words. */
  ensure(capacity: number, nwords: number): void {
    if (this.seq.length < capacity * 2) this.seq = new Uint32Array(capacity * 2);
    if (this.time.length < capacity * 2) this.time = new Uint32Array(capacity * 2);
    if (this.cause.length < capacity * 2) this.cause = new Uint32Array(capacity * 2);
    if (this.causeValid.length < (capacity + 7) >> 3) this.causeValid = new Uint8Array((capacity + 7) >> 3);
    if (this.wofs.length < capacity + 1) this.wofs = new Int32Array(capacity + 1);
    if (this.wmask.length < capacity) this.wmask = new Uint32Array(capacity);
    if (this.words.length < nwords * 2) this.words = new Uint32Array(Math.max(nwords, capacity * MAX_FIELDS) * 2);
  }

  /** seq, time and cause of event i (seq and time < 2^53; cause < 0 is none). Returns 1 for a null cause. */
  setCommon(i: number, seq: number, time: number, cause: number): number {
    this.seq[2 * i] = seq >>> 0;
    this.seq[2 * i + 1] = (seq * INV_2_32) >>> 0;
    this.time[2 * i] = time >>> 0;
    this.time[2 * i + 1] = (time * INV_2_32) >>> 0;
    const ok = +(cause >= 0);
    const c = ok ? cause : 0;
    this.cause[2 * i] = c >>> 0;
    this.cause[2 * i + 1] = (c * INV_2_32) >>> 0;
    const byte = i >> 3;
    this.causeValid[byte] = ((i & 7) === 0 ? 0 : this.causeValid[byte]) | (ok << (i & 7));
    return 1 - ok;
  }
}
