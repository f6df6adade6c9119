// Recorder: the emulator's only view of tracing. Events are written field by field into the current
// EventBatch with no allocation; a full batch is handed to every sink and the batch is reused.
//
//   const seq = rec.ev(K.hpte_write, lpid, vcpu, core, cause);
//   rec.u(index); rec.w(oldVhi, oldVlo); ...
//
// Events are written in the batch's wire form (the Arrow encoding, see batch.ts): 64-bit halves and
// zero-suppressed payload words with their presence mask, so trailing zero words are never stored
// (readers restore them as zeros). Sinks wanting numbers call batch.toDense().
// `enabled = false` turns every call into a cheap no-op so the model can run unrecorded.

import { EventBatch, NO_CAUSE, WireColumns, wordToNumber } from './batch.js';
import { popcount32 } from '../arch/word.js';
import { K, MAX_FIELDS } from './kinds.js';
import type { RunInfo } from './run-info.js';

export interface EventSink {
  /** Called once before the first batch. */
  open(info: RunInfo): void;
  /** Persist the batch; the batch is reused after the call returns. */
  writeBatch(batch: EventBatch): void;
  /** Finish the file; `complete` says whether the run ended normally. */
  close(complete: boolean, eventCount: number): void;
}

export const DEFAULT_BATCH = 65536;

export class Recorder {
  readonly enabled: boolean;
  private readonly batch: EventBatch;
  /** The batch's wire form: what ev/w/u write. */
  private readonly wire: WireColumns;
  private readonly wireWords: Uint32Array<ArrayBufferLike>;
  private readonly sinks: EventSink[];
  private nextSeq = 0;
  /** Payload halves written in this batch; presence mask and next mask bit of the open event. */
  private pk = 0;
  private pm = 0;
  private pbit = 0;
  private closed = false;
  /** Deterministic time (timebase ticks) stamped on the next events. */
  now = 0;
  /** Called after each flushed batch with the number of events so far (progress). */
  onFlush: ((events: number) => void) | undefined;

  constructor(sinks: EventSink[], info: RunInfo | undefined, batchSize = DEFAULT_BATCH) {
    this.sinks = sinks;
    this.enabled = sinks.length > 0;
    this.batch = new EventBatch(this.enabled ? batchSize : 1);
    this.wire = new WireColumns(this.batch.capacity);
    this.wireWords = this.wire.words;
    this.batch.wire = this.wire;
    this.startBatch(0);
    if (this.enabled) {
      if (!info) throw new Error('Recorder: run info required with sinks');
      for (const s of sinks) s.open(info);
      // seq 0 is always run_start; run_end is written by close(true) only, so its absence marks an
      // incomplete trace in every format.
      this.ev(K.run_start, -1, -1, -1, NO_CAUSE);
      this.u(info.seed);
    }
  }

  /** A recorder that records nothing (every call returns at once). */
  static disabled(): Recorder {
    return new Recorder([], undefined, 1);
  }

  get eventCount(): number {
    return this.nextSeq;
  }

  /** Start an event; returns its seq (or -1 when disabled). cause = NO_CAUSE (-1) for none. */
  ev(kind: number, lpid: number, vcpu: number, core: number, cause: number): number {
    if (!this.enabled) return -1;
    const b = this.batch;
    let n = b.length;
    if (n > 0) this.seal(n - 1);
    if (n === b.capacity) {
      this.flush();
      n = 0;
    }
    b.kind[n] = kind;
    b.lpid[n] = lpid;
    b.vcpu[n] = vcpu;
    b.core[n] = core;
    const w = this.wire;
    w.causeNulls += w.setCommon(n, this.nextSeq, this.now, cause);
    w.wofs[n] = this.pk;
    this.pm = 0;
    this.pbit = 0;
    b.length = n + 1;
    return this.nextSeq++;
  }

  /**
   * Append a 64-bit word given as unsigned 32-bit halves. Both halves are stored blindly and the
   * cursor advances past a nonzero one only, so zero suppression costs no branch.
   */
  w(hi: number, lo: number): void {
    if (!this.enabled) return;
    if (this.pbit >= 2 * MAX_FIELDS) throw new Error(`Recorder: more than ${MAX_FIELDS} words in event ${this.nextSeq - 1}`);
    lo >>>= 0; // halves as stored (a caller's 2^32 or -1 must not set a mask bit over a stored 0)
    hi >>>= 0;
    const l = +(lo !== 0);
    const h = +(hi !== 0);
    const words = this.wireWords;
    let k = this.pk;
    words[k] = lo;
    k += l;
    words[k] = hi;
    this.pk = k + h;
    this.pm |= (l | (h << 1)) << this.pbit;
    this.pbit += 2;
  }

  /** Append an integer word (exact for |x| < 2^53; negative values are two's complement). */
  u(x: number): void {
    if (!this.enabled) return;
    this.w(Math.floor(x / 4294967296) >>> 0, x >>> 0);
  }

  /**
   * Word j of the event being written, as a number (exact within ±2^53; 0 if not written or zero).
   * For instrumentation that looks at an event before the next one starts (tests).
   */
  openWord(j: number): number {
    const n = this.batch.length;
    if (!this.enabled || n === 0 || 2 * j >= this.pbit) return 0;
    const m = this.pm;
    // Halves of words 0..j-1 come first: one per mask bit below bit 2j.
    let p = this.wire.wofs[n - 1] + (j === 0 ? 0 : popcount32(m & (0xffffffff >>> (32 - 2 * j))));
    const lo = (m >>> (2 * j)) & 1 ? this.wireWords[p++] : 0;
    const hi = (m >>> (2 * j + 1)) & 1 ? this.wireWords[p] : 0;
    return wordToNumber(hi, lo);
  }

  /** Append a BigInt word (edge use: scenario-provided register values). */
  big(x: bigint): void {
    if (!this.enabled) return;
    const u = BigInt.asUintN(64, x);
    this.w(Number(u >> 32n), Number(u & 0xffffffffn));
  }

  /** Close event i (the last one written): its mask and the end of its payload. */
  private seal(i: number): void {
    this.wire.wmask[i] = this.pm >>> 0;
    this.wire.wofs[i + 1] = this.pk;
  }

  private startBatch(firstSeq: number): void {
    const b = this.batch;
    b.reset(firstSeq);
    b.denseValid = false;
    b.wireValid = true;
    this.wire.causeNulls = 0;
    this.pk = 0;
  }

  /** Hand the current batch to the sinks (a durable commit point). */
  flush(): void {
    if (!this.enabled) return;
    const b = this.batch;
    if (b.length > 0) {
      this.seal(b.length - 1);
      for (const s of this.sinks) s.writeBatch(b);
    }
    this.startBatch(this.nextSeq);
    this.onFlush?.(this.nextSeq);
  }

  close(complete: boolean): void {
    if (!this.enabled || this.closed) return;
    this.closed = true;
    if (complete) {
      const n = this.nextSeq;
      this.ev(K.run_end, -1, -1, -1, NO_CAUSE);
      this.u(n);
    }
    this.flush();
    for (const s of this.sinks) s.close(complete, this.nextSeq);
  }
}

export { NO_CAUSE };
