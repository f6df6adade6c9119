// Verification of a trace: fold it and check every checkpoint digest (verify), or compare it event
// by event with a re-execution of the emulator (reexec). Both report the first divergence.

import { type TraceEvent, eventAt, eventToJson, hex } from '../trace/event.js';
import type { EventBatch } from '../trace/batch.js';
import type { TraceReader } from '../trace/reader.js';
import { hpteState, rmapState } from './seek.js';
import { type CheckpointDivergence, StateFold, type VmState } from './state.js';
import { fieldIndex } from '../trace/fields.js';

export interface VerifyResult {
  events: number;
  checkpoints: number;
  divergence: CheckpointDivergence | null;
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
  return { events: n, checkpoints: fold.checkpoints, divergence: fold.divergence };
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

/** Iterate two traces in lockstep, event by event, folding both; stop at the first difference. */
export async function compareTraces(recorded: TraceReader, reexec: TraceReader): Promise<{ events: number; divergence: EventDivergence | null }> {
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
    if (!ba && !bb) return { events: seq, divergence: null };
    if (!ba || !bb || !sameEvent(ba, pa, bb, pb)) {
      const ea: TraceEvent | null = ba ? eventAt(ba, pa) : null;
      const eb: TraceEvent | null = bb ? eventAt(bb, pb) : null;
      if (ba) foldOne(fa, ba, pa);
      if (bb) foldOne(fb, bb, pb);
      return {
        events: seq,
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
