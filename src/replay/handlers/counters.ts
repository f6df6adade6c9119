// Event counters (the `perf kvm stat` style numbers): the ONE counting path. The demo summary
// (analysis/summary.ts), `state --summary` and future `stats` counters read these; nothing else
// counts events. Events by kind are counted by the replay loop itself into `byKind` (every event,
// one increment, no dispatch).

import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E } from '../../trace/kinds.js';
import { RowTable } from '../table.js';
import { CountMap } from './count-map.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_FAULT_TRIAGE_DECISION = F.fault_triage.decision;
const W_FAULT_TRIAGE_INTERRUPT = F.fault_triage.interrupt;
const W_GUEST_OP_OP = F.guest_op.op;
const W_HCALL_ENTER_NR = F.hcall_enter.nr;
const W_HCALL_EXIT_NR = F.hcall_exit.nr;
const W_HCALL_EXIT_PATH = F.hcall_exit.path;
const W_HCALL_EXIT_RET = F.hcall_exit.ret;
const W_HOST_PAGE_OP = F.host_page.op;
const W_HOST_PAGE_OWNER = F.host_page.owner;
const W_HPTE_WRITE_NEW_V = F.hpte_write.new_v;
const W_MMIO_EXIT_IS_WRITE = F.mmio_exit.is_write;
const W_NOTIFIER_CALLBACK = F.notifier.callback;
const W_NOTIFIER_EFFECT = F.notifier.effect;
const W_NOTIFIER_GFN = F.notifier.gfn;
const W_NOTIFIER_HPTES = F.notifier.hptes;
const W_PAGE_FAULT_EXIT_GFN = F.page_fault_exit.gfn;
const W_PAGE_FAULT_EXIT_OUTCOME = F.page_fault_exit.outcome;
const W_TLBIE_SCOPE = F.tlbie.scope;

// Payload words (kinds.ts).
/** HPTE_V_ABSENT in the low word of dword 0 (arch/hpte.ts HPTE_V_ABSENT_LO). */
const V_ABSENT_LO = 0x20;

const ARRAYS = ['byKind', 'faults', 'pageFaultOutcome', 'notifierEffect', 'hostOps', 'tlbScope', 'hcallPath', 'guestOps', 'mmio', 'scalars'] as const;
/** Indexes of `scalars`. */
export const S_ABSENT_HPTE_WRITES = 0;
export const S_NOTIFIER_HPTES = 1;
export const S_REFAULTS = 2;

// Dense slots for the common hcalls: PAPR numbers below 0x400 (multiples of 4) and, for exits,
// return codes in [-128, 127]; anything else (KVM's 0xf000+ numbers, odd values) goes to a map.
const HCALL_SLOTS = 0x400 >> 2;
const hcallNrSlot = (nr: number): number => (nr >= 0 && nr < 0x400 && (nr & 3) === 0 ? nr >> 2 : -1);
/** key = nr * 65536 + (ret & 0xffff). */
function hcallExitSlot(key: number): number {
  const s = hcallNrSlot(Math.floor(key / 65536));
  const r16 = key & 0xffff;
  return s >= 0 && (r16 < 0x80 || r16 >= 0xff80) ? s * 256 + (r16 & 0xff) : -1;
}

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
  /** (nr * 65536 + (ret & 0xffff)) → count, from hcall_exit (first-seen order). */
  readonly hcalls = new CountMap(HCALL_SLOTS * 256, hcallExitSlot);
  /** nr → count, from hcall_enter (first-seen order). */
  readonly hcallEnters = new CountMap(HCALL_SLOTS, hcallNrSlot);
  /** gfns some notifier invalidated, a bitmap per LPID (row = gfn >> 5). */
  readonly invalidated = new Map<number, RowTable>();

  reset(): void {
    for (const k of ARRAYS) this[k].fill(0);
    this.hcalls.clear();
    this.hcallEnters.clear();
    this.invalidated.clear();
  }

  hcall_enter(b: EventBatch, i: number): void {
    this.hcallEnters.add(b.num(i, W_HCALL_ENTER_NR));
  }

  hcall_exit(b: EventBatch, i: number): void {
    this.hcalls.add(b.num(i, W_HCALL_EXIT_NR) * 65536 + (b.num(i, W_HCALL_EXIT_RET) & 0xffff));
    this.hcallPath[b.num(i, W_HCALL_EXIT_PATH) & 3]++;
  }

  hpte_write(b: EventBatch, i: number): void {
    if ((b.lo(i, W_HPTE_WRITE_NEW_V) & V_ABSENT_LO) !== 0) this.scalars[S_ABSENT_HPTE_WRITES]++;
  }

  fault_triage(b: EventBatch, i: number): void {
    this.faults[(b.num(i, W_FAULT_TRIAGE_INTERRUPT) & 3) * 8 + (b.num(i, W_FAULT_TRIAGE_DECISION) & 7)]++;
  }

  page_fault_exit(b: EventBatch, i: number): void {
    const outcome = b.num(i, W_PAGE_FAULT_EXIT_OUTCOME);
    this.pageFaultOutcome[outcome & 7]++;
    const gfn = b.num(i, W_PAGE_FAULT_EXIT_GFN);
    if (outcome === E.page_fault_outcome.installed && gfn >= 0 && this.wasInvalidated(b.lpid[i], gfn)) this.scalars[S_REFAULTS]++;
  }

  notifier(b: EventBatch, i: number): void {
    const effect = b.num(i, W_NOTIFIER_EFFECT);
    this.notifierEffect[(b.num(i, W_NOTIFIER_CALLBACK) & 7) * 8 + (effect & 7)]++;
    if (effect !== E.notifier_effect.invalidated) return;
    this.scalars[S_NOTIFIER_HPTES] += b.num(i, W_NOTIFIER_HPTES);
    const gfn = b.num(i, W_NOTIFIER_GFN);
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
    this.hostOps[(b.num(i, W_HOST_PAGE_OP) & 15) * 2 + (b.num(i, W_HOST_PAGE_OWNER) & 1)]++;
  }

  tlbie(b: EventBatch, i: number): void {
    this.tlbScope[b.num(i, W_TLBIE_SCOPE) & 3]++;
  }

  mmio_exit(b: EventBatch, i: number): void {
    this.mmio[b.num(i, W_MMIO_EXIT_IS_WRITE) & 1]++;
  }

  guest_op(b: EventBatch, i: number): void {
    this.guestOps[b.num(i, W_GUEST_OP_OP) & 15]++;
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
    for (const [k, n] of v.hcalls) this.hcalls.add(k, n);
    this.hcallEnters.clear();
    for (const [k, n] of v.hcallEnters) this.hcallEnters.add(k, n);
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
