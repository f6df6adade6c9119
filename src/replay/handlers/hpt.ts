// HPT and guest view per VM (vm_create, hpte_write): the hardware HPTE words and the revmap
// guest_rpte, as kvm->arch.hpt_virt and kvm->arch.revmap[].guest_rpte hold them.
//
// Before-values: an hpte_write's old_v/old_r and a page_fault_enter's snapshot (hpte_v, hpte_r,
// gpte_r) state what the slot held; both are compared with the folded words of that slot (the HPT
// is zeroed at vm_create, kvmppc_alloc_hpt's __GFP_ZERO, so a linear fold always knows them) and
// a difference is counted as an error anomaly (111, 112, 113) with its detail (AnomalyHandler).

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
const W_HPTE_WRITE_OLD_R = F.hpte_write.old_r;
const W_HPTE_WRITE_OLD_V = F.hpte_write.old_v;
const W_PAGE_FAULT_ENTER_GPTE_R = F.page_fault_enter.gpte_r;
const W_PAGE_FAULT_ENTER_HPTE_INDEX = F.page_fault_enter.hpte_index;
const W_PAGE_FAULT_ENTER_HPTE_R = F.page_fault_enter.hpte_r;
const W_PAGE_FAULT_ENTER_HPTE_V = F.page_fault_enter.hpte_v;
const W_VM_CREATE_HPT_ORDER = F.vm_create.hpt_order;
const W_VM_CREATE_LPCR = F.vm_create.lpcr;
const W_VM_CREATE_SDR1 = F.vm_create.sdr1;
const W_VM_CREATE_VM_ID = F.vm_create.vm_id;
/** HPTE_V_HVLOCK (dword 0 bit 6): masked out of the page-fault snapshot (hpte[0] = hptep[0] & ~HPTE_V_HVLOCK). */
const HPTE_V_HVLOCK_LO = 0x40;

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
    const p = idx * 4;
    if (h[p] !== b.hi(i, W_HPTE_WRITE_OLD_V) || h[p + 1] !== b.lo(i, W_HPTE_WRITE_OLD_V))
      this.anomalies.inconsistentWord(A.hpte_write_old_v_mismatch, b.firstSeq + i, 'hpte_write', 'old_v', vm.lpid, idx, b.hi(i, W_HPTE_WRITE_OLD_V), b.lo(i, W_HPTE_WRITE_OLD_V), h[p], h[p + 1]);
    if (h[p + 2] !== b.hi(i, W_HPTE_WRITE_OLD_R) || h[p + 3] !== b.lo(i, W_HPTE_WRITE_OLD_R))
      this.anomalies.inconsistentWord(A.hpte_write_old_r_mismatch, b.firstSeq + i, 'hpte_write', 'old_r', vm.lpid, idx, b.hi(i, W_HPTE_WRITE_OLD_R), b.lo(i, W_HPTE_WRITE_OLD_R), h[p + 2], h[p + 3]);
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

  /**
   * kvmppc_book3s_hv_page_fault's snapshot, taken under the HPTE lock: hpte_v = dword 0 without
   * HVLOCK, hpte_r = dword 1, gpte_r = rev->guest_rpte. Checked against the folded slot (unknown
   * VM or index out of range: nothing to compare, other handlers do not fold this kind).
   */
  page_fault_enter(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    if (!vm) return;
    const idx = b.num(i, W_PAGE_FAULT_ENTER_HPTE_INDEX);
    if (idx < 0 || idx >= vm.npte) return;
    const h = vm.hptT.data;
    const g = vm.guestT.data;
    const p = idx * 4;
    const seq = b.firstSeq + i;
    const code = A.page_fault_enter_snapshot_mismatch;
    const vl = (h[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
    if (h[p] !== b.hi(i, W_PAGE_FAULT_ENTER_HPTE_V) || vl !== b.lo(i, W_PAGE_FAULT_ENTER_HPTE_V))
      this.anomalies.inconsistentWord(code, seq, 'page_fault_enter', 'hpte_v', vm.lpid, idx, b.hi(i, W_PAGE_FAULT_ENTER_HPTE_V), b.lo(i, W_PAGE_FAULT_ENTER_HPTE_V), h[p], vl);
    if (h[p + 2] !== b.hi(i, W_PAGE_FAULT_ENTER_HPTE_R) || h[p + 3] !== b.lo(i, W_PAGE_FAULT_ENTER_HPTE_R))
      this.anomalies.inconsistentWord(code, seq, 'page_fault_enter', 'hpte_r', vm.lpid, idx, b.hi(i, W_PAGE_FAULT_ENTER_HPTE_R), b.lo(i, W_PAGE_FAULT_ENTER_HPTE_R), h[p + 2], h[p + 3]);
    if (g[idx * 2] !== b.hi(i, W_PAGE_FAULT_ENTER_GPTE_R) || g[idx * 2 + 1] !== b.lo(i, W_PAGE_FAULT_ENTER_GPTE_R))
      this.anomalies.inconsistentWord(code, seq, 'page_fault_enter', 'gpte_r', vm.lpid, idx, b.hi(i, W_PAGE_FAULT_ENTER_GPTE_R), b.lo(i, W_PAGE_FAULT_ENTER_GPTE_R), g[idx * 2], g[idx * 2 + 1]);
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
