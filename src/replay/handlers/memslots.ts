// Memslots per VM (memslot events; a vm_create starts the VM with none).

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E } from '../../trace/kinds.js';
import type { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_MEMSLOT_BASE_GFN = F.memslot.base_gfn;
const W_MEMSLOT_FLAGS = F.memslot.flags;
const W_MEMSLOT_NPAGES = F.memslot.npages;
const W_MEMSLOT_OP = F.memslot.op;
const W_MEMSLOT_SLOT = F.memslot.slot;
const W_MEMSLOT_USERSPACE_ADDR = F.memslot.userspace_addr;


export class FoldMemslot {
  constructor(
    readonly id: number,
    readonly base_gfn: number,
    readonly npages: number,
    readonly userspace_addr: number,
    readonly flags: number,
    /** Identity for delta checkpoints: a re-created slot is a new generation (its rmap starts empty). */
    readonly gen: number,
  ) {}
}

export class MemslotVm {
  readonly memslots = new Map<number, FoldMemslot>();
  /** Memslots in creation order (lookup by gfn). */
  slotList: FoldMemslot[] = [];

  slotOf(gfn: number): FoldMemslot | null {
    const l = this.slotList;
    for (let k = 0; k < l.length; k++) {
      const s = l[k];
      if (gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) return s;
    }
    return null;
  }
}

type SavedSlot = [id: number, gen: number, base: number, npages: number, ua: number, flags: number];

export class MemslotHandler implements ReplayHandler {
  readonly name = 'memslots';
  readonly deps: readonly HandlerName[] = ['hpt', 'anomalies'];
  readonly vms = new Map<number, MemslotVm>();
  private gens = 0;

  constructor(
    private readonly hpt: HptHandler,
    private readonly anomalies: AnomalyHandler,
  ) {}

  reset(): void {
    this.vms.clear();
    this.gens = 0;
  }

  vm_create(b: EventBatch, i: number): void {
    this.vms.set(b.lpid[i], new MemslotVm());
  }

  memslot(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    if (!vm || !this.hpt.vms.has(b.lpid[i])) return this.anomalies.count(A.memslot_unknown_vm, b.firstSeq + i);
    const slot = b.num(i, W_MEMSLOT_SLOT);
    vm.memslots.delete(slot);
    if (b.num(i, W_MEMSLOT_OP) === E.memslot_op.create) {
      vm.memslots.set(slot, new FoldMemslot(slot, b.num(i, W_MEMSLOT_BASE_GFN), b.num(i, W_MEMSLOT_NPAGES), b.num(i, W_MEMSLOT_USERSPACE_ADDR), b.num(i, W_MEMSLOT_FLAGS), ++this.gens));
    }
    vm.slotList = [...vm.memslots.values()];
  }

  finalize(): void {}

  data(): ReadonlyMap<number, MemslotVm> {
    return this.vms;
  }

  save(): unknown {
    const vms = [...this.vms].sort((a, b) => a[0] - b[0]).map(([lpid, vm]) => [lpid, vm.slotList.map((s): SavedSlot => [s.id, s.gen, s.base_gfn, s.npages, s.userspace_addr, s.flags])]);
    return { gens: this.gens, vms };
  }

  restore(s: unknown): void {
    const { gens, vms } = s as { gens: number; vms: [number, SavedSlot[]][] };
    this.gens = gens;
    this.vms.clear();
    for (const [lpid, slots] of vms) {
      const vm = new MemslotVm();
      for (const [id, gen, base, npages, ua, flags] of slots) vm.memslots.set(id, new FoldMemslot(id, base, npages, ua, flags, gen));
      vm.slotList = [...vm.memslots.values()];
      this.vms.set(lpid, vm);
    }
  }

  tables(_out: [string, RowTable][]): void {}
}
