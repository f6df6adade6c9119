// HPT and guest view per VM (vm_create, hpte_write): the hardware HPTE words and the revmap
// guest_rpte, as kvm->arch.hpt_virt and kvm->arch.revmap[].guest_rpte hold them.

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_HPTE_WRITE_GUEST_R = F.hpte_write.guest_r;
const W_HPTE_WRITE_HPTE_INDEX = F.hpte_write.hpte_index;
const W_HPTE_WRITE_NEW_R = F.hpte_write.new_r;
const W_HPTE_WRITE_NEW_V = F.hpte_write.new_v;
const W_VM_CREATE_HPT_ORDER = F.vm_create.hpt_order;
const W_VM_CREATE_LPCR = F.vm_create.lpcr;
const W_VM_CREATE_SDR1 = F.vm_create.sdr1;
const W_VM_CREATE_VM_ID = F.vm_create.vm_id;


export class HptVm {
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
  constructor(
    readonly lpid: number,
    readonly hptOrder: number,
    /** Identity for delta checkpoints: a re-created VM is a new generation (see snapshot.ts). */
    readonly gen: number,
  ) {
    this.npte = 2 ** (hptOrder - 4);
    this.hptT = new RowTable(4, this.npte);
    this.guestT = new RowTable(2, this.npte);
  }
}

type SavedVm = [lpid: number, gen: number, order: number, sdr1Hi: number, sdr1Lo: number, lpcrHi: number, lpcrLo: number, vmId: number];

export class HptHandler implements ReplayHandler {
  readonly name = 'hpt';
  readonly deps: readonly HandlerName[] = ['anomalies'];
  readonly vms = new Map<number, HptVm>();
  private gens = 0;

  constructor(private readonly anomalies: AnomalyHandler) {}

  reset(): void {
    this.vms.clear();
    this.gens = 0;
  }

  vm_create(b: EventBatch, i: number): void {
    const vm = new HptVm(b.lpid[i], b.num(i, W_VM_CREATE_HPT_ORDER), ++this.gens);
    vm.sdr1Hi = b.hi(i, W_VM_CREATE_SDR1);
    vm.sdr1Lo = b.lo(i, W_VM_CREATE_SDR1);
    vm.lpcrHi = b.hi(i, W_VM_CREATE_LPCR);
    vm.lpcrLo = b.lo(i, W_VM_CREATE_LPCR);
    vm.vmId = b.num(i, W_VM_CREATE_VM_ID);
    this.vms.set(vm.lpid, vm);
  }

  hpte_write(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    if (!vm) return this.anomalies.count(A.hpte_write_unknown_vm, b.firstSeq + i);
    const idx = b.num(i, W_HPTE_WRITE_HPTE_INDEX);
    if (idx < 0 || idx >= vm.npte) return this.anomalies.count(A.hpte_write_index_out_of_range, b.firstSeq + i);
    const h = vm.hptT.data;
    h[idx * 4] = b.hi(i, W_HPTE_WRITE_NEW_V);
    h[idx * 4 + 1] = b.lo(i, W_HPTE_WRITE_NEW_V);
    h[idx * 4 + 2] = b.hi(i, W_HPTE_WRITE_NEW_R);
    h[idx * 4 + 3] = b.lo(i, W_HPTE_WRITE_NEW_R);
    vm.hptT.mark(idx);
    const g = vm.guestT.data;
    g[idx * 2] = b.hi(i, W_HPTE_WRITE_GUEST_R);
    g[idx * 2 + 1] = b.lo(i, W_HPTE_WRITE_GUEST_R);
    vm.guestT.mark(idx);
  }

  finalize(): void {}

  data(): ReadonlyMap<number, HptVm> {
    return this.vms;
  }

  save(): unknown {
    const vms: SavedVm[] = [...this.vms.values()].sort((a, b) => a.lpid - b.lpid).map((v) => [v.lpid, v.gen, v.hptOrder, v.sdr1Hi, v.sdr1Lo, v.lpcrHi, v.lpcrLo, v.vmId]);
    return { gens: this.gens, vms };
  }

  /** A VM of unchanged generation keeps its tables (a delta fills only changed rows). */
  restore(s: unknown): void {
    const { gens, vms } = s as { gens: number; vms: SavedVm[] };
    this.gens = gens;
    const keep = new Set(vms.map((v) => v[0]));
    for (const l of [...this.vms.keys()]) if (!keep.has(l)) this.vms.delete(l);
    for (const [lpid, gen, order, sh, sl, lh, ll, id] of vms) {
      let vm = this.vms.get(lpid);
      if (!vm || vm.gen !== gen) {
        vm = new HptVm(lpid, order, gen);
        this.vms.set(lpid, vm);
      }
      [vm.sdr1Hi, vm.sdr1Lo, vm.lpcrHi, vm.lpcrLo, vm.vmId] = [sh, sl, lh, ll, id];
    }
  }

  tables(out: [string, RowTable][]): void {
    for (const vm of [...this.vms.values()].sort((a, b) => a.lpid - b.lpid)) out.push([`vm${vm.lpid}.hpt`, vm.hptT], [`vm${vm.lpid}.guest`, vm.guestT]);
  }
}
