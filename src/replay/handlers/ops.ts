// The op index: which guest operation (guest_op event, its op_id) every event serves. An event is
// attributed through its `cause` chain: a guest_op serves itself; an event whose cause is known
// serves the op its cause served; an event without a cause (host background work) serves none.
// Stored as runs (first seq, op), appended when the op changes, so the index is a few words per
// operation, not per event, and a checkpoint delta carries only the new runs.

import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { RowTable } from '../table.js';
import type { HandlerName, ReplayHandler } from './handler.js';

/** No guest operation. */
export const NO_OP = -1;

export class OpIndexHandler implements ReplayHandler {
  readonly name = 'ops';
  readonly deps: readonly HandlerName[] = [];
  /** Runs: [first seq hi, first seq lo, op + 1]. */
  readonly runs = new RowTable(3, 0);
  /** The op of the last event seen and the seq its run starts at. */
  private cur = NO_OP;
  private curStart = 0;

  reset(): void {
    this.runs.rows = 0;
    this.runs.clearDirty();
    this.cur = NO_OP;
    this.curStart = 0;
  }

  /** Every kind but guest_op (the table in replay.ts routes them all here). */
  event(b: EventBatch, i: number): void {
    const c = b.cause[i];
    this.serve(b.firstSeq + i, c < 0 ? NO_OP : c >= this.curStart ? this.cur : this.opOf(c));
  }

  guest_op(b: EventBatch, i: number): void {
    this.serve(b.firstSeq + i, b.num(i, F.guest_op.op_id));
  }

  private serve(seq: number, op: number): void {
    if (op === this.cur && this.runs.rows > 0) return;
    const r = this.runs.rows;
    this.runs.ensure(r + 1);
    const d = this.runs.data;
    d[r * 3] = Math.floor(seq / 4294967296) >>> 0;
    d[r * 3 + 1] = seq >>> 0;
    d[r * 3 + 2] = op + 1;
    this.runs.mark(r);
    this.cur = op;
    this.curStart = seq;
  }

  /** The guest op event `seq` (already folded) serves, or NO_OP. */
  opOf(seq: number): number {
    const d = this.runs.data;
    let lo = 0;
    let hi = this.runs.rows - 1;
    if (hi < 0) return NO_OP;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (d[mid * 3] * 4294967296 + d[mid * 3 + 1] <= seq) lo = mid;
      else hi = mid - 1;
    }
    return d[lo * 3] * 4294967296 + d[lo * 3 + 1] <= seq ? d[lo * 3 + 2] - 1 : NO_OP;
  }

  finalize(): void {}

  data(): { runs: number; current: number; opOf: (seq: number) => number } {
    return { runs: this.runs.rows, current: this.cur, opOf: (s) => this.opOf(s) };
  }

  save(): unknown {
    return [this.runs.rows, this.cur, this.curStart];
  }

  restore(s: unknown): void {
    const [rows, cur, start] = s as [number, number, number];
    this.runs.rows = Math.min(this.runs.rows, rows);
    this.runs.ensure(rows);
    this.cur = cur;
    this.curStart = start;
  }

  tables(out: [string, RowTable][]): void {
    out.push(['ops.runs', this.runs]);
  }
}
