// Real-mode triage of hypervisor storage interrupts (POWER7, Linux 3.4): kvmppc_hdsi / kvmppc_hisi
// in book3s_hv_rmhandlers.S and kvmppc_hpte_hv_fault in book3s_hv_rm_mmu.c (kernel-model §E.2).
// The guest's own faults are reflected to it as DSI/ISI without leaving real mode; faults KVM
// caused (ABSENT entries, host-forced read-only, emulated MMIO) go to the virtual-mode handler.
//
// Also here: the exit-handler dispatch of the two traps (kvmppc_handle_exit, §G.4) and a driver
// (guest_access) that runs one guest access through MMU → triage → page fault → retry.

import {
  BOOK3S_INTERRUPT_DATA_SEGMENT,
  BOOK3S_INTERRUPT_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  BOOK3S_INTERRUPT_INST_SEGMENT,
  BOOK3S_INTERRUPT_INST_STORAGE,
  DSISR_SRR1_MATCH_64S,
  HSRR1_HISI_WRITE,
  DSISR_ISSTORE,
  DSISR_KEYFAULT,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  hpte_get_skey_perm,
  hpte_is_mmio_key,
  hpte_page_size,
  hpte_read_permission,
  hpte_rpn,
  hpte_write_permission,
  HPTE_R_G_LO,
  HPTE_R_N_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
  KVM_INST_FETCH_FAILED,
  MSR_DR_LO,
  MSR_IR_LO,
  RESUME_HOST,
  slb_key,
  SRR1_ISI_N_OR_G,
  SRR1_ISI_NOPT,
  SRR1_ISI_PROT,
} from '../../arch/index.js';
import { ACCESS_IFETCH, ACCESS_STORE, SRR1_CAUSE_MASK } from '../../hw/mmu.js';
import type { Vcpu } from '../../hw/vcpu.js';
import { E, K } from '../../trace/kinds.js';
import { NO_CAUSE } from '../../trace/recorder.js';
import type { Kvm } from '../kvm.js';
import { kvmppc_hv_find_lock_hpte } from './rm_mmu.js';
import { kvmppc_book3s_hv_page_fault } from './page_fault.js';

/** kvmppc_hpte_hv_fault return values other than a (positive) status to reflect. */
export const HPTE_HV_FAULT_RETRY = 0;
export const HPTE_HV_FAULT_VIRTUAL = -1;
export const HPTE_HV_FAULT_MMIO = -2;

/**
 * Decide what to do about a hypervisor storage fault at `addr` (slb_v = the segment, or the VRMA
 * value in real mode; status = HDSISR, or the low 32 bits of HSRR1 for an instruction fault, as
 * the kernel's `unsigned int status`). Returns:
 *   status > 0  reflect to the guest with this DSISR / SRR1;
 *   0           retry the access (the HPTE became valid, or disappeared under a protection fault);
 *   -1          full exit to the virtual-mode page fault handler;
 *   -2          as -1, after loading the instruction word (emulated MMIO).
 * Steps (kernel-model §E.2):
 * 1. valid = VALID (+ ABSENT for NOHPTE); find_lock_hpte. None: NOHPTE → status, else → 0.
 * 2. Read v (without HVLOCK), r, gr = guest_rpte; unlock.
 * 3. NOHPTE but now VALID → 0.
 * 4. Guest-view permission (KVM's tables, TV6) with key = slb_v & (PR ? Kp : Ks); status &= ~NOHPTE:
 *    fetch: N|G → |ISI_N_OR_G, !read → |ISI_PROT; store: !write → |PROTFAULT; load: !read → |PROTFAULT.
 * 5. Data with MSR.DR: AMR class key of gr (store: bit 1) → |KEYFAULT.
 * 6. pgfault_addr/index/hpte[0..1] = addr, index, v, r.
 * 7. Data with MSR.IR (sic: K34 tests IR here) and hardware key 31 → -2; else -1.
 * The index found is left in vcpu.fault_index (-1 if none) for the caller's event.
 */
// Mirrors kvmppc_hpte_hv_fault() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
export function kvmppc_hpte_hv_fault(
  kvm: Kvm,
  vcpu: Vcpu,
  addr_hi: number,
  addr_lo: number,
  slb_v_hi: number,
  slb_v_lo: number,
  status: number,
  data: boolean,
): number {
  status >>>= 0;
  // 1.
  let valid = HPTE_V_VALID_LO;
  if ((status & DSISR_NOHPTE) !== 0) valid |= HPTE_V_ABSENT_LO;
  const index = kvmppc_hv_find_lock_hpte(kvm, addr_hi, addr_lo, slb_v_hi, slb_v_lo, valid, vcpu.fault_key);
  vcpu.fault_index = index;
  if (index < 0) {
    if ((status & DSISR_NOHPTE) !== 0) return status; // there really was no HPTE
    return HPTE_HV_FAULT_RETRY; // for a protection fault, the HPTE disappeared
  }
  // 2.
  const hpt = kvm.mmu.hpt;
  const p = index * 4;
  const v_hi = hpt[p];
  const v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  const r_hi = hpt[p + 2];
  const r_lo = hpt[p + 3];
  const gr_hi = kvm.mmu.revGuestR[index * 2];
  const gr_lo = kvm.mmu.revGuestR[index * 2 + 1];
  // 3.
  if ((status & DSISR_NOHPTE) !== 0 && (v_lo & HPTE_V_VALID_LO) !== 0) return HPTE_HV_FAULT_RETRY;
  // 4. (DSISR_NOHPTE == SRR1_ISI_NOPT.)
  const key = slb_key(slb_v_lo, vcpu.msrPR);
  status = (status & ~DSISR_NOHPTE) >>> 0;
  if (!data) {
    if ((gr_lo & (HPTE_R_N_LO | HPTE_R_G_LO)) !== 0) return (status | SRR1_ISI_N_OR_G) >>> 0;
    if (!hpte_read_permission(gr_hi, gr_lo, key)) return (status | SRR1_ISI_PROT) >>> 0;
  } else if ((status & DSISR_ISSTORE) !== 0) {
    if (!hpte_write_permission(gr_hi, gr_lo, key)) return (status | DSISR_PROTFAULT) >>> 0;
  } else if (!hpte_read_permission(gr_hi, gr_lo, key)) {
    return (status | DSISR_PROTFAULT) >>> 0;
  }
  // 5.
  if (data && (vcpu.msrLo & MSR_DR_LO) !== 0) {
    let perm = hpte_get_skey_perm(gr_hi, gr_lo, vcpu.amrHi, vcpu.amrLo);
    if ((status & DSISR_ISSTORE) !== 0) perm >>>= 1;
    if ((perm & 1) !== 0) return (status | DSISR_KEYFAULT) >>> 0;
  }
  // 6.
  vcpu.pgfault_addrHi = addr_hi >>> 0;
  vcpu.pgfault_addrLo = addr_lo >>> 0;
  vcpu.pgfault_index = index;
  vcpu.pgfault_hpte[0] = v_hi;
  vcpu.pgfault_hpte[1] = v_lo;
  vcpu.pgfault_hpte[2] = r_hi;
  vcpu.pgfault_hpte[3] = r_lo;
  // 7.
  if (data && (vcpu.msrLo & MSR_IR_LO) !== 0 && hpte_is_mmio_key(r_hi, r_lo)) return HPTE_HV_FAULT_MMIO;
  return HPTE_HV_FAULT_VIRTUAL;
}

/** What the real-mode exit path did with an HDSI / HISI (values of E.fault_decision). */
export const TRIAGE_REFLECT = E.fault_decision.reflect;
export const TRIAGE_RETRY = E.fault_decision.retry;
export const TRIAGE_VIRTUAL = E.fault_decision.virtual;
export const TRIAGE_MMIO = E.fault_decision.mmio;

/**
 * HDSI (0xe00) exit path, in real mode, from the state the hardware left (vcpu.hdar, hdsisr,
 * hsrr1 = guest MSR):
 * 0. last_inst = KVM_INST_FETCH_FAILED (every guest exit stores it unless the trap is 0xe40).
 * 1. Neither NOHPTE nor PROTFAULT → reflect a DSI with the raw HDAR/HDSISR.
 * 2. MSR.DR = 0 → slb_v = kvm->arch.vrma_slb_v; else slbfee. on EA & ~0x0fffffff, none → reflect.
 * 3. fault_dar/fault_dsisr = HDAR/HDSISR; kvmppc_hpte_hv_fault(data = 1):
 *    0 → resume at the same PC; -1 → full exit (trap 0xe00); -2 → load the instruction word into
 *    last_inst (the lwz at PC; here vcpu.cur_inst) then full exit; status → DSI with
 *    DAR = fault_dar, DSISR = status, SRR0 = PC, SRR1 = guest MSR, PC = 0x300, MSR = SF|ME.
 * Returns a TRIAGE_* decision; for VIRTUAL/MMIO vcpu.trap = 0xe00 and the caller does the full exit
 * then kvmppc_handle_exit_hv_fault. Records one fault_triage event.
 */
// Mirrors kvmppc_hdsi (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.4)
export function kvmppc_hdsi(kvm: Kvm, vcpu: Vcpu, core: number = vcpu.core, cause: number = NO_CAUSE): number {
  return hdsi(kvm, vcpu, core, cause, false);
}

/**
 * HDSI exit path of Linux 4.20 (HPT guest): as 3.4, except that when slbfee. finds no SLB entry
 * for a relocated access the guest gets a data *segment* interrupt (0x380, DAR = HDAR, DSISR not
 * written; recorded as reflect with out_status 0) instead of a DSI.
 */
// Mirrors kvmppc_hdsi (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_hdsi_420(kvm: Kvm, vcpu: Vcpu, core: number = vcpu.core, cause: number = NO_CAUSE): number {
  return hdsi(kvm, vcpu, core, cause, true);
}

function hdsi(kvm: Kvm, vcpu: Vcpu, core: number, cause: number, segOnSlbMiss: boolean): number {
  const addr_hi = vcpu.hdarHi;
  const addr_lo = vcpu.hdarLo;
  const status = vcpu.hdsisr >>> 0;
  const msr_lo = vcpu.hsrr1Lo;
  // 0.
  vcpu.last_inst = KVM_INST_FETCH_FAILED;
  vcpu.fault_index = -1;
  let slb_v_hi = 0;
  let slb_v_lo = 0;
  let decision: number;
  let out = 0;
  // 1. + 2.
  let reflectRaw = (status & (DSISR_NOHPTE | DSISR_PROTFAULT)) === 0;
  if (!reflectRaw) {
    if ((msr_lo & MSR_DR_LO) === 0) {
      const a = kvm.mmu;
      slb_v_hi = a.vrma_slb_vHi;
      slb_v_lo = a.vrma_slb_vLo;
    } else {
      const s = vcpu.slb_lookup(addr_hi, addr_lo & ~0x0fffffff);
      if (s < 0) reflectRaw = true;
      else {
        slb_v_hi = vcpu.slbOrigv[s * 2];
        slb_v_lo = vcpu.slbOrigv[s * 2 + 1];
      }
      if (s < 0 && segOnSlbMiss) {
        // 4.20: li r0, BOOK3S_INTERRUPT_DATA_SEGMENT; bne 7f → DAR, SRR0, SRR1 only.
        vcpu.darHi = addr_hi;
        vcpu.darLo = addr_lo;
        vcpu.deliver_interrupt(BOOK3S_INTERRUPT_DATA_SEGMENT, vcpu.hsrr1Hi, msr_lo);
        recordTriage(kvm, vcpu, core, cause, E.fault_kind.hdsi, addr_hi, addr_lo, status, 0, 0, TRIAGE_REFLECT, 0,
          (status & DSISR_ISSTORE) !== 0 ? ACCESS_STORE : 0);
        return TRIAGE_REFLECT;
      }
    }
  }
  if (reflectRaw) {
    vcpu.darHi = addr_hi;
    vcpu.darLo = addr_lo;
    vcpu.dsisr = status;
    vcpu.deliver_interrupt(BOOK3S_INTERRUPT_DATA_STORAGE, vcpu.hsrr1Hi, msr_lo);
    decision = TRIAGE_REFLECT;
    out = status;
  } else {
    // 3.
    vcpu.fault_darHi = addr_hi;
    vcpu.fault_darLo = addr_lo;
    vcpu.fault_dsisr = status;
    const r = kvmppc_hpte_hv_fault(kvm, vcpu, addr_hi, addr_lo, slb_v_hi, slb_v_lo, status, true);
    if (r === HPTE_HV_FAULT_RETRY) {
      decision = TRIAGE_RETRY;
    } else if (r === HPTE_HV_FAULT_VIRTUAL) {
      decision = TRIAGE_VIRTUAL;
      vcpu.trap = BOOK3S_INTERRUPT_H_DATA_STORAGE;
    } else if (r === HPTE_HV_FAULT_MMIO) {
      decision = TRIAGE_MMIO;
      vcpu.trap = BOOK3S_INTERRUPT_H_DATA_STORAGE;
      vcpu.last_inst = vcpu.cur_inst >>> 0; // lwz r8, 0(r10) with MSR.DR on
    } else {
      decision = TRIAGE_REFLECT;
      out = r >>> 0;
      vcpu.darHi = vcpu.fault_darHi;
      vcpu.darLo = vcpu.fault_darLo;
      vcpu.dsisr = out;
      vcpu.deliver_interrupt(BOOK3S_INTERRUPT_DATA_STORAGE, vcpu.hsrr1Hi, msr_lo);
    }
  }
  recordTriage(kvm, vcpu, core, cause, E.fault_kind.hdsi, addr_hi, addr_lo, status, slb_v_hi, slb_v_lo, decision, out,
    (status & DSISR_ISSTORE) !== 0 ? ACCESS_STORE : 0);
  return decision;
}

/**
 * HISI (0xe20) exit path, in real mode: addr = guest PC (HSRR0), status = HSRR1 (guest MSR plus
 * the SRR1 cause bits).
 * 1. No ISI_NOPT → reflect an ISI with SRR1 = HSRR1 (K34 never triages instruction protection
 *    faults).
 * 2. MSR.IR = 0 → VRMA slb_v; else slbfee. on PC & ~0x0fffffff, none → reflect.
 * 3. kvmppc_hpte_hv_fault(data = 0) with the low 32 bits of HSRR1: 0 → retry; -1 → full exit
 *    (trap 0xe20); status → ISI with SRR1 = status. The kernel's `unsigned int status` is
 *    zero-extended into SRR1, so a triaged ISI reflection has SRR1 bits 32..63 (SF) clear —
 *    modelled as the code does it (kernel-model addendum, see the report of this file).
 */
// Mirrors kvmppc_hisi (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.4)
export function kvmppc_hisi(kvm: Kvm, vcpu: Vcpu, core: number = vcpu.core, cause: number = NO_CAUSE): number {
  return hisi(kvm, vcpu, core, cause, false);
}

/**
 * HISI exit path of Linux 4.20 (HPT guest): as 3.4, except that a relocated fetch whose segment
 * slbfee. does not find gets an instruction *segment* interrupt (0x480, SRR1 = HSRR1; recorded as
 * reflect with out_status 0) instead of an ISI.
 */
// Mirrors kvmppc_hisi (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_hisi_420(kvm: Kvm, vcpu: Vcpu, core: number = vcpu.core, cause: number = NO_CAUSE): number {
  return hisi(kvm, vcpu, core, cause, true);
}

function hisi(kvm: Kvm, vcpu: Vcpu, core: number, cause: number, segOnSlbMiss: boolean): number {
  const addr_hi = vcpu.hsrr0Hi;
  const addr_lo = vcpu.hsrr0Lo;
  const srr1_hi = vcpu.hsrr1Hi;
  const srr1_lo = vcpu.hsrr1Lo >>> 0;
  vcpu.last_inst = KVM_INST_FETCH_FAILED;
  vcpu.fault_index = -1;
  let slb_v_hi = 0;
  let slb_v_lo = 0;
  let decision: number;
  let out = 0;
  // 1. + 2.
  let reflectRaw = (srr1_lo & SRR1_ISI_NOPT) === 0;
  if (!reflectRaw) {
    if ((srr1_lo & MSR_IR_LO) === 0) {
      const a = kvm.mmu;
      slb_v_hi = a.vrma_slb_vHi;
      slb_v_lo = a.vrma_slb_vLo;
    } else {
      const s = vcpu.slb_lookup(addr_hi, addr_lo & ~0x0fffffff);
      if (s < 0) reflectRaw = true;
      else {
        slb_v_hi = vcpu.slbOrigv[s * 2];
        slb_v_lo = vcpu.slbOrigv[s * 2 + 1];
      }
      if (s < 0 && segOnSlbMiss) {
        // 4.20: li r0, BOOK3S_INTERRUPT_INST_SEGMENT; bne 7f → SRR0, SRR1 = HSRR1.
        vcpu.deliver_interrupt(BOOK3S_INTERRUPT_INST_SEGMENT, srr1_hi, srr1_lo);
        recordTriage(kvm, vcpu, core, cause, E.fault_kind.hisi, addr_hi, addr_lo, srr1_lo & SRR1_CAUSE_MASK, 0, 0, TRIAGE_REFLECT, 0, ACCESS_IFETCH);
        return TRIAGE_REFLECT;
      }
    }
  }
  if (reflectRaw) {
    vcpu.deliver_interrupt(BOOK3S_INTERRUPT_INST_STORAGE, srr1_hi, srr1_lo);
    decision = TRIAGE_REFLECT;
    out = srr1_lo;
  } else {
    // 3.
    const r = kvmppc_hpte_hv_fault(kvm, vcpu, addr_hi, addr_lo, slb_v_hi, slb_v_lo, srr1_lo, false);
    if (r === HPTE_HV_FAULT_RETRY) {
      decision = TRIAGE_RETRY;
    } else if (r === HPTE_HV_FAULT_VIRTUAL) {
      decision = TRIAGE_VIRTUAL;
      vcpu.trap = BOOK3S_INTERRUPT_H_INST_STORAGE;
    } else {
      decision = TRIAGE_REFLECT;
      out = r >>> 0;
      vcpu.deliver_interrupt(BOOK3S_INTERRUPT_INST_STORAGE, 0, out);
    }
  }
  recordTriage(kvm, vcpu, core, cause, E.fault_kind.hisi, addr_hi, addr_lo, srr1_lo & SRR1_CAUSE_MASK, slb_v_hi, slb_v_lo, decision, out, ACCESS_IFETCH);
  return decision;
}

function recordTriage(
  kvm: Kvm,
  vcpu: Vcpu,
  core: number,
  cause: number,
  kind: number,
  ea_hi: number,
  ea_lo: number,
  status: number,
  slb_v_hi: number,
  slb_v_lo: number,
  decision: number,
  out: number,
  access: number,
): void {
  const rec = kvm.rec;
  if (!rec.enabled) return;
  const index = vcpu.fault_index;
  let gfn = -1;
  if (index >= 0) {
    const gr_lo = kvm.mmu.revGuestR[index * 2 + 1];
    const psize = hpte_page_size(kvm.mmu.hpt[index * 4 + 1], gr_lo, kvm.arch206);
    if (psize !== 0) gfn = hpte_rpn(kvm.mmu.revGuestR[index * 2], gr_lo, psize, kvm.pageShift);
  }
  rec.emit(K.fault_triage, kvm.lpid, vcpu.vcpu_id, core, cause)
    .interrupt(kind)
    .ea(ea_hi >>> 0, ea_lo >>> 0)
    .status(status >>> 0)
    .slb_v(slb_v_hi >>> 0, slb_v_lo >>> 0)
    .hpte_index(index)
    .decision(decision)
    .out_status(out >>> 0)
    .gfn(gfn)
    .access(access);
}

/**
 * The storage-fault arms of kvmppc_handle_exit (kernel-model §G.4), run in host virtual mode after
 * the full exit: 0xe00 → page fault at fault_dar with fault_dsisr; 0xe20 → page fault at the PC
 * with dsisr 0 (K34). Returns RESUME_* or a negative errno (KVM_RUN fails). Any other trap:
 * RESUME_HOST (not a storage fault; not this function's business).
 */
// Mirrors the BOOK3S_INTERRUPT_H_DATA_STORAGE / H_INST_STORAGE cases of kvmppc_handle_exit() (book3s_hv.c, Linux 3.4)
export function kvmppc_handle_exit_hv_fault(kvm: Kvm, vcpu: Vcpu, cause: number = NO_CAUSE): number {
  if (vcpu.trap === BOOK3S_INTERRUPT_H_DATA_STORAGE) {
    return kvmppc_book3s_hv_page_fault(kvm, vcpu, vcpu.fault_darHi, vcpu.fault_darLo, vcpu.fault_dsisr, cause);
  }
  if (vcpu.trap === BOOK3S_INTERRUPT_H_INST_STORAGE) {
    return kvmppc_book3s_hv_page_fault(kvm, vcpu, vcpu.pcHi, vcpu.pcLo, 0, cause);
  }
  return RESUME_HOST;
}

/**
 * The storage-fault arms of kvmppc_handle_exit_hv in Linux 4.20: 0xe00 as 3.4; 0xe20 passes
 * fault_dar = PC and fault_dsisr = MSR & DSISR_SRR1_MATCH_64S (| ISSTORE if HSRR1_HISI_WRITE)
 * to the page fault (3.4 passes 0). The MSR here is the guest MSR the exit saved (HSRR1, with the
 * SRR1 cause bits). The fault itself runs after RESUME_PAGE_FAULT in kvmppc_vcpu_run_hv; the
 * model runs it here.
 */
// Mirrors the BOOK3S_INTERRUPT_H_DATA_STORAGE / H_INST_STORAGE cases of kvmppc_handle_exit_hv() (book3s_hv.c, Linux 4.20, tree sjitindarsingh/linux)
export function kvmppc_handle_exit_hv_fault_420(kvm: Kvm, vcpu: Vcpu, cause: number = NO_CAUSE): number {
  if (vcpu.trap === BOOK3S_INTERRUPT_H_INST_STORAGE) {
    const msr_lo = vcpu.hsrr1Lo >>> 0;
    let dsisr = (msr_lo & DSISR_SRR1_MATCH_64S) >>> 0;
    if ((msr_lo & HSRR1_HISI_WRITE) !== 0) dsisr = (dsisr | DSISR_ISSTORE) >>> 0;
    vcpu.fault_darHi = vcpu.pcHi;
    vcpu.fault_darLo = vcpu.pcLo;
    vcpu.fault_dsisr = dsisr;
    return kvmppc_book3s_hv_page_fault(kvm, vcpu, vcpu.pcHi, vcpu.pcLo, dsisr, cause);
  }
  return kvmppc_handle_exit_hv_fault(kvm, vcpu, cause);
}
