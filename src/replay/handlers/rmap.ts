// rmap words per memslot page, the revmap forw/back links per HPTE (rmap_change), and the MMU
// notifier seq/count that guard them (notifier). Per VM; a vm_create starts empty.

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E, ENUMS } from '../../trace/kinds.js';
import { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';
import type { MemslotHandler } from './memslots.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_NOTIFIER_CALLBACK = F.notifier.callback;
const W_NOTIFIER_MMU_COUNT = F.notifier.mmu_count;
const W_NOTIFIER_MMU_SEQ = F.notifier.mmu_seq;
const W_RMAP_CHANGE_BACK = F.rmap_change.back;
const W_RMAP_CHANGE_FORW = F.rmap_change.forw;
const W_RMAP_CHANGE_GFN = F.rmap_change.gfn;
const W_RMAP_CHANGE_HPTE_INDEX = F.rmap_change.hpte_index;
const W_RMAP_CHANGE_OP = F.rmap_change.op;
const W_RMAP_CHANGE_RMAP = F.rmap_change.rmap;

/**
 * What each notifier callback does to kvm->mmu_notifier_seq and _count (virt/kvm/kvm_main.c,
 * Linux 3.4; the callbacks 4.20 keeps do the same), indexed by ENUMS.notifier_kind:
 * invalidate_page seq++; range_start count++; range_end seq++, count--; change_pte seq++;
 * clear_flush_young, test_young, release neither.
 */
const NOTIFIER_DSEQ: readonly number[] = ENUMS.notifier_kind.map((k) => (k === 'invalidate_page' || k === 'range_end' || k === 'change_pte' ? 1 : 0));
const NOTIFIER_DCOUNT: readonly number[] = ENUMS.notifier_kind.map((k) => (k === 'range_start' ? 1 : k === 'range_end' ? -1 : 0));

export class RmapVm {
  /** revmap [forw + 1, back + 1] per HPTE (0 = none). */
  readonly linksT: RowTable;
  /** rmap word per page [hi, lo], by memslot generation. */
  readonly rmap = new Map<number, RowTable>();
  /**
   * The live memslots in the memslot handler's order, flattened for the hot path (rmap_change):
   * base gfn, page count and rmap table of each, so one scan finds a gfn's table without a lookup
   * in the memslot handler and a second by generation. Rebuilt by sync() on every memslot change.
   */
  slotBase: number[] = [];
  slotPages: number[] = [];
  slotRmap: RowTable[] = [];
  mmuSeq = 0;
  mmuCount = 0;
  constructor(
    readonly npte: number,
    /** The HPT generation this belongs to (HptVm.gen). */
    readonly gen: number,
  ) {
    this.linksT = new RowTable(2, npte);
  }
}

export class RmapHandler implements ReplayHandler {
  readonly name = 'rmap';
  readonly deps: readonly HandlerName[] = ['hpt', 'memslots', 'anomalies'];
  readonly vms = new Map<number, RmapVm>();

  constructor(
    private readonly hpt: HptHandler,
    private readonly memslots: MemslotHandler,
    private readonly anomalies: AnomalyHandler,
  ) {}

  reset(): void {
    this.vms.clear();
  }

  vm_create(b: EventBatch, i: number): void {
    const h = this.hpt.vms.get(b.lpid[i])!;
    this.vms.set(h.lpid, new RmapVm(h.npte, h.gen));
  }

  /** After the memslot handler: a created slot gets an empty rmap, a deleted one loses its. */
  memslot(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    const ms = this.memslots.vms.get(b.lpid[i]);
    if (!vm || !ms) return;
    this.sync(vm, ms.slotList);
  }

  private sync(vm: RmapVm, slots: readonly { gen: number; base_gfn: number; npages: number }[]): void {
    const live = new Set<number>();
    for (const s of slots) {
      live.add(s.gen);
      if (!vm.rmap.has(s.gen)) vm.rmap.set(s.gen, new RowTable(2, s.npages));
    }
    for (const g of [...vm.rmap.keys()]) if (!live.has(g)) vm.rmap.delete(g);
    vm.slotBase = slots.map((s) => s.base_gfn);
    vm.slotPages = slots.map((s) => s.npages);
    vm.slotRmap = slots.map((s) => vm.rmap.get(s.gen)!);
  }

  rmap_change(b: EventBatch, i: number): void {
    const lpid = b.lpid[i];
    const vm = this.vms.get(lpid);
    if (!vm) return this.anomalies.count(A.rmap_change_unknown_vm, b.firstSeq + i);
    const op = b.num(i, W_RMAP_CHANGE_OP);
    const gfn = b.num(i, W_RMAP_CHANGE_GFN);
    const idx = b.num(i, W_RMAP_CHANGE_HPTE_INDEX);
    // The memslot handler's slotOf(gfn), on this handler's flattened copy of the slot list.
    const base = vm.slotBase;
    const pages = vm.slotPages;
    let s = 0;
    while (s < base.length && !(gfn >= base[s] && gfn < base[s] + pages[s])) s++;
    if (s === base.length) return this.anomalies.count(A.rmap_change_no_memslot, b.firstSeq + i);
    const t = vm.slotRmap[s];
    const off = gfn - base[s];
    t.data[off * 2] = b.hi(i, W_RMAP_CHANGE_RMAP);
    t.data[off * 2 + 1] = b.lo(i, W_RMAP_CHANGE_RMAP);
    t.mark(off);
    if (idx < 0 || idx >= vm.npte) return;
    const f = b.num(i, W_RMAP_CHANGE_FORW);
    const k = b.num(i, W_RMAP_CHANGE_BACK);
    const T = vm.linksT;
    const L = T.data;
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
  }

  notifier(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    if (!vm) return;
    const seq = b.num(i, W_NOTIFIER_MMU_SEQ);
    const count = b.num(i, W_NOTIFIER_MMU_COUNT);
    // Before-values: the counters after the previous callback (0/0 at vm_create) advanced by this
    // callback's rule must give the recorded after-values.
    const cb = b.num(i, W_NOTIFIER_CALLBACK);
    if (cb >= 0 && cb < NOTIFIER_DSEQ.length) {
      const s = b.firstSeq + i;
      if (seq !== vm.mmuSeq + NOTIFIER_DSEQ[cb]) this.anomalies.inconsistent(A.notifier_seq_count_mismatch, s, 'notifier', 'mmu_seq', b.lpid[i], -1, String(seq), String(vm.mmuSeq + NOTIFIER_DSEQ[cb]));
      else if (count !== vm.mmuCount + NOTIFIER_DCOUNT[cb]) this.anomalies.inconsistent(A.notifier_seq_count_mismatch, s, 'notifier', 'mmu_count', b.lpid[i], -1, String(count), String(vm.mmuCount + NOTIFIER_DCOUNT[cb]));
    }
    vm.mmuSeq = seq;
    vm.mmuCount = count;
  }

  finalize(): void {}

  data(): ReadonlyMap<number, RmapVm> {
    return this.vms;
  }

  save(): unknown {
    return [...this.vms].sort((a, b) => a[0] - b[0]).map(([lpid, vm]) => [lpid, vm.gen, vm.mmuSeq, vm.mmuCount]);
  }

  /** After hpt and memslots restored: tables of an unchanged VM / slot generation are kept. */
  restore(s: unknown): void {
    const vms = s as [number, number, number, number][];
    const keep = new Set(vms.map((v) => v[0]));
    for (const l of [...this.vms.keys()]) if (!keep.has(l)) this.vms.delete(l);
    for (const [lpid, gen, seq, count] of vms) {
      let vm = this.vms.get(lpid);
      if (!vm || vm.gen !== gen) {
        vm = new RmapVm(this.hpt.vms.get(lpid)!.npte, gen);
        this.vms.set(lpid, vm);
      }
      vm.mmuSeq = seq;
      vm.mmuCount = count;
      this.sync(vm, this.memslots.vms.get(lpid)?.slotList ?? []);
    }
  }

  tables(out: [string, RowTable][]): void {
    for (const [lpid, vm] of [...this.vms].sort((a, b) => a[0] - b[0])) {
      out.push([`vm${lpid}.links`, vm.linksT]);
      const slots = [...(this.memslots.vms.get(lpid)?.memslots.values() ?? [])].sort((a, b) => a.id - b.id);
      for (const s of slots) out.push([`vm${lpid}.rmap${s.id}`, vm.rmap.get(s.gen)!]);
    }
  }
}
