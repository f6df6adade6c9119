// Verification of a trace: fold it, checking every field that states what was there before
// (hpte_write old_v/old_r, ...: the handlers' before-value checks, anomalies 111..) and every
// checkpoint digest (verify), or compare it event by event with a re-execution of the emulator
// (reexec). Both report the first divergence; verify reports the earlier of the first
// before-value inconsistency and the first checkpoint divergence.

import { type TraceEvent, eventAt, eventToJson, hex } from '../trace/event.js';
import type { EventBatch } from '../trace/batch.js';
import type { TraceReader } from '../trace/reader.js';
import { hpteState, rmapState } from './seek.js';
import { type CheckpointDivergence, StateFold, type VmState } from './state.js';
import type { Inconsistency } from './handlers/anomalies.js';
import { F, fieldIndex } from '../trace/fields.js';
import { K } from '../trace/kinds.js';

/**
 * The first event whose before-value contradicts the fold, with the state around it: the event
 * that last set that state (`previous_seq`, -1 if nothing did since the vm_create at
 * `vm_create_seq`, so the state is the initial one) and that event's fields.
 */
export interface VerifyInconsistency extends Inconsistency {
  previous_seq: number;
  previous: Record<string, unknown> | null;
  vm_create_seq: number;
}

export interface VerifyResult {
  events: number;
  checkpoints: number;
  divergence: CheckpointDivergence | null;
  /** First before-value inconsistency (null if none). */
  inconsistency: VerifyInconsistency | null;
  /** Which of the two was found first in the trace ('none' if neither). */
  first: 'inconsistency' | 'divergence' | 'none';
}

export async function verifyTrace(reader: TraceReader, onProgress?: (events: number) => void): Promise<VerifyResult> {
  const fold = new StateFold();
  fold.verify = true;
  let n = 0;
  for await (const b of reader.batches()) {
    fold.foldBatch(b);
    n += b.length;
    onProgress?.(n);
    if (fold.divergence) break;
  }
  const d = fold.divergence;
  const inc = fold.anomalies.inconsistency;
  const first = inc && (!d || inc.seq < d.seq) ? 'inconsistency' : d ? 'divergence' : 'none';
  return { events: n, checkpoints: fold.checkpoints, divergence: d, inconsistency: inc && (await around(reader, inc)), first };
}

/** The state around an inconsistency: a second pass over events before it (only on failure). */
async function around(reader: TraceReader, inc: Inconsistency): Promise<VerifyInconsistency> {
  let prev: TraceEvent | null = null;
  let created = -1;
  for await (const b of reader.batches()) {
    const end = Math.min(b.length, inc.seq - b.firstSeq);
    for (let i = 0; i < end; i++) {
      const k = b.kind[i];
      const l = b.lpid[i];
      if (k === K.vm_create && l === inc.lpid) {
        created = b.firstSeq + i;
        // A new VM starts with a zeroed HPT and counters; a core's LPID outlives VMs.
        if (inc.kind !== 'partition_switch') prev = null;
      } else if (inc.kind === 'partition_switch') {
        if (k === K.partition_switch && b.core[i] === inc.index) prev = eventAt(b, i);
      } else if (l !== inc.lpid) continue;
      else if (inc.kind === 'hpte_write' || inc.kind === 'page_fault_enter') {
        if (k === K.hpte_write && b.num(i, F.hpte_write.hpte_index) === inc.index) prev = eventAt(b, i);
      } else if (inc.kind === 'notifier' && k === K.notifier) prev = eventAt(b, i);
    }
    if (end < b.length) break;
  }
  return { ...inc, previous_seq: prev ? prev.seq : -1, previous: prev && eventToJson(prev), vm_create_seq: created };
}

export interface EventDivergence {
  seq: number;
  recorded: Record<string, unknown> | null;
  reexecuted: Record<string, unknown> | null;
  /** State differences after folding both streams up to and including seq. */
  state: string[];
}

function sameEvent(a: EventBatch, i: number, b: EventBatch, j: number): boolean {
  if (a.kind[i] !== b.kind[j] || a.time[i] !== b.time[j] || a.lpid[i] !== b.lpid[j] || a.vcpu[i] !== b.vcpu[j]) return false;
  if (a.core[i] !== b.core[j] || a.cause[i] !== b.cause[j]) return false;
  const na = a.nwords(i);
  if (na !== b.nwords(j)) return false;
  // Every stored word, whatever the kind's field names: the generic walk fieldIndex is for.
  for (let k = 0; k < na; k++) {
    const f = fieldIndex(k);
    if (a.lo(i, f) !== b.lo(j, f) || a.hi(i, f) !== b.hi(j, f)) return false;
  }
  return true;
}

export interface CompareResult {
  /** Events that agreed (the seq of the first one that did not, or of the end). */
  events: number;
  divergence: EventDivergence | null;
  /**
   * The recorded trace is incomplete (no run_end: a recorder killed or a stream cut) and ends at
   * seq `endsAt` while the re-execution goes on; every recorded event agreed. Not a divergence.
   */
  truncated: { endsAt: number } | null;
}

/** Iterate two traces in lockstep, event by event, folding both; stop at the first difference. */
export async function compareTraces(recorded: TraceReader, reexec: TraceReader): Promise<CompareResult> {
  const fa = new StateFold();
  const fb = new StateFold();
  const ia = recorded.batches();
  const ib = reexec.batches();
  let ba: EventBatch | undefined;
  let bb: EventBatch | undefined;
  let pa = 0;
  let pb = 0;
  let seq = 0;
  for (;;) {
    if (!ba || pa >= ba.length) {
      const r = await ia.next();
      ba = r.done ? undefined : r.value;
      pa = 0;
    }
    if (!bb || pb >= bb.length) {
      const r = await ib.next();
      bb = r.done ? undefined : r.value;
      pb = 0;
    }
    if (!ba && !bb) return { events: seq, divergence: null, truncated: null };
    // The recorded stream is a prefix of the re-execution and was never closed: it was cut short.
    // (`complete` is known once the recorded stream has been read to its end, as it has here.)
    if (!ba && bb && recorded.complete !== true) return { events: seq, divergence: null, truncated: { endsAt: seq } };
    if (!ba || !bb || !sameEvent(ba, pa, bb, pb)) {
      const ea: TraceEvent | null = ba ? eventAt(ba, pa) : null;
      const eb: TraceEvent | null = bb ? eventAt(bb, pb) : null;
      if (ba) foldOne(fa, ba, pa);
      if (bb) foldOne(fb, bb, pb);
      return {
        events: seq,
        truncated: null,
        divergence: { seq, recorded: ea && eventToJson(ea), reexecuted: eb && eventToJson(eb), state: stateDiff(fa, fb) },
      };
    }
    foldOne(fa, ba, pa++);
    foldOne(fb, bb, pb++);
    seq++;
  }
}

function foldOne(f: StateFold, b: EventBatch, i: number): void {
  f.foldRange(b, i, i + 1);
}

/** Human-readable differences between two folded states (first 10). */
export function stateDiff(a: StateFold, b: StateFold): string[] {
  const out: string[] = [];
  const lpids = new Set([...a.vms.keys(), ...b.vms.keys()]);
  for (const l of lpids) {
    const va = a.vm(l);
    const vb = b.vm(l);
    if (!va || !vb) {
      out.push(`VM ${l} exists only in the ${va ? 'recorded' : 're-executed'} run`);
      continue;
    }
    diffVm(va, vb, out);
  }
  return out.slice(0, 10);
}

function diffVm(a: VmState, b: VmState, out: string[]): void {
  for (let i = 0; i < Math.min(a.npte, b.npte) && out.length < 10; i++) {
    const p = i * 4;
    if (a.hpt[p] !== b.hpt[p] || a.hpt[p + 1] !== b.hpt[p + 1] || a.hpt[p + 2] !== b.hpt[p + 2] || a.hpt[p + 3] !== b.hpt[p + 3] ||
      a.guestR[i * 2] !== b.guestR[i * 2] || a.guestR[i * 2 + 1] !== b.guestR[i * 2 + 1]) {
      const x = hpteState(a, i);
      const y = hpteState(b, i);
      out.push(`lpid ${a.lpid} HPTE ${i}: recorded v=${hex(x.v)} r=${hex(x.r)} guest_r=${hex(x.guest_r)}; re-executed v=${hex(y.v)} r=${hex(y.r)} guest_r=${hex(y.guest_r)}`);
    }
  }
  const gfns = new Set([...a.rmapEntries(), ...b.rmapEntries()].map(([g]) => g));
  for (const g of [...gfns].sort((x, y) => x - y)) {
    if (out.length >= 10) break;
    const x = rmapState(a, g);
    const y = rmapState(b, g);
    if (x.rmap !== y.rmap) out.push(`lpid ${a.lpid} rmap[gfn 0x${g.toString(16)}]: recorded ${hex(x.rmap)}; re-executed ${hex(y.rmap)}`);
  }
  if (a.mmuSeq !== b.mmuSeq || a.mmuCount !== b.mmuCount)
    out.push(`lpid ${a.lpid} notifier seq/count: recorded ${a.mmuSeq}/${a.mmuCount}; re-executed ${b.mmuSeq}/${b.mmuCount}`);
}

/** One paragraph naming the first before-value inconsistency, its values and the state around it. */
export function describeInconsistency(x: VerifyInconsistency): string {
  const what =
    x.kind === 'partition_switch' ? `core ${x.index}` : x.kind === 'notifier' ? `VM ${x.lpid}'s notifier counters` : `lpid ${x.lpid} HPTE ${x.index}`;
  const folded = x.kind === 'notifier' ? `the previous values advanced by this callback's rule give ${x.folded}` : `the folded state holds ${x.folded}`;
  let before: string;
  if (x.previous) {
    const p = x.previous;
    const fields = Object.entries(p)
      .filter(([k]) => !['seq', 'time', 'kind', 'lpid', 'vcpu', 'core', 'cause'].includes(k))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    before = `that state was last set by the ${String(p.kind)} at seq ${x.previous_seq} (${fields}), so either it or this event is wrong`;
  } else if (x.kind === 'partition_switch') before = `no partition_switch on core ${x.index} precedes it, so the core is still in the host (LPID 0)`;
  else
    before =
      x.vm_create_seq >= 0
        ? `nothing changed it since the vm_create at seq ${x.vm_create_seq}, so it holds its initial value (${x.kind === 'notifier' ? '0' : 'the HPT is zeroed'})`
        : 'no vm_create precedes it';
  return `inconsistency: event seq ${x.seq} (${x.kind}, ${what}) records ${x.field} = ${x.recorded}, but ${folded} (anomaly ${x.anomaly}); ${before}`;
}
