// Pure folds: the machine state rebuilt from events alone. One StateFold instance per replay (two
// can live side by side, e.g. for diff). Dispatch is exhaustive over event kinds: adding a kind
// without a fold entry fails to compile.
//
// What is folded (and from which events):
//   per VM (vm_create)   HPT hardware words and guest view (hpte_write), revmap forw/back links and
//                        rmap words per memslot page (rmap_change), memslots (memslot), notifier
//                        seq/count (notifier), SLB per vcpu (slb_update), vcpu run state (guest_enter,
//                        guest_exit, vcpu_state), vcore state (vcore_state)
//   host                 the VMM page table hva → pfn with present / swapped / writable (host_page
//                        owner 0), pin references per frame (host_page pin/unpin), frames held by
//                        other processes (host_page owner 1)
//   per core             LPID, SDR1, LPCR, in-guest (partition_switch), TLB flushes (tlbie)
//   counters             events by kind, faults by interrupt × decision, page-fault outcomes, hcalls
//                        by number × return code and by path, notifier callback × effect, host ops,
//                        tlbie scopes, guest ops, MMIO, anomaly severities
// Not foldable from trace v1 (documented, not guessed): host PTE young/dirty bits (get_user_pages
// sets them without an event) and which hardware thread (ptid) last ran a vcpu.
//
// Hot path: typed arrays in RowTables (src/replay/table.ts), no BigInt, no allocation per event
// (objects are created only when a VM, memslot, vcpu, vcore, core or host page is first seen).

import { SLB_ESID_V_LO } from '../arch/slb.js';
import type { EventBatch } from '../trace/batch.js';
import { E, type EventKind, KINDS } from '../trace/kinds.js';
import { stateDigest } from '../base/digest.js';
import { RowTable } from './table.js';

/** Host PTE flags kept by the fold (same values as src/host/mm.ts PTE_*). */
export const HOST_PRESENT = 0x01;
export const HOST_RW = 0x02;
export const HOST_SWAP = 0x80;
/** Frame owners kept by the fold. */
export const FRAME_OWNER_OTHER = 1;

/** SLB rows per vcpu in the fold (PPC970 has 64 entries, POWER7 32). */
export const SLB_ROWS = 64;

export class FoldMemslot {
  /** rmap word per page: [hi, lo]. */
  readonly rmap: RowTable;
  /** Identity for delta checkpoints: a re-created slot is a new object (see snapshot.ts). */
  gen = 0;
  constructor(
    readonly id: number,
    readonly base_gfn: number,
    readonly npages: number,
    readonly userspace_addr: number,
    readonly flags: number,
  ) {
    this.rmap = new RowTable(2, npages);
  }
}

export class VcpuFold {
  inGuest = false;
  /** vcpu_state value (-1 = none seen). */
  state = -1;
  ret = 0;
  exitReason = 0;
  core = -1;
  pcHi = 0;
  pcLo = 0;
  msrHi = 0;
  msrLo = 0;
  lastTrap = 0;
  entries = 0;
  exits = 0;
  constructor(readonly id: number) {}
}

export class VcoreFold {
  state = 0;
  nRunnable = 0;
  core = -1;
  constructor(readonly id: number) {}
}

export class CoreFold {
  lpid = 0;
  inGuest = false;
  sdr1Hi = 0;
  sdr1Lo = 0;
  lpcrHi = 0;
  lpcrLo = 0;
  switches = 0;
  /** Full TLB flushes on this core (tlbiel IS=0b10 over the LPID's sets, or the whole untagged TLB). */
  flushes = 0;
  /** seq of the last flush (-1 none), its scope and LPID, and the vcpu it was done for (-1 none). */
  lastFlushSeq = -1;
  lastFlushScope = -1;
  lastFlushLpid = -1;
  lastFlushVcpu = -1;
  /** Single-entry invalidations issued from this core (tlbie global, tlbiel local). */
  tlbieGlobal = 0;
  tlbieLocal = 0;
  constructor(readonly id: number) {}
}

export class VmState {
  readonly lpid: number;
  readonly hptOrder: number;
  readonly npte: number;
  sdr1Hi = 0;
  sdr1Lo = 0;
  lpcrHi = 0;
  lpcrLo = 0;
  vmId = 0;
  /** [v_hi, v_lo, r_hi, r_lo] per HPTE. */
  readonly hptT: RowTable;
  /** guest_rpte [hi, lo] per HPTE. */
  readonly guestT: RowTable;
  /** revmap [forw + 1, back + 1] per HPTE (0 = none). */
  readonly linksT: RowTable;
  /** SLB per vcpu: row vcpu * SLB_ROWS + slot = [esid_hi, esid_lo, vsid_hi, vsid_lo]. */
  readonly slbT = new RowTable(4, 0);
  readonly memslots = new Map<number, FoldMemslot>();
  /** Memslots in creation order (lookup by gfn). */
  slotList: FoldMemslot[] = [];
  readonly vcpus = new Map<number, VcpuFold>();
  readonly vcores = new Map<number, VcoreFold>();
  mmuSeq = 0;
  mmuCount = 0;
  /** Identity for delta checkpoints: a re-created VM is a new object (see snapshot.ts). */
  gen = 0;

  constructor(lpid: number, hptOrder: number) {
    this.lpid = lpid;
    this.hptOrder = hptOrder;
    this.npte = 2 ** (hptOrder - 4);
    this.hptT = new RowTable(4, this.npte);
    this.guestT = new RowTable(2, this.npte);
    this.linksT = new RowTable(2, this.npte);
  }

  get hpt(): Uint32Array {
    return this.hptT.data;
  }
  get guestR(): Uint32Array {
    return this.guestT.data;
  }
  forw(i: number): number {
    return this.linksT.data[i * 2] - 1;
  }
  back(i: number): number {
    return this.linksT.data[i * 2 + 1] - 1;
  }

  slotOf(gfn: number): FoldMemslot | null {
    const l = this.slotList;
    for (let k = 0; k < l.length; k++) {
      const s = l[k];
      if (gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) return s;
    }
    return null;
  }

  /** rmap word of gfn as [hi, lo] ([0, 0] outside every memslot). */
  rmapWord(gfn: number): [number, number] {
    const s = this.slotOf(gfn);
    if (!s) return [0, 0];
    const o = (gfn - s.base_gfn) * 2;
    return [s.rmap.data[o], s.rmap.data[o + 1]];
  }

  /** Nonzero rmap words (gfn, hi, lo), gfn ascending. */
  *rmapEntries(): Generator<[number, number, number]> {
    for (const s of [...this.slotList].sort((a, b) => a.base_gfn - b.base_gfn)) {
      const d = s.rmap.data;
      for (let off = 0; off < s.npages; off++) if ((d[off * 2] | d[off * 2 + 1]) !== 0) yield [s.base_gfn + off, d[off * 2], d[off * 2 + 1]];
    }
  }

  vcpu(id: number): VcpuFold {
    let v = this.vcpus.get(id);
    if (!v) {
      v = new VcpuFold(id);
      this.vcpus.set(id, v);
      this.slbT.ensure(Math.max(this.slbT.rows, (id + 1) * SLB_ROWS));
    }
    return v;
  }

  vcore(id: number): VcoreFold {
    let v = this.vcores.get(id);
    if (!v) {
      v = new VcoreFold(id);
      this.vcores.set(id, v);
    }
    return v;
  }
}

/**
 * The host: the VMM page table (one row per host page ever seen, keyed by hva) and physical frames
 * (dense by pfn: pin references and the owner for frames of other processes).
 */
export class HostState {
  /** [hva_hi, hva_lo, pfn, flags (HOST_*), page_shift]. */
  readonly pages = new RowTable(5, 0);
  /** hva / 4096 → row of `pages`. */
  readonly pageRow = new Map<number, number>();
  /** [pins, owner] per pfn. */
  readonly frames = new RowTable(2, 0);

  /** Row of the page at hva (created zero if new). */
  row(hva: number): number {
    const key = hva / 4096;
    let r = this.pageRow.get(key);
    if (r === undefined) {
      r = this.pages.rows;
      this.pages.ensure(r + 1);
      const d = this.pages.data;
      d[r * 5] = Math.floor(hva / 4294967296) >>> 0;
      d[r * 5 + 1] = hva >>> 0;
      this.pages.mark(r);
      this.pageRow.set(key, r);
    }
    return r;
  }

  /** The page covering hva (page sizes 4K, 64K, 16M), or -1. */
  find(hva: number): number {
    for (const shift of [12, 16, 24]) {
      const base = Math.floor(hva / 2 ** shift) * 2 ** shift;
      const r = this.pageRow.get(base / 4096);
      if (r !== undefined && this.pages.data[r * 5 + 4] === shift) return r;
    }
    const r = this.pageRow.get(Math.floor(hva / 4096));
    return r ?? -1;
  }

  /** Index rows [from, rows) by hva (after a checkpoint restore filled them). */
  indexRows(from: number): void {
    if (from === 0) this.pageRow.clear();
    const d = this.pages.data;
    for (let r = from; r < this.pages.rows; r++) this.pageRow.set((d[r * 5] * 4294967296 + d[r * 5 + 1]) / 4096, r);
  }

  pins(pfn: number): number {
    return pfn < this.frames.rows ? this.frames.data[pfn * 2] : 0;
  }
}

/** Event counters (the `perf kvm stat` style numbers). */
export class FoldCounters {
  readonly byKind = new Float64Array(256);
  /** fault_triage: interrupt * 8 + decision. */
  readonly faults = new Float64Array(32);
  readonly pageFaultOutcome = new Float64Array(8);
  /** notifier: callback * 8 + effect. */
  readonly notifier = new Float64Array(64);
  /** host_page: op * 2 + owner. */
  readonly hostOps = new Float64Array(32);
  readonly tlbScope = new Float64Array(4);
  readonly hcallPath = new Float64Array(4);
  readonly guestOps = new Float64Array(16);
  readonly mmio = new Float64Array(2);
  readonly anomalySeverity = new Float64Array(3);
  /** (nr * 65536 + (ret & 0xffff)) → count, from hcall_exit. */
  readonly hcalls = new Map<number, number>();
}

type Fold = (s: StateFold, b: EventBatch, i: number) => void;

const nop: Fold = () => {};

function hostPage(s: StateFold, b: EventBatch, i: number): void {
  const op = b.wordNum(i, 0);
  const hva = b.wordNum(i, 1);
  const pfn = b.wordNum(i, 2);
  const owner = b.wordNum(i, 5);
  const h = s.host;
  s.counters.hostOps[(op & 15) * 2 + (owner & 1)]++;
  if (op === E.host_page_op.pin || op === E.host_page_op.unpin) {
    const f = h.frames;
    if (pfn >= f.rows) f.ensure(pfn + 1);
    const c = f.data[pfn * 2];
    if (op === E.host_page_op.unpin && c === 0) return s.anomaly('unpin of a frame with no pin', b, i);
    f.data[pfn * 2] = op === E.host_page_op.pin ? c + 1 : c - 1;
    f.mark(pfn);
    return;
  }
  if (owner === 1 || hva === 0) {
    // Other processes' frames have no VMM address: only the frame's owner changes.
    const f = h.frames;
    if (pfn >= f.rows) f.ensure(pfn + 1);
    const live = op === E.host_page_op.map || op === E.host_page_op.swap_in;
    if (live || op === E.host_page_op.unmap || op === E.host_page_op.swap_out) {
      f.data[pfn * 2 + 1] = live ? FRAME_OWNER_OTHER : 0;
      f.mark(pfn);
    }
    return;
  }
  const r = h.row(hva);
  const d = h.pages.data;
  const p = r * 5;
  const writable = b.wordNum(i, 3) !== 0;
  switch (op) {
    case E.host_page_op.map:
    case E.host_page_op.swap_in:
      d[p + 2] = pfn;
      d[p + 3] = HOST_PRESENT | (writable ? HOST_RW : 0);
      d[p + 4] = b.wordNum(i, 4);
      break;
    case E.host_page_op.unmap:
      d[p + 2] = 0;
      d[p + 3] = 0;
      break;
    case E.host_page_op.swap_out:
      d[p + 2] = 0;
      d[p + 3] = HOST_SWAP;
      break;
    case E.host_page_op.protect:
      d[p + 3] = writable ? d[p + 3] | HOST_RW : d[p + 3] & ~HOST_RW;
      break;
    default:
      return; // age: only the young bit, which the fold does not keep
  }
  h.pages.mark(r);
}

const FOLDS: { readonly [K in EventKind]: Fold } = {
  run_start: nop,
  run_end: nop,
  hcall_enter: nop,
  hcall_exit(s, b, i) {
    const c = s.counters;
    const key = b.wordNum(i, 0) * 65536 + (b.wordNum(i, 1) & 0xffff);
    c.hcalls.set(key, (c.hcalls.get(key) ?? 0) + 1);
    c.hcallPath[b.wordNum(i, 2) & 3]++;
  },
  hpte_write(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('hpte_write for an unknown VM', b, i);
    const idx = b.wordNum(i, 0);
    if (idx < 0 || idx >= vm.npte) return s.anomaly('hpte_write index out of range', b, i);
    const h = vm.hptT.data;
    h[idx * 4] = b.wordHi(i, 3);
    h[idx * 4 + 1] = b.wordLo(i, 3);
    h[idx * 4 + 2] = b.wordHi(i, 4);
    h[idx * 4 + 3] = b.wordLo(i, 4);
    vm.hptT.mark(idx);
    const g = vm.guestT.data;
    g[idx * 2] = b.wordHi(i, 5);
    g[idx * 2 + 1] = b.wordLo(i, 5);
    vm.guestT.mark(idx);
  },
  rmap_change(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('rmap_change for an unknown VM', b, i);
    const op = b.wordNum(i, 0);
    const gfn = b.wordNum(i, 1);
    const idx = b.wordNum(i, 2);
    const slot = vm.slotOf(gfn);
    if (!slot) return s.anomaly('rmap_change for a gfn in no memslot', b, i);
    const off = gfn - slot.base_gfn;
    slot.rmap.data[off * 2] = b.wordHi(i, 3);
    slot.rmap.data[off * 2 + 1] = b.wordLo(i, 3);
    slot.rmap.mark(off);
    if (idx < 0 || idx >= vm.npte) return;
    const f = b.wordNum(i, 4);
    const k = b.wordNum(i, 5);
    const L = vm.linksT.data;
    const T = vm.linksT;
    if (op === E.rmap_op.link) {
      // idx now sits between back k and forw f in the ring.
      L[idx * 2] = f + 1;
      L[idx * 2 + 1] = k + 1;
      T.mark(idx);
      if (k >= 0) {
        L[k * 2] = idx + 1;
        T.mark(k);
      }
      if (f >= 0) {
        L[f * 2 + 1] = idx + 1;
        T.mark(f);
      }
    } else if (op === E.rmap_op.unlink) {
      const prev = L[idx * 2 + 1] - 1;
      const next = L[idx * 2] - 1;
      if (prev >= 0 && prev !== idx) {
        L[prev * 2] = next + 1;
        T.mark(prev);
      }
      if (next >= 0 && next !== idx) {
        L[next * 2 + 1] = prev + 1;
        T.mark(next);
      }
      L[idx * 2] = f + 1;
      L[idx * 2 + 1] = k + 1;
      T.mark(idx);
    }
  },
  tlbie(s, b, i) {
    const scope = b.wordNum(i, 1);
    s.counters.tlbScope[scope & 3]++;
    const cid = b.core[i];
    if (cid < 0) return;
    const c = s.core(cid);
    if (scope === E.tlb_scope.global) c.tlbieGlobal++;
    else if (scope === E.tlb_scope.local) c.tlbieLocal++;
    else {
      c.flushes++;
      c.lastFlushSeq = b.firstSeq + i;
      c.lastFlushScope = scope;
      c.lastFlushLpid = b.lpid[i];
      c.lastFlushVcpu = b.vcpu[i];
    }
  },
  fault_triage(s, b, i) {
    s.counters.faults[(b.wordNum(i, 0) & 3) * 8 + (b.wordNum(i, 5) & 7)]++;
  },
  page_fault_enter: nop,
  page_fault_exit(s, b, i) {
    s.counters.pageFaultOutcome[b.wordNum(i, 3) & 7]++;
  },
  notifier(s, b, i) {
    s.counters.notifier[(b.wordNum(i, 0) & 7) * 8 + (b.wordNum(i, 4) & 7)]++;
    const vm = s.vm(b.lpid[i]);
    if (!vm) return;
    vm.mmuSeq = b.wordNum(i, 6);
    vm.mmuCount = b.wordNum(i, 7);
  },
  host_page: hostPage,
  partition_switch(s, b, i) {
    if (b.core[i] < 0) return;
    const c = s.core(b.core[i]);
    c.lpid = b.wordNum(i, 2);
    c.inGuest = b.wordNum(i, 3) === E.switch_direction.entry;
    c.sdr1Hi = b.wordHi(i, 5);
    c.sdr1Lo = b.wordLo(i, 5);
    c.lpcrHi = b.wordHi(i, 6);
    c.lpcrLo = b.wordLo(i, 6);
    c.switches++;
  },
  guest_enter(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm || b.vcpu[i] < 0) return;
    const v = vm.vcpu(b.vcpu[i]);
    v.inGuest = true;
    v.core = b.core[i];
    v.pcHi = b.wordHi(i, 0);
    v.pcLo = b.wordLo(i, 0);
    v.msrHi = b.wordHi(i, 1);
    v.msrLo = b.wordLo(i, 1);
    v.entries++;
  },
  guest_exit(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm || b.vcpu[i] < 0) return;
    const v = vm.vcpu(b.vcpu[i]);
    v.inGuest = false;
    v.lastTrap = b.wordNum(i, 0);
    v.pcHi = b.wordHi(i, 1);
    v.pcLo = b.wordLo(i, 1);
    v.msrHi = b.wordHi(i, 2);
    v.msrLo = b.wordLo(i, 2);
    v.exits++;
  },
  mmio_exit(s, b, i) {
    s.counters.mmio[b.wordNum(i, 2) & 1]++;
  },
  memslot(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('memslot for an unknown VM', b, i);
    const slot = b.wordNum(i, 1);
    vm.memslots.delete(slot);
    if (b.wordNum(i, 0) === E.memslot_op.create) {
      const ms = new FoldMemslot(slot, b.wordNum(i, 2), b.wordNum(i, 3), b.wordNum(i, 4), b.wordNum(i, 5));
      ms.gen = ++s.gens;
      vm.memslots.set(slot, ms);
    }
    vm.slotList = [...vm.memslots.values()];
  },
  vm_create(s, b, i) {
    const vm = new VmState(b.lpid[i], b.wordNum(i, 0));
    vm.sdr1Hi = b.wordHi(i, 1);
    vm.sdr1Lo = b.wordLo(i, 1);
    vm.lpcrHi = b.wordHi(i, 2);
    vm.lpcrLo = b.wordLo(i, 2);
    vm.vmId = b.wordNum(i, 3);
    vm.gen = ++s.gens;
    s.vms.set(b.lpid[i], vm);
  },
  vcore_state(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm) return;
    const vc = vm.vcore(b.wordNum(i, 0));
    vc.state = b.wordNum(i, 1);
    vc.nRunnable = b.wordNum(i, 2);
    vc.core = b.core[i];
  },
  vcpu_state(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm || b.vcpu[i] < 0) return;
    const v = vm.vcpu(b.vcpu[i]);
    v.state = b.wordNum(i, 0);
    v.ret = b.wordNum(i, 1);
    v.exitReason = b.wordNum(i, 2);
  },
  slb_update(s, b, i) {
    const vm = s.vm(b.lpid[i]);
    if (!vm || b.vcpu[i] < 0) return;
    const vid = b.vcpu[i];
    vm.vcpu(vid);
    const T = vm.slbT;
    const d = T.data;
    const base = vid * SLB_ROWS;
    const slot = b.wordNum(i, 0);
    if (slot < 0) {
      // slbia: every entry but 0 loses its valid bit (hw/vcpu.ts slbia).
      for (let k = 1; k < SLB_ROWS; k++) {
        const p = (base + k) * 4 + 1;
        if ((d[p] & SLB_ESID_V_LO) !== 0) {
          d[p] = (d[p] & ~SLB_ESID_V_LO) >>> 0;
          T.mark(base + k);
        }
      }
      return;
    }
    if (slot >= SLB_ROWS) return s.anomaly('slb_update slot out of range', b, i);
    const p = (base + slot) * 4;
    d[p] = b.wordHi(i, 1);
    d[p + 1] = b.wordLo(i, 1);
    d[p + 2] = b.wordHi(i, 2);
    d[p + 3] = b.wordLo(i, 2);
    T.mark(base + slot);
  },
  checkpoint(s, b, i) {
    s.checkpoints++;
    if (!s.verify || s.divergence) return;
    const vm = s.vm(b.lpid[i]);
    if (!vm) return s.anomaly('checkpoint for an unknown VM', b, i);
    const d = stateDigest(vm); // same layout as the emulator's (machine/checkpoint.ts)
    const parts: [string, [number, number], number][] = [['hpt', d.hpt, 2], ['guest', d.guest, 3], ['rmap', d.rmap, 4]];
    const differ = parts.filter(([, v, j]) => v[0] !== b.wordHi(i, j) || v[1] !== b.wordLo(i, j)).map(([n]) => n);
    const allOk = d.all[0] === b.wordHi(i, 0) && d.all[1] === b.wordLo(i, 0);
    if (!allOk || differ.length) {
      s.divergence = { seq: b.firstSeq + i, ordinal: b.wordNum(i, 1), lastGoodSeq: s.lastGoodCheckpoint, components: differ.length ? differ : ['notifier seq/count'] };
    } else s.lastGoodCheckpoint = b.firstSeq + i;
  },
  anomaly(s, b, i) {
    s.counters.anomalySeverity[Math.min(2, Math.max(0, b.wordNum(i, 1)))]++;
  },
  guest_op(s, b, i) {
    s.counters.guestOps[b.wordNum(i, 1) & 15]++;
  },
};

const FOLD_BY_CODE: Fold[] = (() => {
  const t: Fold[] = new Array<Fold>(256).fill(nop);
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
  readonly host = new HostState();
  readonly cores = new Map<number, CoreFold>();
  readonly counters = new FoldCounters();
  readonly anomalies: FoldAnomaly[] = [];
  anomalyCount = 0;
  /** Generation counter for VM and memslot identities. */
  gens = 0;
  /** seq of the last event folded (-1 before any) and its time. */
  lastSeq = -1;
  lastTime = 0;

  vm(lpid: number): VmState | undefined {
    return this.vms.get(lpid);
  }

  core(id: number): CoreFold {
    let c = this.cores.get(id);
    if (!c) {
      c = new CoreFold(id);
      this.cores.set(id, c);
    }
    return c;
  }

  /** Per-core LPID (the old `coreLpid` view). */
  get coreLpid(): Map<number, number> {
    return new Map([...this.cores].map(([id, c]) => [id, c.lpid]));
  }

  anomaly(message: string, b: EventBatch, i: number): void {
    this.anomalyCount++;
    if (this.anomalies.length < 100) this.anomalies.push({ seq: b.firstSeq + i, message });
  }

  /** Fold events [from, to) of the batch. */
  foldRange(b: EventBatch, from: number, to: number): void {
    if (to <= from) return;
    const kinds = b.kind;
    const byKind = this.counters.byKind;
    for (let i = from; i < to; i++) {
      const k = kinds[i];
      byKind[k]++;
      FOLD_BY_CODE[k](this, b, i);
    }
    this.lastSeq = b.firstSeq + to - 1;
    this.lastTime = b.time[to - 1];
  }

  /** Fold events of the batch with seq ≤ upTo. Returns false once upTo is passed. */
  foldBatch(b: EventBatch, upTo = Number.POSITIVE_INFINITY): boolean {
    const n = b.length;
    const last = upTo - b.firstSeq;
    if (last >= n - 1) {
      this.foldRange(b, 0, n);
      return true;
    }
    this.foldRange(b, 0, Math.max(0, last + 1));
    return false;
  }

  /** Every RowTable of the state, with a stable key (checkpoint encoding walks this). */
  tables(): [string, RowTable][] {
    const out: [string, RowTable][] = [];
    for (const vm of [...this.vms.values()].sort((a, b) => a.lpid - b.lpid)) {
      out.push([`vm${vm.lpid}.hpt`, vm.hptT], [`vm${vm.lpid}.guest`, vm.guestT], [`vm${vm.lpid}.links`, vm.linksT], [`vm${vm.lpid}.slb`, vm.slbT]);
      for (const s of [...vm.memslots.values()].sort((a, b) => a.id - b.id)) out.push([`vm${vm.lpid}.rmap${s.id}`, s.rmap]);
    }
    out.push(['host.pages', this.host.pages], ['host.frames', this.host.frames]);
    return out;
  }
}
