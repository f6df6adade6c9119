// One guest access run to completion on the machine: the loop around KVM's exit handling that the
// vcpu run path (kvmppc_vcpu_run_hv → kvmppc_run_vcpu → kvmppc_handle_exit_hv, book3s_hv.c,
// Linux 3.4) and the VMM's KVM_RUN loop form. It lives in machine/ because it composes the
// hardware MMU (hw/), KVM's triage and fault handlers (kvm/, reached through the VM's ops table
// so that the run loop does not know which MMU the VM has) and the VMM's device model.

import { BOOK3S_INTERRUPT_DATA_STORAGE, BOOK3S_INTERRUPT_H_DATA_STORAGE, BOOK3S_INTERRUPT_H_INST_STORAGE, BOOK3S_INTERRUPT_INST_STORAGE, RESUME_FLAG_HOST } from '../arch/index.js';
import { ACCESS_IFETCH, type MmuContext, ppc_hash64_handle_mmu_fault } from '../hw/mmu.js';
import type { Vcpu } from '../hw/vcpu.js';
import type { Kvm } from '../kvm/kvm.js';
import { kvm_vmm_complete_mmio, type MmioDevice } from '../kvm/mmio.js';
import { E } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';

/** What guest_access did. */
export interface GuestAccessHost {
  /** Full exit of the vcpu with `trap` (partition switch etc.); returns the recording cause to use. */
  fullExit?(vcpu: Vcpu, trap: number, cause: number): number;
  /** Re-entry into the guest after a full exit. */
  enterGuest?(vcpu: Vcpu, cause: number): void;
  /** The VMM's MMIO device model (KVM_EXIT_MMIO completion). */
  mmio?: MmioDevice;
}

/** Result codes of guest_access beyond "translated" (0) and interrupt vectors. */
export const GUEST_ACCESS_EMULATED = -1;
export const GUEST_ACCESS_ERROR = -2;
export const GUEST_ACCESS_GAVE_UP = -3;

/**
 * Run one guest access to completion as the machine would: MMU translate; on HDSI/HISI the
 * real-mode triage; for virtual/MMIO decisions a full exit (host.fullExit), the virtual-mode fault
 * handler, the VMM's MMIO completion (KVM_EXIT_MMIO) and re-entry (host.enterGuest); then retry.
 * Returns 0 when the access translated (ctx.raHi/raLo/index valid), the vector of an interrupt now
 * delivered to the guest (0x300, 0x380, 0x400, 0x480: the guest's handler runs next),
 * GUEST_ACCESS_EMULATED when the access was an emulated MMIO access (completed, PC advanced),
 * GUEST_ACCESS_ERROR when the fault handler returned an error (-EFAULT: KVM_RUN fails), or
 * GUEST_ACCESS_GAVE_UP after `maxRounds` retries (e.g. a notifier invalidation that never ends).
 */
// The run loop around KVM's fault paths (kvmppc_vcpu_run_hv → kvmppc_run_vcpu → kvmppc_handle_exit_hv, Linux 3.4)
export function guest_access(
  kvm: Kvm,
  ctx: MmuContext,
  vcpu: Vcpu,
  ea_hi: number,
  ea_lo: number,
  rwx: number,
  host: GuestAccessHost = {},
  cause: number = NO_CAUSE,
  maxRounds = 8,
): number {
  for (let round = 0; round < maxRounds; round++) {
    const irq = ppc_hash64_handle_mmu_fault(ctx, vcpu, ea_hi, ea_lo, rwx, cause);
    if (irq === 0) return 0;
    if (irq !== BOOK3S_INTERRUPT_H_DATA_STORAGE && irq !== BOOK3S_INTERRUPT_H_INST_STORAGE) return irq;
    // The VM's own hypervisor-fault path (kvm.ops: the hash MMU's kvmppc_hdsi / kvmppc_hisi today).
    // Its real-mode triage takes its time before the decision is recorded.
    kvm.clock.charge(kvm.clock.t.hdsiTriage);
    const ops = kvm.ops;
    const d = irq === BOOK3S_INTERRUPT_H_DATA_STORAGE ? ops.hdsi(kvm, vcpu, ctx.core, cause) : ops.hisi(kvm, vcpu, ctx.core, cause);
    if (d === E.fault_decision.reflect) return rwx === ACCESS_IFETCH ? BOOK3S_INTERRUPT_INST_STORAGE : BOOK3S_INTERRUPT_DATA_STORAGE;
    if (d === E.fault_decision.retry) continue;
    const c = host.fullExit ? host.fullExit(vcpu, vcpu.trap, cause) : cause;
    const pcHi = vcpu.pcHi;
    const pcLo = vcpu.pcLo;
    const ret = ops.handleExitHvFault(kvm, vcpu, c);
    if (ret < 0) return GUEST_ACCESS_ERROR; // KVM_RUN fails: no re-entry
    if (vcpu.mmio_needed) {
      // KVM_EXIT_MMIO: the VMM completes the access, then KVM_RUN re-enters (PC already advanced).
      kvm.clock.charge(kvm.clock.t.vmmExit);
      if (host.mmio) kvm_vmm_complete_mmio(kvm, vcpu, host.mmio, c);
      if (host.enterGuest) host.enterGuest(vcpu, c);
      return GUEST_ACCESS_EMULATED;
    }
    if ((ret & RESUME_FLAG_HOST) !== 0) return GUEST_ACCESS_ERROR; // e.g. emulation failure
    if (host.enterGuest) host.enterGuest(vcpu, c);
    if (vcpu.pcHi !== pcHi || vcpu.pcLo !== pcLo) return GUEST_ACCESS_EMULATED;
  }
  return GUEST_ACCESS_GAVE_UP;
}
