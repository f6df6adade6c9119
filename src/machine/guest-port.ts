// The guest OS's view of the machine (GuestPort): hcalls, SLB instructions and memory accesses of
// a relocated guest, with the outcome mapped to what the guest observes (completed, DSI/ISI with
// its DSISR / SRR1 cause bits, segment interrupt).

import { BOOK3S_INTERRUPT_DATA_SEGMENT, BOOK3S_INTERRUPT_DATA_STORAGE, BOOK3S_INTERRUPT_INST_SEGMENT, BOOK3S_INTERRUPT_INST_STORAGE } from '../arch/reg.js';
import { LWZ_R3_0_R4, STW_R3_0_R4 } from './scenario-runner.js';
import { ACCESS_FAILED, ACCESS_OK, ACCESS_SEGMENT, ACCESS_STORAGE, type AccessKind, type GuestPort, STORE } from '../guest/os.js';
import { SRR1_CAUSE_MASK } from '../hw/mmu.js';
import { GUEST_ACCESS_EMULATED } from './guest-access.js';
import type { Machine } from './machine.js';

export class MachinePort implements GuestPort {
  status = 0;
  constructor(readonly m: Machine) {}

  hcall(vcpu: number, nr: number, regs: Uint32Array, opId: number): number {
    return this.m.hcall(this.m.vcpus[vcpu], nr, regs, opId);
  }

  slbmte(vcpu: number, rs_hi: number, rs_lo: number, rb_hi: number, rb_lo: number): void {
    this.m.hw[vcpu].slbmte(rs_hi, rs_lo, rb_hi, rb_lo);
  }

  slbia(vcpu: number): void {
    this.m.hw[vcpu].slbia();
  }

  access(vcpu: number, ea_hi: number, ea_lo: number, kind: AccessKind, pr: boolean, opId: number): number {
    const m = this.m;
    const r = m.access(m.vcpus[vcpu], ea_hi, ea_lo, kind, true, true, pr, kind === STORE ? STW_R3_0_R4 : LWZ_R3_0_R4, opId);
    if (r === 0 || r === GUEST_ACCESS_EMULATED) return ACCESS_OK;
    if (r === BOOK3S_INTERRUPT_DATA_SEGMENT || r === BOOK3S_INTERRUPT_INST_SEGMENT) return ACCESS_SEGMENT;
    const h = m.hw[vcpu];
    if (r === BOOK3S_INTERRUPT_DATA_STORAGE) {
      this.status = h.dsisr;
      return ACCESS_STORAGE;
    }
    if (r === BOOK3S_INTERRUPT_INST_STORAGE) {
      this.status = h.srr1Lo & SRR1_CAUSE_MASK;
      return ACCESS_STORAGE;
    }
    return ACCESS_FAILED;
  }
}
