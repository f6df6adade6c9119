// Recorder: the emulator's only view of tracing. Events are written field by field into the current
// EventBatch with no allocation; a full batch is handed to every sink and the batch is reused.
//
//   const seq = rec.emit(K.hpte_write, lpid, vcpu, core, cause).hpte_index(i).old_v(hi, lo) ... .seq;
//
// emit() returns the kind's emitter (fields.ts): named setters in field order, checked by the compiler.
// Events are written in the batch's wire form (the Arrow encoding, see batch.ts): 64-bit halves and
// zero-suppressed payload words with their presence mask, so trailing zero words are never stored
// (readers restore them as zeros). Sinks wanting numbers call batch.toDense().
// `enabled = false` makes emit() write into scratch space that is never kept, so the model runs unrecorded.

import { EventBatch, NO_CAUSE, WireColumns, wordToNumber } from './batch.js';
import { popcount32 } from '../arch/word.js';
import { K } from './kinds.js';
import { type Emitter, type FieldIndex, type KindCode, type KindOfCode, PayloadWriter } from './fields.js';
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
  /** The batch's wire form: what emit and the emitters write. */
  private readonly wire: WireColumns;
  /** Payload cursor of the open event; returned by emit() as the kind's emitter. */
  private readonly out: PayloadWriter;
  private readonly sinks: EventSink[];
  private nextSeq = 0;
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
    this.out = new PayloadWriter(this.wire.words);
    this.batch.wire = this.wire;
    this.startBatch(0);
    if (this.enabled) {
      if (!info) throw new Error('Recorder: run info required with sinks');
      for (const s of sinks) s.open(info);
      // seq 0 is always run_start; run_end is written by close(true) only, so its absence marks an
      // incomplete trace in every format.
      this.emit(K.run_start, -1, -1, -1, NO_CAUSE).seed(info.seed);
    }
  }

  /** A recorder that records nothing (every call returns at once). */
  static disabled(): Recorder {
    return new Recorder([], undefined, 1);
  }

  get eventCount(): number {
    return this.nextSeq;
  }

  /**
   * Start an event of kind `code` (`K.hpte_write`) and return its emitter (fields.ts): the setters
   * of its fields in order, then `.seq`. cause = NO_CAUSE (-1) for none.
   */
  emit<C extends KindCode>(code: C, lpid: number, vcpu: number, core: number, cause: number): Emitter<KindOfCode<C>> {
    if (!this.enabled) {
      // The same writer, aimed at scratch space (a disabled recorder's batch is never sealed or
      // flushed): every emitter call site then sees one class, whether or not the run is recorded.
      const o = this.out;
      o.pk = 0;
      o.pbit = 0;
      o.seq = -1;
      return o as never;
    }
    const b = this.batch;
    let n = b.length;
    if (n > 0) this.seal(n - 1);
    if (n === b.capacity) {
      this.flush();
      n = 0;
    }
    b.kind[n] = code;
    b.lpid[n] = lpid;
    b.vcpu[n] = vcpu;
    b.core[n] = core;
    const w = this.wire;
    const out = this.out;
    w.causeNulls += w.setCommon(n, this.nextSeq, this.now, cause);
    w.wofs[n] = out.pk;
    out.pm = 0;
    out.pbit = 0;
    out.seq = this.nextSeq++;
    b.length = n + 1;
    return out as never;
  }

  /**
   * Field j of the event being written, as a number (exact within ±2^53; 0 if not written or zero).
   * For instrumentation that looks at an event before the next one starts (tests).
   */
  openWord(j: FieldIndex): number {
    const n = this.batch.length;
    const out = this.out;
    if (!this.enabled || n === 0 || 2 * j >= out.pbit) return 0;
    const m = out.pm;
    // Halves of words 0..j-1 come first: one per mask bit below bit 2j.
    let p = this.wire.wofs[n - 1] + (j === 0 ? 0 : popcount32(m & (0xffffffff >>> (32 - 2 * j))));
    const words = this.wire.words;
    const lo = (m >>> (2 * j)) & 1 ? words[p++] : 0;
    const hi = (m >>> (2 * j + 1)) & 1 ? words[p] : 0;
    return wordToNumber(hi, lo);
  }

  /** Close event i (the last one written): its mask and the end of its payload. */
  private seal(i: number): void {
    this.wire.wmask[i] = this.out.pm >>> 0;
    this.wire.wofs[i + 1] = this.out.pk;
  }

  private startBatch(firstSeq: number): void {
    const b = this.batch;
    b.reset(firstSeq);
    b.denseValid = false;
    b.wireValid = true;
    this.wire.causeNulls = 0;
    this.out.pk = 0;
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
      this.emit(K.run_end, -1, -1, -1, NO_CAUSE).events(n);
    }
    this.flush();
    for (const s of this.sinks) s.close(complete, this.nextSeq);
  }
}

export { NO_CAUSE };
