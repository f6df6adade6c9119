// The op index: which guest operation (guest_op event, its op_id) every event serves. An event is
// attributed through its `cause` chain: a guest_op serves itself; an event whose cause is known
// serves the op its cause served; an event without a cause (host background work, vcore and
// partition-switch bookkeeping) serves none. Stored as runs (first seq, op), appended when the op
// changes (about one run per five events), so the index is never one entry per event.
//
// Causes are followed back at most CAUSE_WINDOW events (the model's traces have causes at most
// ~8.4K events back: an operation's own events); an older cause is treated as none and counted as
// the anomaly op_cause_beyond_window, so a wrong attribution is never silent. That bound
// is what keeps checkpoints small: a snapshot holds only the runs of the last CAUSE_WINDOW events
// (enough to attribute every later event exactly as a linear fold does), not the whole history.
// A linear fold keeps the whole history (opOf answers for every seq); a replay restored from a
// checkpoint answers opOf for seq ≥ knownFrom and UNKNOWN_OP before.

import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { K } from '../../trace/kinds.js';
import type { RowTable } from '../table.js';
import { A } from '../../trace/anomalies.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).

const GUEST_OP = K.guest_op;
const W_OP_ID = F.guest_op.op_id;

/** No guest operation. */
export const NO_OP = -1;
/** Before the history a restored replay holds (see knownFrom). */
export const UNKNOWN_OP = -2;
/** `cur` before the first event: differs from every op, so the first event opens a run. */
const NO_RUN = -3;
/** How far back a cause is followed, in events. */
export const CAUSE_WINDOW = 16384;
const WINDOW_MASK = CAUSE_WINDOW - 1;

export class OpIndexHandler implements ReplayHandler {
  readonly name = 'ops';
  readonly deps: readonly HandlerName[] = ['anomalies'];
  /** Runs: the first seq of each run and its op (plain arrays: no change tracking needed). */
  private runStart = new Float64Array(1024);
  private runOp = new Int32Array(1024);
  private nruns = 0;
  /** The op of the last event seen (NO_RUN before the first), and the seq of the last event seen. */
  private cur = NO_RUN;
  private last = -1;
  /** The op of each of the last CAUSE_WINDOW events, by seq & WINDOW_MASK (cause lookup in O(1)). */
  private readonly recent = new Int32Array(CAUSE_WINDOW);
  /** First seq opOf knows (0 for a linear fold). */
  knownFrom = 0;

  /**
   * `enabled` false: the index is not kept (a replay that asks no "which op" question folds
   * without its per-event cost); opOf answers UNKNOWN_OP and checkpoints carry no op state.
   */
  constructor(
    private readonly anomalies: AnomalyHandler,
    readonly enabled: boolean,
  ) {}

  reset(): void {
    this.nruns = 0;
    this.cur = NO_RUN;
    this.last = -1;
    this.knownFrom = 0;
  }

  /** Events [from, to) of the batch (called by the fold loop once per range, when enabled). */
  seeRange(b: EventBatch, from: number, to: number): void {
    const kinds = b.kind;
    const cause = b.cause;
    const recent = this.recent;
    const first = b.firstSeq;
    for (let i = from; i < to; i++) {
      const seq = first + i;
      let op: number;
      const c = cause[i];
      if (kinds[i] === GUEST_OP) op = b.num(i, W_OP_ID);
      else if (c < 0) op = NO_OP;
      else if (c > seq - CAUSE_WINDOW) op = recent[c & WINDOW_MASK];
      else {
        op = NO_OP;
        this.anomalies.count(A.op_cause_beyond_window, seq);
      }
      recent[seq & WINDOW_MASK] = op;
      if (op !== this.cur) this.append(seq, op);
    }
    this.last = first + to - 1;
  }

  private append(seq: number, op: number): void {
    const r = this.nruns++;
    if (r === this.runOp.length) {
      const s = new Float64Array(r * 2);
      s.set(this.runStart);
      this.runStart = s;
      const o = new Int32Array(r * 2);
      o.set(this.runOp);
      this.runOp = o;
    }
    this.runStart[r] = seq;
    this.runOp[r] = op;
    this.cur = op;
  }

  private startOf(r: number): number {
    return this.runStart[r];
  }

  /** Last run starting at or before seq, or -1. */
  private runAt(seq: number): number {
    let lo = -1;
    let hi = this.nruns - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.startOf(mid) <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The guest op event `seq` (already folded) serves: an op_id, NO_OP, or UNKNOWN_OP. */
  opOf(seq: number): number {
    if (!this.enabled || seq < this.knownFrom || seq > this.last) return UNKNOWN_OP;
    const r = this.runAt(seq);
    return r < 0 ? UNKNOWN_OP : this.runOp[r];
  }

  finalize(): void {}

  data(): { runs: number; current: number; knownFrom: number; opOf: (seq: number) => number } {
    return { runs: this.nruns, current: this.nruns === 0 ? NO_OP : this.cur, knownFrom: this.knownFrom, opOf: (s) => this.opOf(s) };
  }

  /** The runs covering the last CAUSE_WINDOW events, as [seq, op] pairs, and the last seq. */
  save(): unknown {
    if (!this.enabled) return null;
    const from = Math.max(0, this.runAt(this.last - CAUSE_WINDOW));
    const tail: number[] = [];
    for (let r = from; r < this.nruns; r++) tail.push(this.runStart[r], this.runOp[r]);
    return { last: this.last, tail };
  }

  restore(s: unknown): void {
    this.reset();
    if (!this.enabled) return;
    // The checkpoint index is always built with the op index (checkpoints.ts), so this cannot
    // happen unless a caller builds one without it: refuse rather than attribute from nothing.
    if (s === null) throw new Error('replay checkpoint has no op index (it was built without one)');
    const { last, tail } = s as { last: number; tail: number[] };
    for (let k = 0; k < tail.length; k += 2) this.append(tail[k], tail[k + 1]);
    this.last = last;
    this.knownFrom = tail.length ? tail[0] : last + 1;
    // Refill the cause window from the runs (the tail covers it).
    let r = 0;
    for (let q = Math.max(this.knownFrom, last - CAUSE_WINDOW + 1); q <= last; q++) {
      while (r + 1 < this.nruns && this.startOf(r + 1) <= q) r++;
      this.recent[q & WINDOW_MASK] = this.runOp[r];
    }
  }

  /** None: the history is not checkpointed (see the top of this file). */
  tables(_out: [string, RowTable][]): void {}
}
