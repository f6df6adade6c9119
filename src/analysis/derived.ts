// Derived tables of a trace, for the canned queries (`hvtrace faults`, `hvtrace history`): built once
// per trace in one streaming pass over its batches, written to a SQLite cache beside the trace
// (`<trace>.hvd`, derived-cache.ts), then answered by index lookups.
//
// The events table is indexed by (kind, w0), (kind, w1) and cause only, so "every event that touched
// gfn G" or "the life of HPTE slot I" is a scan of the trace. The pass below attributes every event
// to the things it touches and writes one row per (thing, event):
//
//   touch(space, lpid, key, seq, what, other, op)   WITHOUT ROWID, PRIMARY KEY (space, lpid, key, seq)
//     space 1 = HPTE slot (key = hpte_index; HPTE indexes are per VM, hence lpid), 2 = guest frame
//     (key = gfn). `what` says what the event did to it (WHAT below, decided here, where the
//     event's cause is at hand), `other` is the gfn of a slot row or the slot of a gfn row (-1), `op`
//     the guest operation the event serves (the replay op index rule, replay/handlers/ops.ts).
//   fault_chain(seq, ...)   one row per fault_triage: the decision, the virtual-mode page fault it
//     led to (page_fault_enter/exit, host work), the HPTE it ended in and its words at the resume,
//     the resuming guest_enter and the latency (see FAULT LATENCY below).
//
// Attribution rules:
//   hpte_write       its slot; the gfn its guest view maps (hpte_rpn of guest_r, or the slot's last
//                    gfn for a write that empties it), both old and new gfn when a write remaps.
//   rmap_change      its slot (link/unlink) and its gfn.
//   fault_triage, page_fault_enter/exit   their slot (hpte_index ≥ 0) and gfn (≥ 0).
//   tlbie            (one entry: scope global/local) the slot whose write it completes: the latest
//                    hpte_write of the same lpid and cause whose compute_tlbie_rb equals the tlbie's
//                    RB (else the latest one of that cause), and that write's gfn. Set flushes
//                    (lpid_sets, all_sets) belong to no slot.
//   notifier         every gfn its hva range covers through the VM's memslots.
//   host_page        every gfn whose memslot hva lies in [hva, hva + 2^page_shift) (any VM).
//   hcall_exit       H_READ, H_CLEAR_REF, H_CLEAR_MOD always, H_REMOVE / H_PROTECT when they failed
//                    (no write shows them): the slot in r5 of its hcall_enter, and that slot's gfn.
//   mmio_exit        the gfn of its gpa.
//
// FAULT LATENCY (ticks of the trace's timebase; the timing model, src/arch/timing.ts):
//   trap time   HDSI/HISI: fault_triage.time − hdsiTriage (the real-mode triage is charged before
//               its event, so this is the instant the hardware raised the interrupt); DSI/ISI
//               delivered straight to the guest (decision 'guest', no hypervisor): fault_triage.time.
//   resume      reflect / retry: real mode returns to the guest at the triage itself (resume seq =
//               the fault's seq); virtual / mmio: the guest_enter of the same vcpu whose entry
//               partition_switch names the fault's guest_exit as its cause; none if KVM_RUN failed.
//   latency     resume time − trap time, i.e. the sum of the table entries of the path taken:
//               hdsiTriage (reflect, retry); hdsiTriage + guestExit + pageFault + gupFast
//               (+ hostFault for a fresh host page, + swapIn for a swapped-out one, + tlbie for an
//               upgrade) + guestEntry (virtual); + vmmExit for MMIO; 0 for 'guest'.
//
// Deterministic: the same trace gives the same rows in the same order (the file is byte-identical).

import type Database from 'better-sqlite3';
import {
  compute_tlbie_rb,
  H_BULK_REMOVE,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_ENTER,
  H_PROTECT,
  H_READ,
  H_REMOVE,
  HPTE_R_C_LO,
  HPTE_R_R_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_VALID_LO,
  HPTE_V_VRMA_MASK_HI,
  HPTE_V_VRMA_MASK_LO,
  hpte_page_size,
  hpte_rpn,
} from '../arch/index.js';
import { nsToTicks, PATH_COSTS, timebaseHzFor } from '../arch/timing.js';
import { AnomalyHandler } from '../replay/handlers/anomalies.js';
import { OpIndexHandler } from '../replay/handlers/ops.js';
import { type EventBatch, wordToSqlite } from '../trace/batch.js';
import { F } from '../trace/fields.js';
import { E, K } from '../trace/kinds.js';
import type { RunInfo } from '../trace/run-info.js';

/** Bumped when the tables or their rules change (a cache of another version is rebuilt). */
export const DERIVED_VERSION = 1;

export const SPACE = { slot: 1, gfn: 2 } as const;

/** What an event did to the slot / gfn it touched (touch.what); the index is the stored code. */
export const WHAT = [
  'other',
  'h_enter', // hpte_write by H_ENTER (VALID)
  'h_enter_absent', // hpte_write by H_ENTER of an entry with no host page: ABSENT
  'h_remove',
  'h_bulk_remove',
  'h_protect',
  'h_clear_ref',
  'h_clear_mod',
  'hcall_write', // hpte_write by another hcall
  'notifier_invalidate', // VALID → ABSENT by an MMU notifier (kvm_unmap_rmapp)
  'notifier_age', // R cleared by a notifier (kvm_age_rmapp)
  'notifier_write',
  'fault_install', // the virtual-mode page fault made an ABSENT / invalid entry VALID (re-instantiation)
  'fault_write', // another page-fault write (upgrade, change)
  'hw_rc', // the hardware set R and/or C
  'vrma', // a VRMA entry written by kvmppc_hv_setup_rma (B = 1T, VSID = VRMA_VSID)
  'hpte_write', // any other write
  'rmap_link',
  'rmap_unlink',
  'rmap_update',
  'tlbie',
  'fault', // fault_triage
  'page_fault', // page_fault_enter
  'page_fault_exit',
  'hcall', // hcall_exit of an HPTE hcall (H_READ, H_CLEAR_REF/MOD, a failed H_REMOVE/H_PROTECT)
  'notifier', // a notifier callback whose range covers the gfn
  'host_page', // host page event on the gfn's hva
  'mmio',
] as const;
export type What = (typeof WHAT)[number];
const W = Object.fromEntries(WHAT.map((n, i) => [n, i])) as { readonly [P in What]: number };

/** fault_chain.host: the host work inside the fault's page fault. */
export const FAULT_HOST = ['', 'fault_in', 'swap_in'] as const;

export const DERIVED_SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE whats (code INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;
CREATE TABLE vms (lpid INTEGER PRIMARY KEY) STRICT;
CREATE TABLE touch (
  space INTEGER NOT NULL, lpid INTEGER NOT NULL, key INTEGER NOT NULL, seq INTEGER NOT NULL,
  what INTEGER NOT NULL, other INTEGER NOT NULL, op INTEGER NOT NULL,
  PRIMARY KEY (space, lpid, key, seq)
) WITHOUT ROWID, STRICT;
CREATE TABLE fault_chain (
  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, lpid INTEGER NOT NULL, vcpu INTEGER NOT NULL,
  interrupt INTEGER NOT NULL, access INTEGER NOT NULL, ea INTEGER NOT NULL, ea_page INTEGER NOT NULL,
  status INTEGER NOT NULL, gfn INTEGER NOT NULL, decision INTEGER NOT NULL, triage_hpte INTEGER NOT NULL,
  exit_seq INTEGER, pf_seq INTEGER, pf_exit_seq INTEGER, outcome INTEGER, pf_ret INTEGER,
  host INTEGER NOT NULL, mmio_seq INTEGER,
  hpte_index INTEGER NOT NULL, hpte_v INTEGER, hpte_r INTEGER,
  resume_seq INTEGER, trap_time INTEGER NOT NULL, resume_time INTEGER, latency INTEGER, op INTEGER NOT NULL
) STRICT;
`;

/** Indexes built after the load. */
export const DERIVED_INDEXES = `
CREATE INDEX fault_gfn ON fault_chain (gfn, seq);
CREATE INDEX fault_ea ON fault_chain (ea_page, seq);
`;

/** Facts about the trace the queries need, kept in the cache's meta table. */
export interface DerivedMeta {
  version: number;
  events: number;
  pageShift: number;
  timebaseHz: number | null;
  hdsiTicks: number;
  touchRows: number;
  faults: number;
}

/** The VM page size shift of a run (kvm->arch page size = the host PAGE_SHIFT): from its config, else 4K. */
export function pageShiftOf(info: RunInfo): number {
  const c = info.config as { scenario?: { machine?: { host_page_shift?: number } } } | null;
  const s = c?.scenario?.machine?.host_page_shift;
  return s === 16 ? 16 : 12;
}

/** The trace's timebase: meta timebase_hz, else the profile's. */
export function timebaseOf(info: RunInfo): number | null {
  return info.timebaseHz ?? timebaseHzFor(info.profile) ?? null;
}

interface Memslot {
  lpid: number;
  slot: number;
  baseGfn: number;
  npages: number;
  ua: number;
}

/** Per-VM HPT words (as the trace says they are) and the gfn each slot maps. */
class VmHpt {
  words: Uint32Array;
  gfn: Int32Array;
  constructor(n: number) {
    this.words = new Uint32Array(n * 4);
    this.gfn = new Int32Array(n).fill(-1);
  }
  ensure(i: number): void {
    if (i < this.gfn.length) return;
    let n = this.gfn.length;
    while (n <= i) n *= 2;
    const w = new Uint32Array(n * 4);
    w.set(this.words);
    const g = new Int32Array(n).fill(-1);
    g.set(this.gfn);
    this.words = w;
    this.gfn = g;
  }
}

/** A fault being followed from its triage to its resume. */
interface OpenFault {
  seq: number;
  time: number;
  lpid: number;
  vcpu: number;
  interrupt: number;
  access: number;
  ea: number | bigint;
  eaPage: number;
  status: number | bigint;
  gfn: number;
  decision: number;
  triageHpte: number;
  exitSeq: number | null;
  pfSeq: number | null;
  pfExitSeq: number | null;
  outcome: number | null;
  pfRet: number | null;
  host: number;
  mmioSeq: number | null;
  hpteIndex: number;
  entrySwitch: number | null;
  trapTime: number;
  op: number;
}

const RING = 1 << 16;
const RMASK = RING - 1;
const INV = 64;

export interface BuildSink {
  touch(space: number, lpid: number, key: number, seq: number, what: number, other: number, op: number): void;
  fault(row: (number | bigint | null)[]): void;
}

/**
 * The streaming pass: feed it every batch in order (`batch`), then `finish`. Rows go to `sink`
 * as they are decided (touch rows in event order, fault rows when the fault is resolved).
 */
export class DerivedBuilder {
  private readonly ops = new OpIndexHandler(new AnomalyHandler(), true);
  private readonly ringSeq = new Float64Array(RING).fill(-1);
  private readonly ringKind = new Uint8Array(RING);
  private readonly ringNr = new Int32Array(RING);
  private readonly ringR5 = new Float64Array(RING);
  private readonly vms = new Map<number, VmHpt>();
  private memslots: Memslot[] = [];
  // Recent hpte_writes, for tlbie attribution (a ring of INV).
  private readonly invSeq = new Float64Array(INV).fill(-1);
  private readonly invCause = new Float64Array(INV);
  private readonly invLpid = new Int32Array(INV);
  private readonly invIndex = new Int32Array(INV);
  private readonly invGfn = new Int32Array(INV);
  private readonly invRb = new Uint32Array(INV * 6);
  private invN = 0;
  private readonly rb = new Uint32Array(2);
  private readonly pending = new Map<number, OpenFault>();
  /** The fault whose page fault is open (between page_fault_enter and exit), for host work. */
  private openPf: OpenFault | null = null;
  readonly lpids = new Set<number>();
  touchRows = 0;
  faults = 0;
  events = 0;
  readonly hdsiTicks: number;

  constructor(
    private readonly sink: BuildSink,
    readonly pageShift: number,
    readonly timebaseHz: number | null,
    readonly arch206: boolean,
  ) {
    this.hdsiTicks = timebaseHz ? nsToTicks(PATH_COSTS.hdsiTriage.ns, timebaseHz) : 0;
  }

  private vm(lpid: number): VmHpt {
    let v = this.vms.get(lpid);
    if (!v) {
      v = new VmHpt(1 << 14);
      this.vms.set(lpid, v);
      this.lpids.add(lpid);
    }
    return v;
  }

  private touch(space: number, lpid: number, key: number, seq: number, what: number, other: number, op: number): void {
    this.sink.touch(space, lpid, key, seq, what, other, op);
    this.touchRows++;
  }

  /** Touch slot i of lpid and the gfn it maps (g ≥ 0). */
  private slotAndGfn(lpid: number, i: number, g: number, seq: number, what: number, op: number): void {
    if (i >= 0) this.touch(SPACE.slot, lpid, i, seq, what, g, op);
    if (g >= 0) this.touch(SPACE.gfn, lpid, g, seq, what, i, op);
  }

  /** Every gfn of lpid's memslots (any VM when lpid < 0) whose hva is in [start, end). */
  private gfnsOfHva(lpid: number, start: number, end: number, fn: (lpid: number, gfn: number) => void): void {
    const ps = 2 ** this.pageShift;
    for (const s of this.memslots) {
      if (lpid >= 0 && s.lpid !== lpid) continue;
      const sEnd = s.ua + s.npages * ps;
      const a = Math.max(start, s.ua);
      const b = Math.min(end, sEnd);
      if (a >= b) continue;
      const g0 = s.baseGfn + Math.floor((a - s.ua) / ps);
      const g1 = s.baseGfn + Math.ceil((b - s.ua) / ps);
      for (let g = g0; g < g1; g++) fn(s.lpid, g);
    }
  }

  /** The gfn a (v, guest_r) pair maps, or -1 for an empty entry. */
  private gfnOf(vLo: number, grHi: number, grLo: number): number {
    if ((vLo & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) === 0) return -1;
    const psize = hpte_page_size(vLo, grLo, this.arch206);
    if (psize === 0) return -1;
    return hpte_rpn(grHi, grLo, psize, this.pageShift);
  }

  private causeKind(c: number): number {
    return c >= 0 && this.ringSeq[c & RMASK] === c ? this.ringKind[c & RMASK] : 0;
  }

  private finishFault(f: OpenFault, resumeSeq: number | null, resumeTime: number | null): void {
    const vm = this.vm(f.lpid);
    const i = f.hpteIndex;
    let v: number | bigint | null = null;
    let r: number | bigint | null = null;
    if (i >= 0) {
      vm.ensure(i);
      const w = vm.words;
      v = wordToSqlite(w[i * 4], w[i * 4 + 1]);
      r = wordToSqlite(w[i * 4 + 2], w[i * 4 + 3]);
    }
    this.sink.fault([
      f.seq, f.time, f.lpid, f.vcpu, f.interrupt, f.access, f.ea, f.eaPage, f.status, f.gfn, f.decision, f.triageHpte,
      f.exitSeq, f.pfSeq, f.pfExitSeq, f.outcome, f.pfRet, f.host, f.mmioSeq, i, v, r,
      resumeSeq, f.trapTime, resumeTime, resumeTime === null ? null : resumeTime - f.trapTime, f.op,
    ]);
    this.faults++;
    if (this.openPf === f) this.openPf = null;
  }

  batch(b: EventBatch): void {
    b.toDense();
    const n = b.length;
    this.ops.seeRange(b, 0, n);
    for (let i = 0; i < n; i++) this.event(b, i);
    this.events = b.firstSeq + n;
  }

  private event(b: EventBatch, i: number): void {
    const seq = b.firstSeq + i;
    const kind = b.kind[i];
    const lpid = b.lpid[i];
    const vcpu = b.vcpu[i];
    const cause = b.cause[i];
    const slot = seq & RMASK;
    this.ringSeq[slot] = seq;
    this.ringKind[slot] = kind;
    switch (kind) {
      case K.hcall_enter:
        this.ringNr[slot] = b.num(i, F.hcall_enter.nr);
        this.ringR5[slot] = b.num(i, F.hcall_enter.r5);
        return;
      case K.vm_create:
        if (!this.vms.has(lpid)) {
          const order = b.num(i, F.vm_create.hpt_order);
          this.vms.set(lpid, new VmHpt(order >= 4 && order <= 40 ? 2 ** Math.min(order - 4, 22) : 1 << 14));
          this.lpids.add(lpid);
        }
        return;
      case K.memslot: {
        const s = b.num(i, F.memslot.slot);
        this.memslots = this.memslots.filter((m) => !(m.lpid === lpid && m.slot === s));
        if (b.num(i, F.memslot.op) === E.memslot_op.create) {
          this.memslots.push({ lpid, slot: s, baseGfn: b.num(i, F.memslot.base_gfn), npages: b.num(i, F.memslot.npages), ua: b.num(i, F.memslot.userspace_addr) });
        }
        return;
      }
      case K.hpte_write:
        return this.hpteWrite(b, i, seq, lpid, cause);
      case K.rmap_change: {
        const op = b.num(i, F.rmap_change.op);
        const what = op === E.rmap_op.link ? W.rmap_link : op === E.rmap_op.unlink ? W.rmap_unlink : W.rmap_update;
        this.slotAndGfn(lpid, b.num(i, F.rmap_change.hpte_index), b.num(i, F.rmap_change.gfn), seq, what, this.ops.opOf(seq));
        return;
      }
      case K.tlbie:
        return this.tlbie(b, i, seq, lpid, cause);
      case K.fault_triage:
        return this.faultTriage(b, i, seq, lpid, vcpu);
      case K.guest_exit: {
        const f = this.pending.get(key(lpid, vcpu));
        if (f && f.exitSeq === null) f.exitSeq = seq;
        return;
      }
      case K.page_fault_enter: {
        const hi = b.num(i, F.page_fault_enter.hpte_index);
        const g = b.num(i, F.page_fault_enter.gfn);
        const f = this.pending.get(key(lpid, vcpu));
        if (f && f.exitSeq !== null && cause === f.exitSeq && f.pfSeq === null) {
          f.pfSeq = seq;
          if (f.gfn < 0) f.gfn = g;
          if (hi >= 0) f.hpteIndex = hi;
          this.openPf = f;
        }
        this.slotAndGfn(lpid, hi, g, seq, W.page_fault, this.ops.opOf(seq));
        return;
      }
      case K.page_fault_exit: {
        const hi = b.num(i, F.page_fault_exit.hpte_index);
        const g = b.num(i, F.page_fault_exit.gfn);
        const f = this.pending.get(key(lpid, vcpu));
        if (f && f.pfSeq !== null && cause === f.pfSeq) {
          f.pfExitSeq = seq;
          f.outcome = b.num(i, F.page_fault_exit.outcome);
          f.pfRet = b.num(i, F.page_fault_exit.ret);
          if (hi >= 0) f.hpteIndex = hi;
          if (f.gfn < 0) f.gfn = g;
          if (this.openPf === f) this.openPf = null;
        }
        this.slotAndGfn(lpid, hi, g, seq, W.page_fault_exit, this.ops.opOf(seq));
        return;
      }
      case K.mmio_exit: {
        const f = this.pending.get(key(lpid, vcpu));
        if (f && f.exitSeq !== null) f.mmioSeq = seq;
        const gpa = b.num(i, F.mmio_exit.gpa);
        this.touch(SPACE.gfn, lpid, Math.floor(gpa / 2 ** this.pageShift), seq, W.mmio, -1, this.ops.opOf(seq));
        return;
      }
      case K.partition_switch: {
        if (b.num(i, F.partition_switch.direction) !== E.switch_direction.entry || cause < 0) return;
        for (const f of this.pending.values()) if (f.exitSeq === cause && f.entrySwitch === null) f.entrySwitch = seq;
        return;
      }
      case K.guest_enter: {
        const k = key(lpid, vcpu);
        const f = this.pending.get(k);
        if (f && f.entrySwitch !== null && cause === f.entrySwitch) {
          this.pending.delete(k);
          this.finishFault(f, seq, b.time[i]);
        }
        return;
      }
      case K.notifier: {
        const op = this.ops.opOf(seq);
        this.gfnsOfHva(lpid, b.num(i, F.notifier.hva_start), b.num(i, F.notifier.hva_end), (l, g) => this.touch(SPACE.gfn, l, g, seq, W.notifier, -1, op));
        return;
      }
      case K.host_page: {
        const hva = b.num(i, F.host_page.hva);
        const hop = b.num(i, F.host_page.op);
        const pf = this.openPf;
        if (pf !== null) {
          if (hop === E.host_page_op.swap_in) pf.host = 2;
          else if (hop === E.host_page_op.map && pf.host === 0) pf.host = 1;
        }
        if (hva === 0 || b.num(i, F.host_page.owner) !== 0) return;
        const ps = b.num(i, F.host_page.page_shift) || this.pageShift;
        const op = this.ops.opOf(seq);
        const start = hva - (hva % 2 ** ps);
        this.gfnsOfHva(-1, start, start + 2 ** ps, (l, g) => this.touch(SPACE.gfn, l, g, seq, W.host_page, -1, op));
        return;
      }
      case K.hcall_exit: {
        const nr = b.num(i, F.hcall_exit.nr);
        const ret = b.num(i, F.hcall_exit.ret);
        const always = nr === H_READ || nr === H_CLEAR_REF || nr === H_CLEAR_MOD;
        const failed = (nr === H_REMOVE || nr === H_PROTECT) && ret !== 0;
        if (!always && !failed) return;
        if (cause < 0 || this.ringSeq[cause & RMASK] !== cause) return;
        const idx = this.ringR5[cause & RMASK];
        if (!(idx >= 0 && idx < 2 ** 31)) return;
        const vm = this.vm(lpid);
        vm.ensure(idx);
        this.slotAndGfn(lpid, idx, vm.gfn[idx], seq, W.hcall, this.ops.opOf(seq));
        return;
      }
      default:
        return;
    }
  }

  private hpteWrite(b: EventBatch, i: number, seq: number, lpid: number, cause: number): void {
    const idx = b.num(i, F.hpte_write.hpte_index);
    if (idx < 0) return;
    const vm = this.vm(lpid);
    vm.ensure(idx);
    const ovHi = b.hi(i, F.hpte_write.old_v);
    const ovLo = b.lo(i, F.hpte_write.old_v);
    const orLo = b.lo(i, F.hpte_write.old_r);
    const orHi = b.hi(i, F.hpte_write.old_r);
    const nvHi = b.hi(i, F.hpte_write.new_v);
    const nvLo = b.lo(i, F.hpte_write.new_v);
    const nrHi = b.hi(i, F.hpte_write.new_r);
    const nrLo = b.lo(i, F.hpte_write.new_r);
    const w = vm.words;
    w[idx * 4] = nvHi;
    w[idx * 4 + 1] = nvLo;
    w[idx * 4 + 2] = nrHi;
    w[idx * 4 + 3] = nrLo;
    const oldGfn = vm.gfn[idx];
    const ng = this.gfnOf(nvLo, b.hi(i, F.hpte_write.guest_r), b.lo(i, F.hpte_write.guest_r));
    if (ng >= 0) vm.gfn[idx] = ng;
    const g = ng >= 0 ? ng : oldGfn;
    // What did it: the cause's kind (and hcall), else the words.
    const ck = this.causeKind(cause);
    const oldValid = (ovLo & HPTE_V_VALID_LO) !== 0;
    const newValid = (nvLo & HPTE_V_VALID_LO) !== 0;
    const newAbsent = (nvLo & HPTE_V_ABSENT_LO) !== 0;
    const onlyRc = ovHi === nvHi && ovLo === nvLo && orHi === nrHi && ((orLo ^ nrLo) & ~(HPTE_R_R_LO | HPTE_R_C_LO)) === 0;
    let what: number;
    if (ck === K.hcall_enter) {
      const nr = this.ringNr[cause & RMASK];
      what =
        nr === H_ENTER ? (newValid ? W.h_enter : newAbsent ? W.h_enter_absent : W.h_enter)
        : nr === H_REMOVE ? W.h_remove
        : nr === H_BULK_REMOVE ? W.h_bulk_remove
        : nr === H_PROTECT ? W.h_protect
        : nr === H_CLEAR_REF ? W.h_clear_ref
        : nr === H_CLEAR_MOD ? W.h_clear_mod
        : W.hcall_write;
    } else if (ck === K.notifier) {
      what = oldValid && !newValid && newAbsent ? W.notifier_invalidate : onlyRc ? W.notifier_age : W.notifier_write;
    } else if (ck === K.page_fault_enter) {
      what = !oldValid && newValid ? W.fault_install : W.fault_write;
    } else if (onlyRc && ((nrLo & ~orLo) & (HPTE_R_R_LO | HPTE_R_C_LO)) !== 0) {
      what = W.hw_rc;
    } else if (cause < 0 && nvHi === HPTE_V_VRMA_MASK_HI && (nvLo & HPTE_V_VRMA_MASK_LO) >>> 0 === HPTE_V_VRMA_MASK_LO) {
      what = W.vrma;
    } else what = W.hpte_write;
    // Remember it for the tlbie that may complete it.
    const k = this.invN++ % INV;
    this.invSeq[k] = seq;
    this.invCause[k] = cause;
    this.invLpid[k] = lpid;
    this.invIndex[k] = idx;
    this.invGfn[k] = g;
    const rb = this.rb;
    compute_tlbie_rb(ovHi, ovLo, orLo, idx, this.arch206, rb, 0);
    this.invRb[k * 6] = rb[0];
    this.invRb[k * 6 + 1] = rb[1];
    compute_tlbie_rb(nvHi, nvLo, orLo, idx, this.arch206, rb, 0);
    this.invRb[k * 6 + 2] = rb[0];
    this.invRb[k * 6 + 3] = rb[1];
    compute_tlbie_rb(nvHi, nvLo, nrLo, idx, this.arch206, rb, 0);
    this.invRb[k * 6 + 4] = rb[0];
    this.invRb[k * 6 + 5] = rb[1];
    const op = this.ops.opOf(seq);
    this.touch(SPACE.slot, lpid, idx, seq, what, g, op);
    if (g >= 0) this.touch(SPACE.gfn, lpid, g, seq, what, idx, op);
    if (oldGfn >= 0 && oldGfn !== g) this.touch(SPACE.gfn, lpid, oldGfn, seq, what, idx, op);
  }

  private tlbie(b: EventBatch, i: number, seq: number, lpid: number, cause: number): void {
    const scope = b.num(i, F.tlbie.scope);
    if ((scope !== E.tlb_scope.global && scope !== E.tlb_scope.local) || b.num(i, F.tlbie.sets) !== 0 || cause < 0) return;
    const hi = b.hi(i, F.tlbie.rb);
    const lo = b.lo(i, F.tlbie.rb);
    let best = -1;
    let latest = -1;
    for (let d = 1; d <= Math.min(this.invN, INV); d++) {
      const k = (this.invN - d) % INV;
      if (this.invCause[k] !== cause || this.invLpid[k] !== lpid || this.invSeq[k] > seq) continue;
      if (latest < 0) latest = k;
      const r = this.invRb;
      if ((r[k * 6] === hi && r[k * 6 + 1] === lo) || (r[k * 6 + 2] === hi && r[k * 6 + 3] === lo) || (r[k * 6 + 4] === hi && r[k * 6 + 5] === lo)) {
        best = k;
        break;
      }
    }
    const k = best >= 0 ? best : latest;
    if (k < 0) return;
    this.slotAndGfn(lpid, this.invIndex[k], this.invGfn[k], seq, W.tlbie, this.ops.opOf(seq));
  }

  private faultTriage(b: EventBatch, i: number, seq: number, lpid: number, vcpu: number): void {
    const k = key(lpid, vcpu);
    const prev = this.pending.get(k);
    if (prev) {
      // A new fault on the vcpu before the last one resumed: that one never re-entered (KVM_RUN failed).
      this.pending.delete(k);
      this.finishFault(prev, null, null);
    }
    const time = b.time[i];
    const interrupt = b.num(i, F.fault_triage.interrupt);
    const decision = b.num(i, F.fault_triage.decision);
    const hpte = b.num(i, F.fault_triage.hpte_index);
    const g = b.num(i, F.fault_triage.gfn);
    const eaHi = b.hi(i, F.fault_triage.ea);
    const eaLo = b.lo(i, F.fault_triage.ea);
    const hv = interrupt === E.fault_kind.hdsi || interrupt === E.fault_kind.hisi;
    const op = this.ops.opOf(seq);
    const f: OpenFault = {
      seq,
      time,
      lpid,
      vcpu,
      interrupt,
      access: b.num(i, F.fault_triage.access),
      ea: wordToSqlite(eaHi, eaLo),
      eaPage: eaHi * 2 ** 20 + Math.floor(eaLo / 4096),
      status: wordToSqlite(b.hi(i, F.fault_triage.status), b.lo(i, F.fault_triage.status)),
      gfn: g,
      decision,
      triageHpte: hpte,
      exitSeq: null,
      pfSeq: null,
      pfExitSeq: null,
      outcome: null,
      pfRet: null,
      host: 0,
      mmioSeq: null,
      hpteIndex: hpte,
      entrySwitch: null,
      trapTime: hv ? time - this.hdsiTicks : time,
      op,
    };
    let g2 = g;
    if (g2 < 0 && hpte >= 0) {
      const vm = this.vm(lpid);
      vm.ensure(hpte);
      g2 = vm.gfn[hpte];
      if (f.gfn < 0) f.gfn = g2;
    }
    this.slotAndGfn(lpid, hpte, g2, seq, W.fault, op);
    if (decision === E.fault_decision.virtual || decision === E.fault_decision.mmio) this.pending.set(k, f);
    else this.finishFault(f, seq, time);
  }

  /** After the last batch: faults still open never resumed (a truncated trace, a failed KVM_RUN). */
  finish(): void {
    const open = [...this.pending.values()].sort((a, b) => a.seq - b.seq);
    this.pending.clear();
    for (const f of open) this.finishFault(f, null, null);
  }
}

const key = (lpid: number, vcpu: number) => lpid * 65536 + (vcpu & 0xffff);

/**
 * Write the derived tables of a trace into `db` (a fresh, empty database): the schema, one
 * streaming pass over `batches`, the sorted touch table, the indexes and meta.
 */
export async function buildDerived(
  db: Database.Database,
  batches: AsyncIterable<EventBatch>,
  info: RunInfo,
  meta: Record<string, string>,
  onProgress?: (events: number) => void,
): Promise<DerivedMeta> {
  db.exec(DERIVED_SCHEMA);
  db.exec('CREATE TEMP TABLE stage (space INTEGER, lpid INTEGER, key INTEGER, seq INTEGER, what INTEGER, other INTEGER, op INTEGER)');
  const ins = db.prepare('INSERT INTO temp.stage VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insFault = db.prepare(`INSERT INTO fault_chain VALUES (${Array.from({ length: 27 }, () => '?').join(', ')})`);
  const pageShift = pageShiftOf(info);
  const tb = timebaseOf(info);
  const builder = new DerivedBuilder(
    {
      touch: (space, lpid, k, seq, what, other, op) => void ins.run(space, lpid, k, seq, what, other, op),
      fault: (row) => void insFault.run(...row),
    },
    pageShift,
    tb,
    info.profile !== 'ppc970',
  );
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  for await (const b of batches) {
    begin.run();
    builder.batch(b);
    commit.run();
    onProgress?.(builder.events);
  }
  begin.run();
  builder.finish();
  db.exec('INSERT OR IGNORE INTO touch SELECT * FROM temp.stage ORDER BY space, lpid, key, seq');
  db.exec('DROP TABLE temp.stage');
  db.exec(DERIVED_INDEXES);
  const insWhat = db.prepare('INSERT INTO whats VALUES (?, ?)');
  WHAT.forEach((n, i) => insWhat.run(i, n));
  const insVm = db.prepare('INSERT INTO vms VALUES (?)');
  for (const l of [...builder.lpids].sort((a, b) => a - b)) insVm.run(l);
  const m: DerivedMeta = {
    version: DERIVED_VERSION,
    events: builder.events,
    pageShift,
    timebaseHz: tb,
    hdsiTicks: builder.hdsiTicks,
    touchRows: (db.prepare('SELECT count(*) AS n FROM touch').get() as { n: number }).n,
    faults: builder.faults,
  };
  const insMeta = db.prepare('INSERT INTO meta VALUES (?, ?)');
  for (const [k, v] of Object.entries({ ...meta, derived: JSON.stringify(m) })) insMeta.run(k, v);
  commit.run();
  return m;
}
