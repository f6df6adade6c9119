// Event counters (the `perf kvm stat` style numbers): the ONE counting path. The demo summary
// (analysis/summary.ts), `state --summary` and future `stats` counters read these; nothing else
// counts events. Events by kind are counted by the replay loop itself into `byKind` (every event,
// one increment, no dispatch).

import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E } from '../../trace/kinds.js';
import { RowTable } from '../table.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload words (kinds.ts).
/** HPTE_V_ABSENT in the low word of dword 0 (arch/hpte.ts HPTE_V_ABSENT_LO). */
const V_ABSENT_LO = 0x20;

const ARRAYS = ['byKind', 'faults', 'pageFaultOutcome', 'notifierEffect', 'hostOps', 'tlbScope', 'hcallPath', 'guestOps', 'mmio', 'scalars'] as const;
/** Indexes of `scalars`. */
export const S_ABSENT_HPTE_WRITES = 0;
export const S_NOTIFIER_HPTES = 1;
export const S_REFAULTS = 2;

export class CounterHandler implements ReplayHandler {
  readonly name = 'counters';
  readonly deps: readonly HandlerName[] = [];
  readonly byKind = new Float64Array(256);
  /** fault_triage: interrupt * 8 + decision. */
  readonly faults = new Float64Array(32);
  readonly pageFaultOutcome = new Float64Array(8);
  /** notifier: callback * 8 + effect. */
  readonly notifierEffect = new Float64Array(64);
  /** host_page: op * 2 + owner. */
  readonly hostOps = new Float64Array(32);
  readonly tlbScope = new Float64Array(4);
  readonly hcallPath = new Float64Array(4);
  readonly guestOps = new Float64Array(16);
  /** mmio_exit: [loads, stores]. */
  readonly mmio = new Float64Array(2);
  /** S_*: hpte_writes leaving an ABSENT entry, HPTEs invalidated by notifiers, re-faults after invalidation. */
  readonly scalars = new Float64Array(4);
  /** (nr * 65536 + (ret & 0xffff)) → count, from hcall_exit. */
  readonly hcalls = new Map<number, number>();
  /** nr → count, from hcall_enter (first-seen order). */
  readonly hcallEnters = new Map<number, number>();
  /** gfns some notifier invalidated, a bitmap per LPID (row = gfn >> 5). */
  readonly invalidated = new Map<number, RowTable>();

  reset(): void {
    for (const k of ARRAYS) this[k].fill(0);
    this.hcalls.clear();
    this.hcallEnters.clear();
    this.invalidated.clear();
  }

  hcall_enter(b: EventBatch, i: number): void {
    const nr = b.num(i, F.hcall_enter.nr);
    this.hcallEnters.set(nr, (this.hcallEnters.get(nr) ?? 0) + 1);
  }

  hcall_exit(b: EventBatch, i: number): void {
    const key = b.num(i, F.hcall_exit.nr) * 65536 + (b.num(i, F.hcall_exit.ret) & 0xffff);
    this.hcalls.set(key, (this.hcalls.get(key) ?? 0) + 1);
    this.hcallPath[b.num(i, F.hcall_exit.path) & 3]++;
  }

  hpte_write(b: EventBatch, i: number): void {
    if ((b.lo(i, F.hpte_write.new_v) & V_ABSENT_LO) !== 0) this.scalars[S_ABSENT_HPTE_WRITES]++;
  }

  fault_triage(b: EventBatch, i: number): void {
    this.faults[(b.num(i, F.fault_triage.interrupt) & 3) * 8 + (b.num(i, F.fault_triage.decision) & 7)]++;
  }

  page_fault_exit(b: EventBatch, i: number): void {
    const outcome = b.num(i, F.page_fault_exit.outcome);
    this.pageFaultOutcome[outcome & 7]++;
    const gfn = b.num(i, F.page_fault_exit.gfn);
    if (outcome === E.page_fault_outcome.installed && gfn >= 0 && this.wasInvalidated(b.lpid[i], gfn)) this.scalars[S_REFAULTS]++;
  }

  notifier(b: EventBatch, i: number): void {
    const effect = b.num(i, F.notifier.effect);
    this.notifierEffect[(b.num(i, F.notifier.callback) & 7) * 8 + (effect & 7)]++;
    if (effect !== E.notifier_effect.invalidated) return;
    this.scalars[S_NOTIFIER_HPTES] += b.num(i, F.notifier.hptes);
    const gfn = b.num(i, F.notifier.gfn);
    if (gfn >= 0) this.markInvalidated(b.lpid[i], gfn);
  }

  private wasInvalidated(lpid: number, gfn: number): boolean {
    const t = this.invalidated.get(lpid);
    const r = Math.floor(gfn / 32);
    return t !== undefined && r < t.rows && (t.data[r] & (1 << (gfn & 31))) !== 0;
  }

  private markInvalidated(lpid: number, gfn: number): void {
    let t = this.invalidated.get(lpid);
    if (!t) this.invalidated.set(lpid, (t = new RowTable(1, 0)));
    const r = Math.floor(gfn / 32);
    if (r >= t.rows) t.ensure(r + 1);
    const bit = 1 << (gfn & 31);
    if ((t.data[r] & bit) === 0) {
      t.data[r] = (t.data[r] | bit) >>> 0;
      t.mark(r);
    }
  }

  host_page(b: EventBatch, i: number): void {
    this.hostOps[(b.num(i, F.host_page.op) & 15) * 2 + (b.num(i, F.host_page.owner) & 1)]++;
  }

  tlbie(b: EventBatch, i: number): void {
    this.tlbScope[b.num(i, F.tlbie.scope) & 3]++;
  }

  mmio_exit(b: EventBatch, i: number): void {
    this.mmio[b.num(i, F.mmio_exit.is_write) & 1]++;
  }

  guest_op(b: EventBatch, i: number): void {
    this.guestOps[b.num(i, F.guest_op.op) & 15]++;
  }

  finalize(): void {}

  data(): this {
    return this;
  }

  save(): unknown {
    const arrays: Record<string, [number, number][]> = {};
    for (const k of ARRAYS) {
      const out: [number, number][] = [];
      this[k].forEach((v, j) => v !== 0 && out.push([j, v]));
      arrays[k] = out;
    }
    return { arrays, hcalls: [...this.hcalls], hcallEnters: [...this.hcallEnters], invalidated: [...this.invalidated].sort((a, b) => a[0] - b[0]).map(([l, t]) => [l, t.rows]) };
  }

  restore(s: unknown): void {
    const v = s as { arrays: Record<string, [number, number][]>; hcalls: [number, number][]; hcallEnters: [number, number][]; invalidated: [number, number][] };
    for (const k of ARRAYS) {
      const a = this[k];
      a.fill(0);
      for (const [j, x] of v.arrays[k] ?? []) a[j] = x;
    }
    this.hcalls.clear();
    for (const [k, n] of v.hcalls) this.hcalls.set(k, n);
    this.hcallEnters.clear();
    for (const [k, n] of v.hcallEnters) this.hcallEnters.set(k, n);
    const keep = new Set(v.invalidated.map(([l]) => l));
    for (const l of [...this.invalidated.keys()]) if (!keep.has(l)) this.invalidated.delete(l);
    for (const [l, rows] of v.invalidated) {
      let t = this.invalidated.get(l);
      if (!t) this.invalidated.set(l, (t = new RowTable(1, 0)));
      t.ensure(rows);
    }
  }

  tables(out: [string, RowTable][]): void {
    for (const [l, t] of [...this.invalidated].sort((a, b) => a[0] - b[0])) out.push([`counters.invalidated.vm${l}`, t]);
  }
}
