// Machine-level invariants (kernel-model §J 23, 25, 26), checked at quiescent points next to the
// MMU's invariants (src/kvm/hash/invariants.ts for a hash VM, through kvm.ops.checker).
//   J23 partition switch: while a vcore's threads are in the guest, its core's LPID and SDR1 are the
//       VM's; otherwise the core runs the host (LPID 0). LPID_RSVD is only transient, never left.
//   J25 vcore grouping: vcore id = vcpu_id / threads_per_core, at most threads_per_core vcpus per
//       vcore, and all threads of a vcore share entry/exit episodes (all in the guest or none).
//   J26 TLB freshness: no TLB hit on an entry whose HPTE changed without a tlbie (counted by the
//       TLB model).

import { LPID_RSVD } from '../arch/reg.js';
import type { KvmChecker, Violation } from '../kvm/types.js';
import { A, SEVERITY_WIRE } from '../trace/anomalies.js';
import { K } from '../trace/kinds.js';
import type { Recorder } from '../trace/recorder.js';
import type { Machine } from './machine.js';

/** The first invariant violation of a checked run: where it was seen and what it was. */
export interface RunViolation {
  seq: number;
  op: number;
  code: string;
  message: string;
}

/**
 * `--check` for a run: the KVM audit (operation invariants, every op), the KVM state invariants
 * (every `stateEvery` ops and on `final`) and the machine invariants (every op). The first
 * violation is kept and marked in the trace by an `anomaly` event (code = §J item, severity 2).
 */
export class RunChecker {
  violation: RunViolation | null = null;
  /** The VM's MMU checks (kvm.ops.checker: the hash MMU's audit and state invariants). */
  private readonly checker: KvmChecker;
  private ops = 0;

  constructor(
    readonly m: Machine,
    readonly rec: Recorder,
    readonly stateEvery = 1,
    digestEvery = 1,
  ) {
    this.checker = m.kvm.ops.checker(m.kvm, digestEvery);
  }

  /** After an operation; returns true when a (first) violation was found now. */
  afterOp(op: number, final = false): boolean {
    this.ops++;
    if (this.violation) return false;
    const state = final || this.ops % this.stateEvery === 0;
    const v = this.checker.violation ?? (state ? this.checker.check() : null) ?? checkMachineInvariants(this.m);
    if (!v) return false;
    const rec = this.rec;
    this.violation = { seq: rec.eventCount - 1, op, code: v.code, message: v.message };
    rec.emit(K.anomaly, this.m.kvm.lpid, -1, -1, this.violation.seq).code(A[v.code]).severity(SEVERITY_WIRE.error);
    return true;
  }
}

export function checkMachineInvariants(m: Machine): Violation | null {
  const kvm = m.kvm;
  for (const vc of m.vcores) {
    const core = vc.core;
    // J25
    if (vc.vcpus.length > m.threads) return { code: 'j25_vcore', message: `vcore ${vc.id} has ${vc.vcpus.length} vcpus > threads_per_core ${m.threads}`, detail: {} };
    for (const v of vc.vcpus) {
      if (Math.floor(v.id / m.threads) !== vc.id) return { code: 'j25_vcore', message: `vcpu ${v.id} in vcore ${vc.id}, expected ${Math.floor(v.id / m.threads)}`, detail: {} };
    }
    const inGuest = vc.vcpus.filter((v) => v.inGuest).length;
    if (inGuest !== 0 && inGuest !== vc.vcpus.length)
      return { code: 'j25_vcore', message: `vcore ${vc.id}: ${inGuest} of ${vc.vcpus.length} threads in the guest (entry/exit must be shared)`, detail: {} };
    // J23
    if (core.lpid === LPID_RSVD) return { code: 'j23_switch', message: `core ${core.id} left with LPID_RSVD`, detail: {} };
    if (inGuest > 0 && (core.lpid !== kvm.lpid || core.sdr1Hi !== kvm.mmu.sdr1Hi || core.sdr1Lo !== kvm.mmu.sdr1Lo || !core.inGuest))
      return { code: 'j23_switch', message: `core ${core.id} runs vcore ${vc.id} of LPID ${kvm.lpid} with LPID ${core.lpid} / SDR1 not the VM's`, detail: {} };
    if (inGuest === 0 && (core.lpid !== 0 || core.inGuest))
      return { code: 'j23_switch', message: `core ${core.id} is out of the guest but LPID is ${core.lpid}`, detail: {} };
  }
  // J26
  const stale = m.staleTlb;
  if (stale > 0) return { code: 'j26_tlb_freshness', message: `${stale} use(s) of a TLB entry whose HPTE changed without a tlbie`, detail: {} };
  return null;
}
