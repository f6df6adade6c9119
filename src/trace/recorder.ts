// Recorder: the emulator's only view of tracing. Events are written field by field into the current
// EventBatch with no allocation; a full batch is handed to every sink and the batch is reused.
//
//   const seq = rec.ev(K.hpte_write, lpid, vcpu, core, cause);
//   rec.u(index); rec.w(oldVhi, oldVlo); ...
//
// Trailing zero words are trimmed when the next event starts (readers restore them as zeros).
// `enabled = false` turns every call into a cheap no-op so the model can run unrecorded.

import { EventBatch, NO_CAUSE } from './batch.js';
import { K } from './kinds.js';
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
  private readonly sinks: EventSink[];
  private nextSeq = 0;
  private wc = 0;
  private closed = false;
  /** Deterministic time (timebase ticks) stamped on the next events. */
  now = 0;
  /** Called after each flushed batch with the number of events so far (progress). */
  onFlush: ((events: number) => void) | undefined;

  constructor(sinks: EventSink[], info: RunInfo | undefined, batchSize = DEFAULT_BATCH) {
    this.sinks = sinks;
    this.enabled = sinks.length > 0;
    this.batch = new EventBatch(this.enabled ? batchSize : 1);
    this.batch.reset(0);
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
    b.time[n] = this.now;
    b.kind[n] = kind;
    b.lpid[n] = lpid;
    b.vcpu[n] = vcpu;
    b.core[n] = core;
    b.cause[n] = cause;
    b.wofs[n] = this.wc;
    b.length = n + 1;
    return this.nextSeq++;
  }

  /** Append a 64-bit word given as unsigned 32-bit halves. */
  w(hi: number, lo: number): void {
    if (!this.enabled) return;
    const p = this.wc * 2;
    this.batch.words[p] = lo;
    this.batch.words[p + 1] = hi;
    this.wc++;
  }

  /** Append an integer word (exact for |x| < 2^53; negative values are two's complement). */
  u(x: number): void {
    if (!this.enabled) return;
    const p = this.wc * 2;
    this.batch.words[p] = x >>> 0;
    this.batch.words[p + 1] = Math.floor(x / 4294967296) >>> 0;
    this.wc++;
  }

  /** Append a BigInt word (edge use: scenario-provided register values). */
  big(x: bigint): void {
    if (!this.enabled) return;
    const u = BigInt.asUintN(64, x);
    this.w(Number(u >> 32n), Number(u & 0xffffffffn));
  }

  /** Trim trailing zero words of event i (the last one written). */
  private seal(i: number): void {
    const b = this.batch;
    const start = b.wofs[i];
    let end = this.wc;
    while (end > start && b.words[end * 2 - 2] === 0 && b.words[end * 2 - 1] === 0) end--;
    this.wc = end;
    b.wofs[i + 1] = end;
  }

  /** Hand the current batch to the sinks (a durable commit point). */
  flush(): void {
    if (!this.enabled) return;
    const b = this.batch;
    if (b.length > 0) {
      this.seal(b.length - 1);
      for (const s of this.sinks) s.writeBatch(b);
    }
    b.reset(this.nextSeq);
    this.wc = 0;
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
