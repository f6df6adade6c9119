// Pure folds: machine state rebuilt from events alone. One StateFold instance per replay (two can
// live side by side, e.g. for diff). Dispatch is exhaustive over event kinds: adding a kind without
// a fold entry fails to compile.
//
// Covered so far: per-VM HPT (hardware v/r and guest view), revmap chain links, rmap words,
// memslots, notifier seq/count, per-core LPID. Hot path: typed arrays, no BigInt.

import type { EventBatch } from '../trace/batch.js';
import { E, type EventKind, KINDS } from '../trace/kinds.js';
import { foldDigest } from './digest.js';

export class VmState {
  readonly lpid: number;
  readonly npte: number;
  /** [v_hi, v_lo, r_hi, r_lo] per HPTE. */
  readonly hpt: Uint32Array;
  /** guest_rpte [hi, lo] per HPTE. */
  readonly guestR: Uint32Array;
  readonly forw: Int32Array;
  readonly back: Int32Array;
  /** gfn → rmap word [hi, lo]. */
  readonly rmap = new Map<number, [number, number]>();
  readonly memslots = new Map<number, { base_gfn: bigint; npages: number; userspace_addr: bigint }>();
  mmuSeq = 0;
  mmuCount = 0;

  constructor(lpid: number, hptOrder: number) {
    this.lpid = lpid;
    this.npte = 2 ** (hptOrder - 4);
    this.hpt = new Uint32Array(this.npte * 4);
    this.guestR = new Uint32Array(this.npte * 2);
    this.forw = new Int32Array(this.npte).fill(-1);
    this.back = new Int32Array(this.npte).fill(-1);
  }
}

type Fold = (s: StateFold, b: EventBatch, i: number) => void;

const nop: Fold = () => {};

const FOLDS: { readonly [K in EventKind]: Fold } = {
  run_start: nop,
  run_end: nop,
  hcall_enter: nop,
  hcall_exit: nop,
  hpte_write(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('hpte_write for an unknown VM', b, i);
    const idx = b.wordNum(i, 0);
    if (idx < 0 || idx >= vm.npte) return s.anomaly('hpte_write index out of range', b, i);
    const h = vm.hpt;
    h[idx * 4] = b.wordHi(i, 3);
    h[idx * 4 + 1] = b.wordLo(i, 3);
    h[idx * 4 + 2] = b.wordHi(i, 4);
    h[idx * 4 + 3] = b.wordLo(i, 4);
    vm.guestR[idx * 2] = b.wordHi(i, 5);
    vm.guestR[idx * 2 + 1] = b.wordLo(i, 5);
  },
  rmap_change(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('rmap_change for an unknown VM', b, i);
    const op = b.wordNum(i, 0);
    const gfn = b.wordNum(i, 1);
    const idx = b.wordNum(i, 2);
    vm.rmap.set(gfn, [b.wordHi(i, 3), b.wordLo(i, 3)]);
    if (idx < 0 || idx >= vm.npte) return;
    const f = b.wordNum(i, 4);
    const k = b.wordNum(i, 5);
    if (op === E.rmap_op.link) {
      // i now sits between back k and forw f in the ring.
      vm.forw[idx] = f;
      vm.back[idx] = k;
      if (k >= 0) vm.forw[k] = idx;
      if (f >= 0) vm.back[f] = idx;
    } else if (op === E.rmap_op.unlink) {
      const prev = vm.back[idx];
      const next = vm.forw[idx];
      if (prev >= 0 && prev !== idx) vm.forw[prev] = next;
      if (next >= 0 && next !== idx) vm.back[next] = prev;
      vm.forw[idx] = f;
      vm.back[idx] = k;
    }
  },
  tlbie: nop,
  fault_triage: nop,
  page_fault_enter: nop,
  page_fault_exit: nop,
  notifier(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return;
    vm.mmuSeq = b.wordNum(i, 6);
    vm.mmuCount = b.wordNum(i, 7);
  },
  host_page: nop,
  partition_switch(s, b, i) {
    if (b.core[i] >= 0) s.coreLpid.set(b.core[i], b.wordNum(i, 2));
  },
  guest_enter: nop,
  guest_exit: nop,
  mmio_exit: nop,
  memslot(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return;
    const slot = b.wordNum(i, 1);
    if (b.wordNum(i, 0) === E.memslot_op.create)
      vm.memslots.set(slot, { base_gfn: b.wordBig(i, 2), npages: b.wordNum(i, 3), userspace_addr: b.wordBig(i, 4) });
    else vm.memslots.delete(slot);
  },
  vm_create(s, b, i) {
    s.vms.set(b.lpid[i], new VmState(b.lpid[i], b.wordNum(i, 0)));
  },
  vcore_state: nop,
  vcpu_state: nop,
  slb_update: nop,
  checkpoint(s, b, i) {
    s.checkpoints++;
    if (!s.verify || s.divergence) return;
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('checkpoint for an unknown VM', b, i);
    const d = foldDigest(vm);
    const parts: [string, [number, number], number][] = [['hpt', d.hpt, 2], ['guest', d.guest, 3], ['rmap', d.rmap, 4]];
    const differ = parts.filter(([, v, j]) => v[0] !== b.wordHi(i, j) || v[1] !== b.wordLo(i, j)).map(([n]) => n);
    const allOk = d.all[0] === b.wordHi(i, 0) && d.all[1] === b.wordLo(i, 0);
    if (!allOk || differ.length) {
      s.divergence = { seq: b.firstSeq + i, ordinal: b.wordNum(i, 1), lastGoodSeq: s.lastGoodCheckpoint, components: differ.length ? differ : ['notifier seq/count'] };
    } else s.lastGoodCheckpoint = b.firstSeq + i;
  },
  anomaly: nop,
  guest_op: nop,
};

const FOLD_BY_CODE: (Fold | undefined)[] = (() => {
  const t: (Fold | undefined)[] = new Array(256).fill(undefined);
  for (const k of Object.keys(FOLDS) as EventKind[]) t[KINDS[k].code] = FOLDS[k];
  return t;
})();

export interface FoldAnomaly {
  seq: number;
  message: string;
}

export interface CheckpointDivergence {
  /** seq of the checkpoint whose digest disagrees with the folded state. */
  seq: number;
  ordinal: number;
  /** seq of the last checkpoint that agreed (-1 if none): the divergence lies in (lastGoodSeq, seq). */
  lastGoodSeq: number;
  components: string[];
}

export class StateFold {
  /** Check checkpoint digests while folding (costs a digest per checkpoint). */
  verify = false;
  checkpoints = 0;
  divergence: CheckpointDivergence | null = null;
  lastGoodCheckpoint = -1;
  readonly vms = new Map<number, VmState>();
  readonly coreLpid = new Map<number, number>();
  readonly anomalies: FoldAnomaly[] = [];
  /** seq of the last event folded (-1 before any). */
  lastSeq = -1;

  vm(lpid: number): VmState | undefined {
    return this.vms.get(lpid);
  }

  anomaly(message: string, b: EventBatch, i: number): void {
    if (this.anomalies.length < 100) this.anomalies.push({ seq: b.firstSeq + i, message });
  }

  /** Fold events [from, to) of the batch. */
  foldRange(b: EventBatch, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      FOLD_BY_CODE[b.kind[i]]!(this, b, i);
      this.lastSeq = b.firstSeq + i;
    }
  }

  /** Fold events of the batch with seq ≤ upTo. Returns false once upTo is passed. */
  foldBatch(b: EventBatch, upTo = Number.POSITIVE_INFINITY): boolean {
    const n = b.length;
    for (let i = 0; i < n; i++) {
      const seq = b.firstSeq + i;
      if (seq > upTo) return false;
      FOLD_BY_CODE[b.kind[i]]!(this, b, i);
      this.lastSeq = seq;
    }
    return true;
  }
}
