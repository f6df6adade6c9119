// Machine-level invariants (kernel-model §J 23, 25, 26), checked at quiescent points next to the
// KVM invariants of src/kvm/invariants.ts.
//   J23 partition switch: while a vcore's threads are in the guest, its core's LPID and SDR1 are the
//       VM's; otherwise the core runs the host (LPID 0). LPID_RSVD is only transient, never left.
//   J25 vcore grouping: vcore id = vcpu_id / threads_per_core, at most threads_per_core vcpus per
//       vcore, and all threads of a vcore share entry/exit episodes (all in the guest or none).
//   J26 TLB freshness: no TLB hit on an entry whose HPTE changed without a tlbie (counted by the
//       TLB model).

import { LPID_RSVD } from '../arch/reg.js';
import type { Violation } from '../kvm/invariants.js';
import type { Machine } from './machine.js';

export function checkMachineInvariants(m: Machine): Violation | null {
  const kvm = m.kvm;
  for (const vc of m.vcores) {
    const core = vc.core;
    // J25
    if (vc.vcpus.length > m.threads) return { code: 'J25_VCORE', message: `vcore ${vc.id} has ${vc.vcpus.length} vcpus > threads_per_core ${m.threads}`, detail: {} };
    for (const v of vc.vcpus) {
      if (Math.floor(v.id / m.threads) !== vc.id) return { code: 'J25_VCORE', message: `vcpu ${v.id} in vcore ${vc.id}, expected ${Math.floor(v.id / m.threads)}`, detail: {} };
    }
    const inGuest = vc.vcpus.filter((v) => v.inGuest).length;
    if (inGuest !== 0 && inGuest !== vc.vcpus.length)
      return { code: 'J25_VCORE', message: `vcore ${vc.id}: ${inGuest} of ${vc.vcpus.length} threads in the guest (entry/exit must be shared)`, detail: {} };
    // J23
    if (core.lpid === LPID_RSVD) return { code: 'J23_SWITCH', message: `core ${core.id} left with LPID_RSVD`, detail: {} };
    if (inGuest > 0 && (core.lpid !== kvm.lpid || core.sdr1Hi !== kvm.sdr1Hi || core.sdr1Lo !== kvm.sdr1Lo || !core.inGuest))
      return { code: 'J23_SWITCH', message: `core ${core.id} runs vcore ${vc.id} of LPID ${kvm.lpid} with LPID ${core.lpid} / SDR1 not the VM's`, detail: {} };
    if (inGuest === 0 && (core.lpid !== 0 || core.inGuest))
      return { code: 'J23_SWITCH', message: `core ${core.id} is out of the guest but LPID is ${core.lpid}`, detail: {} };
  }
  // J26
  const stale = m.staleTlb;
  if (stale > 0) return { code: 'J26_TLB_FRESHNESS', message: `${stale} use(s) of a TLB entry whose HPTE changed without a tlbie`, detail: {} };
  return null;
}
