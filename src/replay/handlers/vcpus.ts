// vcpus and vcores per VM: run state (guest_enter, guest_exit, vcpu_state), vcore state
// (vcore_state) and the SLB of each vcpu (slb_update). A vm_create starts the VM with none.

import { SLB_ESID_V_LO } from '../../arch/slb.js';
import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_GUEST_ENTER_MSR = F.guest_enter.msr;
const W_GUEST_ENTER_PC = F.guest_enter.pc;
const W_GUEST_EXIT_MSR = F.guest_exit.msr;
const W_GUEST_EXIT_PC = F.guest_exit.pc;
const W_GUEST_EXIT_TRAP = F.guest_exit.trap;
const W_SLB_UPDATE_ESID = F.slb_update.esid;
const W_SLB_UPDATE_SLOT = F.slb_update.slot;
const W_SLB_UPDATE_VSID = F.slb_update.vsid;
const W_VCORE_STATE_N_RUNNABLE = F.vcore_state.n_runnable;
const W_VCORE_STATE_STATE = F.vcore_state.state;
const W_VCORE_STATE_VCORE = F.vcore_state.vcore;
const W_VCPU_STATE_EXIT_REASON = F.vcpu_state.exit_reason;
const W_VCPU_STATE_RET = F.vcpu_state.ret;
const W_VCPU_STATE_STATE = F.vcpu_state.state;

/** SLB rows per vcpu in the fold (PPC970 has 64 entries, POWER7 32). */
export const SLB_ROWS = 64;


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

const VCPU_FIELDS = ['inGuest', 'state', 'ret', 'exitReason', 'core', 'pcHi', 'pcLo', 'msrHi', 'msrLo', 'lastTrap', 'entries', 'exits'] as const satisfies readonly (keyof VcpuFold)[];

export class VcpuVm {
  /** The HPT generation this belongs to (HptVm.gen): a re-created VM starts with no SLB rows. */
  constructor(readonly gen: number) {}
  readonly vcpus = new Map<number, VcpuFold>();
  readonly vcores = new Map<number, VcoreFold>();
  /** SLB per vcpu: row vcpu * SLB_ROWS + slot = [esid_hi, esid_lo, vsid_hi, vsid_lo]. */
  readonly slbT = new RowTable(4, 0);

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

export class VcpuHandler implements ReplayHandler {
  readonly name = 'vcpus';
  readonly deps: readonly HandlerName[] = ['hpt', 'anomalies'];
  readonly vms = new Map<number, VcpuVm>();

  constructor(
    private readonly hpt: HptHandler,
    private readonly anomalies: AnomalyHandler,
  ) {}

  reset(): void {
    this.vms.clear();
  }

  vm_create(b: EventBatch, i: number): void {
    this.vms.set(b.lpid[i], new VcpuVm(this.hpt.vms.get(b.lpid[i])!.gen));
  }

  /** The vcpu of event i, or null (no VM, or no vcpu column). */
  private vcpuOf(b: EventBatch, i: number): VcpuFold | null {
    const vm = this.vms.get(b.lpid[i]);
    return vm && b.vcpu[i] >= 0 ? vm.vcpu(b.vcpu[i]) : null;
  }

  guest_enter(b: EventBatch, i: number): void {
    const v = this.vcpuOf(b, i);
    if (!v) return;
    v.inGuest = true;
    v.core = b.core[i];
    v.pcHi = b.hi(i, W_GUEST_ENTER_PC);
    v.pcLo = b.lo(i, W_GUEST_ENTER_PC);
    v.msrHi = b.hi(i, W_GUEST_ENTER_MSR);
    v.msrLo = b.lo(i, W_GUEST_ENTER_MSR);
    v.entries++;
  }

  guest_exit(b: EventBatch, i: number): void {
    const v = this.vcpuOf(b, i);
    if (!v) return;
    v.inGuest = false;
    v.lastTrap = b.num(i, W_GUEST_EXIT_TRAP);
    v.pcHi = b.hi(i, W_GUEST_EXIT_PC);
    v.pcLo = b.lo(i, W_GUEST_EXIT_PC);
    v.msrHi = b.hi(i, W_GUEST_EXIT_MSR);
    v.msrLo = b.lo(i, W_GUEST_EXIT_MSR);
    v.exits++;
  }

  vcpu_state(b: EventBatch, i: number): void {
    const v = this.vcpuOf(b, i);
    if (!v) return;
    v.state = b.num(i, W_VCPU_STATE_STATE);
    v.ret = b.num(i, W_VCPU_STATE_RET);
    v.exitReason = b.num(i, W_VCPU_STATE_EXIT_REASON);
  }

  vcore_state(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    if (!vm) return;
    const vc = vm.vcore(b.num(i, W_VCORE_STATE_VCORE));
    vc.state = b.num(i, W_VCORE_STATE_STATE);
    vc.nRunnable = b.num(i, W_VCORE_STATE_N_RUNNABLE);
    vc.core = b.core[i];
  }

  slb_update(b: EventBatch, i: number): void {
    const vm = this.vms.get(b.lpid[i]);
    const vid = b.vcpu[i];
    if (!vm || vid < 0) return;
    vm.vcpu(vid);
    const T = vm.slbT;
    const d = T.data;
    const base = vid * SLB_ROWS;
    const slot = b.num(i, W_SLB_UPDATE_SLOT);
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
    if (slot >= SLB_ROWS) return this.anomalies.count(A.slb_slot_out_of_range, b.firstSeq + i);
    const p = (base + slot) * 4;
    d[p] = b.hi(i, W_SLB_UPDATE_ESID);
    d[p + 1] = b.lo(i, W_SLB_UPDATE_ESID);
    d[p + 2] = b.hi(i, W_SLB_UPDATE_VSID);
    d[p + 3] = b.lo(i, W_SLB_UPDATE_VSID);
    T.mark(base + slot);
  }

  finalize(): void {}

  data(): ReadonlyMap<number, VcpuVm> {
    return this.vms;
  }

  save(): unknown {
    return [...this.vms].sort((a, b) => a[0] - b[0]).map(([lpid, vm]) => ({
      lpid,
      gen: vm.gen,
      slbRows: vm.slbT.rows,
      vcpus: [...vm.vcpus.values()].map((v) => [v.id, ...VCPU_FIELDS.map((k) => Number(v[k]))]),
      vcores: [...vm.vcores.values()].map((v) => [v.id, v.state, v.nRunnable, v.core]),
    }));
  }

  /**
   * The SLB table is kept when the VM is (its rows are filled by the snapshot); a VM that is gone
   * or new in the snapshot starts fresh. vcpus/vcores are small and rebuilt.
   */
  restore(s: unknown): void {
    const vms = s as { lpid: number; gen: number; slbRows: number; vcpus: number[][]; vcores: number[][] }[];
    const keep = new Set(vms.map((v) => v.lpid));
    for (const l of [...this.vms.keys()]) if (!keep.has(l)) this.vms.delete(l);
    for (const sv of vms) {
      let vm = this.vms.get(sv.lpid);
      if (!vm || vm.gen !== sv.gen) {
        vm = new VcpuVm(sv.gen);
        this.vms.set(sv.lpid, vm);
      }
      vm.slbT.ensure(sv.slbRows);
      vm.vcpus.clear();
      for (const [id, ...vals] of sv.vcpus) {
        const v = new VcpuFold(id);
        VCPU_FIELDS.forEach((k, j) => ((v as unknown as Record<string, number | boolean>)[k] = k === 'inGuest' ? vals[j] !== 0 : vals[j]));
        vm.vcpus.set(id, v);
      }
      vm.vcores.clear();
      for (const [id, state, n, core] of sv.vcores) {
        const v = new VcoreFold(id);
        v.state = state;
        v.nRunnable = n;
        v.core = core;
        vm.vcores.set(id, v);
      }
    }
  }

  tables(out: [string, RowTable][]): void {
    for (const [lpid, vm] of [...this.vms].sort((a, b) => a[0] - b[0])) out.push([`vm${lpid}.slb`, vm.slbT]);
  }
}
