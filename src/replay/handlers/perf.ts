// `perf kvm stat`-style accumulators for `hvtrace stats` (analysis/stats.ts): per (lpid, vcpu,
// core, code) the samples and, for paired events, the total / min / max ticks between them.
//
// Timed sections (a start event paired with its end event):
//   exits       guest_exit (code = trap) → the vcpu's next guest_enter: time in the host handling
//               the exit. The vcpu is (lpid, vcpu). A second guest_exit of a vcpu before it
//               re-entered closes the first at the second's time (the interval ends at the vcpu's
//               next run event, which is what a LEAD over its guest_exit/guest_enter events gives).
//   hcalls      hcall_enter (nr) → the hcall_exit whose `cause` is the enter's seq; code = nr * 4 +
//               path of the exit (0 real mode, 1 virtual mode, 2 user space; PATH_UNFINISHED 3).
//   page_faults page_fault_enter → the page_fault_exit whose `cause` is its seq; code = outcome
//               (OUTCOME_UNFINISHED 7).
// lpid, vcpu and core of a timed sample are those of its START event (where the exit was taken,
// where the hcall was issued). A start with no end by the end of the fold (a vcpu that exited and
// never re-entered before run_end, an hcall or fault cut off by a truncated trace) is a sample too:
// it ends at the fold's end time (`data(endTime)`, the time of the last event folded), and an hcall
// or page fault without an exit is reported under the UNFINISHED path / outcome. An end event
// whose start is not in the trace (a trace cut at the front: hvtrace traces never are) is not a
// sample; it is counted in `unpaired` so a reader can see it happened. Pairing is by `cause` alone
// (an end recorded on another vcpu than its start still pairs with it).
//
// Plain counts (samples only), keyed by the event's own lpid/vcpu/core:
//   faults      fault_triage: interrupt * 8 + decision
//   notifier    notifier: callback * 8 + effect
//   host_pages  host_page: op * 2 + owner (0 VMM = guest RAM, 1 another host process)
//   cores       partition_switch: direction (0 entry, 1 exit); tlbie: 4 + scope. tlbies issued
//               from host context (core -1, e.g. the notifier path) keep core -1 as their own row.
//
// Hot path: a vcpu's slot comes from a Map keyed by a small integer (SMI) built from (lpid, vcpu);
// a row from a Map keyed by (slot, core, interned code), also a SMI in every realistic trace (a
// string key otherwise); both behind a one-entry cache (the last vcpu looked up; per slot and
// section, the row it used last), which most events hit. Pending starts live in per-slot arrays; a second start of the same kind
// before the first ended (never in a trace of this emulator) moves the first to an overflow Map
// keyed by its seq, so pairing by `cause` stays exact. Nothing is allocated per event.
// Checkpoints: every accumulator and every pending start is small state (save/restore).

import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { K } from '../../trace/kinds.js';
import type { RowTable } from '../table.js';
import type { HandlerName, ReplayHandler } from './handler.js';

const W_GUEST_EXIT_TRAP = F.guest_exit.trap;
const W_HCALL_ENTER_NR = F.hcall_enter.nr;
const W_HCALL_EXIT_PATH = F.hcall_exit.path;
const W_PAGE_FAULT_EXIT_OUTCOME = F.page_fault_exit.outcome;
const W_FAULT_TRIAGE_INTERRUPT = F.fault_triage.interrupt;
const W_FAULT_TRIAGE_DECISION = F.fault_triage.decision;
const W_NOTIFIER_CALLBACK = F.notifier.callback;
const W_NOTIFIER_EFFECT = F.notifier.effect;
const W_HOST_PAGE_OP = F.host_page.op;
const W_HOST_PAGE_OWNER = F.host_page.owner;
const W_PARTITION_SWITCH_DIRECTION = F.partition_switch.direction;
const W_TLBIE_SCOPE = F.tlbie.scope;
/** The kinds seeRange consumes, in the order of its cases 1.. (state.ts checks they are the kinds HANDLES gives to perf). */
export const PERF_KINDS: readonly number[] = [K.hcall_enter, K.hcall_exit, K.tlbie, K.fault_triage, K.page_fault_enter, K.page_fault_exit, K.notifier, K.host_page, K.partition_switch, K.guest_enter, K.guest_exit];
/** kind code → seeRange case (0: not consumed): a dense switch (a jump table) instead of sparse codes. */
const CASE = new Uint8Array(256);
PERF_KINDS.forEach((k, j) => (CASE[k] = j + 1));

/** Sections, in the order `hvtrace stats` prints them. */
export const PERF_SECTIONS = ['exits', 'hcalls', 'page_faults', 'faults', 'notifier', 'host_pages', 'cores'] as const;
export type PerfSectionName = (typeof PERF_SECTIONS)[number];
export const SEC_EXITS = 0;
export const SEC_HCALLS = 1;
export const SEC_PAGE_FAULTS = 2;
export const SEC_FAULTS = 3;
export const SEC_NOTIFIER = 4;
export const SEC_HOST_PAGES = 5;
export const SEC_CORES = 6;
/** Sections whose samples carry a time (the others are counts). */
export const TIMED_SECTIONS: readonly boolean[] = [true, true, true, false, false, false, false];
/** hcalls code: nr * 4 + path; this path = no hcall_exit by the end of the fold. */
export const PATH_UNFINISHED = 3;
/** page_faults code: this outcome = no page_fault_exit by the end of the fold. */
export const OUTCOME_UNFINISHED = 7;
/** cores code of a tlbie: CORE_TLBIE + scope (partition switches: their direction, 0 or 1). */
export const CORE_TLBIE = 4;

/** One accumulator row of data(). */
export interface PerfRow {
  section: number;
  lpid: number;
  vcpu: number;
  core: number;
  code: number;
  samples: number;
  /** Ticks (timed sections; 0 in count sections). */
  total: number;
  min: number;
  max: number;
}

export interface PerfData {
  rows: PerfRow[];
  /** hcall_exit / page_fault_exit events whose start event is not in the fold. */
  unpairedHcallExits: number;
  unpairedPageFaultExits: number;
  /** Starts still open at the end (reported as samples ending at endTime). */
  open: number;
  endTime: number;
}

/** Rows of one section: (slot, core, code) → samples, total, min, max. */
class PerfSection {
  rows = 0;
  slot = new Int32Array(16);
  core = new Int32Array(16);
  code = new Float64Array(16);
  samples = new Float64Array(16);
  total = new Float64Array(16);
  min = new Float64Array(16);
  max = new Float64Array(16);
  /** code → small id (for the SMI row key). */
  private readonly codes = new Map<number, number>();
  private readonly fast = new Map<number, number>();
  private readonly slow = new Map<string, number>();
  /** slot → the row it used last (-1 none). */
  private hit = new Int32Array(0);

  clear(): void {
    this.rows = 0;
    this.hit = new Int32Array(0);
    this.codes.clear();
    this.fast.clear();
    this.slow.clear();
  }

  row(slot: number, core: number, code: number): number {
    // The row this slot used last in this section, if it is the one (runs of one hcall, one
    // trap, ... on a vcpu): two array loads and compares instead of two Map lookups.
    const hit = slot < this.hit.length ? this.hit[slot] : -1;
    if (hit >= 0 && this.code[hit] === code && this.core[hit] === core) return hit;
    const r = this.lookup(slot, core, code);
    if (slot >= this.hit.length) {
      const h = new Int32Array(Math.max(16, slot * 2)).fill(-1);
      h.set(this.hit);
      this.hit = h;
    }
    this.hit[slot] = r;
    return r;
  }

  private lookup(slot: number, core: number, code: number): number {
    let id = this.codes.get(code);
    if (id === undefined) this.codes.set(code, (id = this.codes.size));
    const c1 = core + 1;
    if (slot < 2048 && c1 >= 0 && c1 < 2048 && id < 256) {
      const k = (((slot << 11) | c1) << 8) | id;
      const r = this.fast.get(k);
      if (r !== undefined) return r;
      const n = this.create(slot, core, code);
      this.fast.set(k, n);
      return n;
    }
    const k = `${slot},${core},${code}`;
    const r = this.slow.get(k);
    if (r !== undefined) return r;
    const n = this.create(slot, core, code);
    this.slow.set(k, n);
    return n;
  }

  private create(slot: number, core: number, code: number): number {
    const r = this.rows++;
    if (r >= this.samples.length) this.grow(this.samples.length * 2);
    this.slot[r] = slot;
    this.core[r] = core;
    this.code[r] = code;
    this.samples[r] = 0;
    this.total[r] = 0;
    this.min[r] = 0;
    this.max[r] = 0;
    return r;
  }

  private grow(n: number): void {
    const g = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.slot = g(this.slot);
    this.core = g(this.core);
    this.code = g(this.code);
    this.samples = g(this.samples);
    this.total = g(this.total);
    this.min = g(this.min);
    this.max = g(this.max);
  }

  count(slot: number, core: number, code: number): void {
    const r = this.row(slot, core, code); // first: row() may grow (replace) the arrays
    this.samples[r]++;
  }

  time(slot: number, core: number, code: number, dt: number): void {
    const r = this.row(slot, core, code);
    if (this.samples[r]++ === 0) {
      this.min[r] = dt;
      this.max[r] = dt;
    } else {
      if (dt < this.min[r]) this.min[r] = dt;
      if (dt > this.max[r]) this.max[r] = dt;
    }
    this.total[r] += dt;
  }

  save(): number[][] {
    const out: number[][] = [];
    for (let r = 0; r < this.rows; r++) out.push([this.slot[r], this.core[r], this.code[r], this.samples[r], this.total[r], this.min[r], this.max[r]]);
    return out;
  }

  restore(rows: number[][]): void {
    this.clear();
    for (const [slot, core, code, samples, total, min, max] of rows) {
      const r = this.row(slot, core, code);
      this.samples[r] = samples;
      this.total[r] = total;
      this.min[r] = min;
      this.max[r] = max;
    }
  }
}

/** Saved form (JSON). */
interface PerfSave {
  slots: [number, number][];
  sections: number[][][];
  /** [slot, start time, trap, core] */
  exits: number[][];
  /** [seq, slot, time, nr, core] */
  hcalls: number[][];
  /** [seq, slot, time, core] */
  pfs: number[][];
  unpaired: [number, number];
  seen: number;
}

export class PerfHandler implements ReplayHandler {
  readonly name = 'perf';
  readonly deps: readonly HandlerName[] = [];
  /** A restored state that had no perf part (a checkpoint taken by a fold without it): data() refuses. */
  private incomplete = false;

  /**
   * `enabled` false: nothing is kept (a replay that asks no stats question folds without its cost,
   * like the op index); checkpoints then carry no perf state. The checkpoint index always keeps it.
   */
  constructor(readonly enabled: boolean) {}
  private readonly sections = PERF_SECTIONS.map(() => new PerfSection());
  private readonly sExits = this.sections[SEC_EXITS];
  private readonly sHcalls = this.sections[SEC_HCALLS];
  private readonly sPageFaults = this.sections[SEC_PAGE_FAULTS];
  private readonly sFaults = this.sections[SEC_FAULTS];
  private readonly sNotifier = this.sections[SEC_NOTIFIER];
  private readonly sHostPages = this.sections[SEC_HOST_PAGES];
  private readonly sCores = this.sections[SEC_CORES];
  // vcpu slots: (lpid, vcpu) → slot.
  private readonly slotFast = new Map<number, number>();
  private readonly slotSlow = new Map<string, number>();
  /** The last fast slot key looked up and its slot (events of one vcpu come in runs). */
  private lastKey = -1;
  private lastSlot = -1;
  private slotLpid: number[] = [];
  private slotVcpu: number[] = [];
  // Pending starts per slot (-1 = none). Exit: start time, trap, core.
  private exitStart: number[] = [];
  private exitTrap: number[] = [];
  private exitCore: number[] = [];
  // hcall_enter: seq, time, nr, core.
  private hcSeq: number[] = [];
  private hcTime: number[] = [];
  private hcNr: number[] = [];
  private hcCore: number[] = [];
  // page_fault_enter: seq, time, core.
  private pfSeq: number[] = [];
  private pfTime: number[] = [];
  private pfCore: number[] = [];
  /** Starts displaced by a second start of the same vcpu before their end: seq → [slot, time, nr, core]. */
  private readonly hcOver = new Map<number, number[]>();
  private readonly pfOver = new Map<number, number[]>();
  private unpairedHc = 0;
  private unpairedPf = 0;
  /** Latest time of an event this handler consumed (the default end time of data()). */
  private seen = 0;

  reset(): void {
    for (const s of this.sections) s.clear();
    this.slotFast.clear();
    this.slotSlow.clear();
    this.lastKey = -1;
    this.lastSlot = -1;
    this.slotLpid = [];
    this.slotVcpu = [];
    this.exitStart = [];
    this.exitTrap = [];
    this.exitCore = [];
    this.hcSeq = [];
    this.hcTime = [];
    this.hcNr = [];
    this.hcCore = [];
    this.pfSeq = [];
    this.pfTime = [];
    this.pfCore = [];
    this.hcOver.clear();
    this.pfOver.clear();
    this.unpairedHc = 0;
    this.unpairedPf = 0;
    this.seen = 0;
    this.incomplete = false;
  }

  /** The slot of (lpid, vcpu), created on first use. */
  private slot(lpid: number, vcpu: number): number {
    const l1 = lpid + 1;
    const v1 = vcpu + 1;
    if (l1 >= 0 && l1 < 32768 && v1 >= 0 && v1 < 32768) {
      const k = (l1 << 15) | v1;
      if (k === this.lastKey) return this.lastSlot;
      let s = this.slotFast.get(k);
      if (s === undefined) this.slotFast.set(k, (s = this.newSlot(lpid, vcpu)));
      this.lastKey = k;
      this.lastSlot = s;
      return s;
    }
    const k = `${lpid},${vcpu}`;
    const s = this.slotSlow.get(k);
    if (s !== undefined) return s;
    const n = this.newSlot(lpid, vcpu);
    this.slotSlow.set(k, n);
    return n;
  }

  private newSlot(lpid: number, vcpu: number): number {
    const n = this.slotLpid.length;
    this.slotLpid.push(lpid);
    this.slotVcpu.push(vcpu);
    this.exitStart.push(-1);
    this.exitTrap.push(0);
    this.exitCore.push(0);
    this.hcSeq.push(-1);
    this.hcTime.push(0);
    this.hcNr.push(0);
    this.hcCore.push(0);
    this.pfSeq.push(-1);
    this.pfTime.push(0);
    this.pfCore.push(0);
    return n;
  }

  // -- timed: exits --------------------------------------------------------------------------

  guest_exit(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (this.exitStart[s] >= 0) this.sExits.time(s, this.exitCore[s], this.exitTrap[s], t - this.exitStart[s]);
    this.exitStart[s] = t;
    this.exitTrap[s] = b.lo(i, W_GUEST_EXIT_TRAP);
    this.exitCore[s] = b.core[i];
  }

  guest_enter(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (this.exitStart[s] < 0) return; // the first entry of a vcpu
    this.sExits.time(s, this.exitCore[s], this.exitTrap[s], t - this.exitStart[s]);
    this.exitStart[s] = -1;
  }

  // -- timed: hcalls -------------------------------------------------------------------------

  hcall_enter(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (this.hcSeq[s] >= 0) this.hcOver.set(this.hcSeq[s], [s, this.hcTime[s], this.hcNr[s], this.hcCore[s]]);
    this.hcSeq[s] = b.firstSeq + i;
    this.hcTime[s] = t;
    this.hcNr[s] = b.num(i, W_HCALL_ENTER_NR);
    this.hcCore[s] = b.core[i];
  }

  hcall_exit(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const cause = b.cause[i];
    const path = b.lo(i, W_HCALL_EXIT_PATH);
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (cause >= 0 && this.hcSeq[s] === cause) {
      this.sHcalls.time(s, this.hcCore[s], this.hcNr[s] * 4 + path, t - this.hcTime[s]);
      this.hcSeq[s] = -1;
      return;
    }
    const o = this.hcOver.get(cause);
    if (o === undefined) {
      // An exit recorded on another vcpu than its enter (not in this emulator's traces): still paired by cause.
      const s2 = cause >= 0 ? this.hcSeq.indexOf(cause) : -1;
      if (s2 < 0) this.unpairedHc++;
      else {
        this.sHcalls.time(s2, this.hcCore[s2], this.hcNr[s2] * 4 + path, t - this.hcTime[s2]);
        this.hcSeq[s2] = -1;
      }
      return;
    }
    this.hcOver.delete(cause);
    this.sHcalls.time(o[0], o[3], o[2] * 4 + path, t - o[1]);
  }

  // -- timed: virtual-mode page faults ---------------------------------------------------------

  page_fault_enter(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (this.pfSeq[s] >= 0) this.pfOver.set(this.pfSeq[s], [s, this.pfTime[s], 0, this.pfCore[s]]);
    this.pfSeq[s] = b.firstSeq + i;
    this.pfTime[s] = t;
    this.pfCore[s] = b.core[i];
  }

  page_fault_exit(b: EventBatch, i: number): void {
    const t = b.time[i];
    this.seen = t;
    const cause = b.cause[i];
    const outcome = b.lo(i, W_PAGE_FAULT_EXIT_OUTCOME);
    const s = this.slot(b.lpid[i], b.vcpu[i]);
    if (cause >= 0 && this.pfSeq[s] === cause) {
      this.sPageFaults.time(s, this.pfCore[s], outcome, t - this.pfTime[s]);
      this.pfSeq[s] = -1;
      return;
    }
    const o = this.pfOver.get(cause);
    if (o === undefined) {
      const s2 = cause >= 0 ? this.pfSeq.indexOf(cause) : -1;
      if (s2 < 0) this.unpairedPf++;
      else {
        this.sPageFaults.time(s2, this.pfCore[s2], outcome, t - this.pfTime[s2]);
        this.pfSeq[s2] = -1;
      }
      return;
    }
    this.pfOver.delete(cause);
    this.sPageFaults.time(o[0], o[3], outcome, t - o[1]);
  }

  // -- counts --------------------------------------------------------------------------------

  fault_triage(b: EventBatch, i: number): void {
    this.seen = b.time[i];
    this.sFaults.count(this.slot(b.lpid[i], b.vcpu[i]), b.core[i], (b.lo(i, W_FAULT_TRIAGE_INTERRUPT) & 3) * 8 + (b.lo(i, W_FAULT_TRIAGE_DECISION) & 7));
  }

  notifier(b: EventBatch, i: number): void {
    this.seen = b.time[i];
    this.sNotifier.count(this.slot(b.lpid[i], b.vcpu[i]), b.core[i], (b.lo(i, W_NOTIFIER_CALLBACK) & 7) * 8 + (b.lo(i, W_NOTIFIER_EFFECT) & 7));
  }

  host_page(b: EventBatch, i: number): void {
    this.seen = b.time[i];
    this.sHostPages.count(this.slot(b.lpid[i], b.vcpu[i]), b.core[i], (b.lo(i, W_HOST_PAGE_OP) & 15) * 2 + (b.lo(i, W_HOST_PAGE_OWNER) & 1));
  }

  partition_switch(b: EventBatch, i: number): void {
    this.seen = b.time[i];
    this.sCores.count(this.slot(b.lpid[i], b.vcpu[i]), b.core[i], b.lo(i, W_PARTITION_SWITCH_DIRECTION) & 1);
  }

  tlbie(b: EventBatch, i: number): void {
    this.seen = b.time[i];
    this.sCores.count(this.slot(b.lpid[i], b.vcpu[i]), b.core[i], CORE_TLBIE + (b.lo(i, W_TLBIE_SCOPE) & 3));
  }

  /**
   * Fold events [from, to) of a batch: the replay calls this once per folded range (like the op
   * index's seeRange) instead of dispatching each kind to it from the compiled fold loop. Measured
   * on a 7.8M-event trace: 11 more methods inlined into that loop slowed the fold by ~20-35%
   * (every handler, inlining budget), this separate tight pass by much less (bench/README.md,
   * stats). Its kinds are the `perf` column of HANDLES in state.ts (PERF_KINDS there).
   */
  seeRange(b: EventBatch, from: number, to: number): void {
    const kinds = b.kind;
    for (let i = from; i < to; i++) {
      switch (CASE[kinds[i]]) {
        case 0:
          break;
        case 1:
          this.hcall_enter(b, i);
          break;
        case 2:
          this.hcall_exit(b, i);
          break;
        case 3:
          this.tlbie(b, i);
          break;
        case 4:
          this.fault_triage(b, i);
          break;
        case 5:
          this.page_fault_enter(b, i);
          break;
        case 6:
          this.page_fault_exit(b, i);
          break;
        case 7:
          this.notifier(b, i);
          break;
        case 8:
          this.host_page(b, i);
          break;
        case 9:
          this.partition_switch(b, i);
          break;
        case 10:
          this.guest_enter(b, i);
          break;
        case 11:
          this.guest_exit(b, i);
          break;
      }
    }
  }

  finalize(): void {}

  /**
   * Every row, with the starts still open closed at `endTime` (default: the latest time of an event
   * this handler consumed; `hvtrace stats` passes the time of the last event folded). Pure: the
   * accumulators are not changed, so folding may continue after it.
   */
  data(endTime?: number): PerfData {
    if (!this.enabled) throw new Error('perf handler not enabled in this replay (StateFold({ perf: true }))');
    if (this.incomplete) throw new Error('perf state restored from a checkpoint without it');
    const end = endTime ?? this.seen;
    const rows: PerfRow[] = [];
    const extra = new Map<string, PerfRow>();
    let open = 0;
    const add = (section: number, slot: number, core: number, code: number, dt: number) => {
      open++;
      const k = `${section},${slot},${core},${code}`;
      let r = extra.get(k);
      if (!r) {
        r = { section, lpid: this.slotLpid[slot], vcpu: this.slotVcpu[slot], core, code, samples: 0, total: 0, min: dt, max: dt };
        extra.set(k, r);
      }
      r.samples++;
      r.total += dt;
      r.min = Math.min(r.min, dt);
      r.max = Math.max(r.max, dt);
    };
    for (let s = 0; s < this.slotLpid.length; s++) {
      if (this.exitStart[s] >= 0) add(SEC_EXITS, s, this.exitCore[s], this.exitTrap[s], end - this.exitStart[s]);
      if (this.hcSeq[s] >= 0) add(SEC_HCALLS, s, this.hcCore[s], this.hcNr[s] * 4 + PATH_UNFINISHED, end - this.hcTime[s]);
      if (this.pfSeq[s] >= 0) add(SEC_PAGE_FAULTS, s, this.pfCore[s], OUTCOME_UNFINISHED, end - this.pfTime[s]);
    }
    for (const [, [s, t, nr, core]] of this.hcOver) add(SEC_HCALLS, s, core, nr * 4 + PATH_UNFINISHED, end - t);
    for (const [, [s, t, , core]] of this.pfOver) add(SEC_PAGE_FAULTS, s, core, OUTCOME_UNFINISHED, end - t);
    this.sections.forEach((sec, section) => {
      for (let r = 0; r < sec.rows; r++) {
        const slot = sec.slot[r];
        const row: PerfRow = { section, lpid: this.slotLpid[slot], vcpu: this.slotVcpu[slot], core: sec.core[r], code: sec.code[r], samples: sec.samples[r], total: sec.total[r], min: sec.min[r], max: sec.max[r] };
        const k = `${section},${slot},${row.core},${row.code}`;
        const x = extra.get(k);
        if (x) {
          row.min = Math.min(row.min, x.min);
          row.max = Math.max(row.max, x.max);
          row.samples += x.samples;
          row.total += x.total;
          extra.delete(k);
        }
        rows.push(row);
      }
    });
    rows.push(...extra.values());
    return { rows, unpairedHcallExits: this.unpairedHc, unpairedPageFaultExits: this.unpairedPf, open, endTime: end };
  }

  save(): PerfSave | null {
    if (!this.enabled) return null;
    const exits: number[][] = [];
    const hcalls: number[][] = [];
    const pfs: number[][] = [];
    for (let s = 0; s < this.slotLpid.length; s++) {
      if (this.exitStart[s] >= 0) exits.push([s, this.exitStart[s], this.exitTrap[s], this.exitCore[s]]);
      if (this.hcSeq[s] >= 0) hcalls.push([this.hcSeq[s], s, this.hcTime[s], this.hcNr[s], this.hcCore[s]]);
      if (this.pfSeq[s] >= 0) pfs.push([this.pfSeq[s], s, this.pfTime[s], this.pfCore[s]]);
    }
    for (const [seq, [s, t, nr, core]] of this.hcOver) hcalls.push([seq, s, t, nr, core]);
    for (const [seq, [s, t, , core]] of this.pfOver) pfs.push([seq, s, t, core]);
    return {
      slots: this.slotLpid.map((l, s) => [l, this.slotVcpu[s]]),
      sections: this.sections.map((s) => s.save()),
      exits,
      hcalls,
      pfs,
      unpaired: [this.unpairedHc, this.unpairedPf],
      seen: this.seen,
    };
  }

  restore(v: unknown): void {
    this.reset();
    if (!this.enabled) return;
    if (v === null) {
      this.incomplete = true;
      return;
    }
    const s = v as PerfSave;
    for (const [l, vc] of s.slots) this.slot(l, vc);
    s.sections.forEach((rows, k) => this.sections[k].restore(rows));
    for (const [slot, t, trap, core] of s.exits) {
      this.exitStart[slot] = t;
      this.exitTrap[slot] = trap;
      this.exitCore[slot] = core;
    }
    for (const [seq, slot, t, nr, core] of s.hcalls) {
      if (this.hcSeq[slot] >= 0) this.hcOver.set(seq, [slot, t, nr, core]);
      else {
        this.hcSeq[slot] = seq;
        this.hcTime[slot] = t;
        this.hcNr[slot] = nr;
        this.hcCore[slot] = core;
      }
    }
    for (const [seq, slot, t, core] of s.pfs) {
      if (this.pfSeq[slot] >= 0) this.pfOver.set(seq, [slot, t, 0, core]);
      else {
        this.pfSeq[slot] = seq;
        this.pfTime[slot] = t;
        this.pfCore[slot] = core;
      }
    }
    [this.unpairedHc, this.unpairedPf] = s.unpaired;
    this.seen = s.seen;
  }

  tables(_out: [string, RowTable][]): void {}
}
