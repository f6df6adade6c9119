// The state of one guest vcpu as the hardware thread running it and KVM's fault paths see it:
// MSR, PC, GPRs, the SLB, AMR, the guest's exception registers (DAR/DSISR/SRR0/SRR1), the
// hypervisor registers a hypervisor storage interrupt loads (HDAR/HDSISR/HSRR0/HSRR1), and the
// `vcpu->arch` fields the Book3S HV fault paths use (fault_dar, pgfault_*, last_inst, MMIO state).
//
// In HV mode the guest's SLB *is* the hardware SLB while the vcpu runs (kernel-model §B: no VSID
// virtualisation): the kernel copies it out on a full exit and back on entry, which changes nothing
// observable, so the model keeps one copy here. A machine layer owns Vcpu instances (one per vcpu of
// a VM) next to its cores; a Vcpu satisfies KvmVcpuRef (vcpu_id, core), so it can be passed
// straight to kvmppc_hcall.
//
// 64-bit registers are (hi, lo) u32 pairs; nothing on the access path allocates.

import {
  HpteSearchKey,
  KVM_INST_FETCH_FAILED,
  MSR_DR_LO,
  MSR_IR_LO,
  MSR_ME_LO,
  MSR_PR_LO,
  MSR_SF_HI,
  SLB_ESID_V_LO,
  SLB_NR_POWER7,
  slb_esid_match,
} from '../arch/index.js';
import { K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';

/** Low 12 bits of slbmte's RB: the SLB slot index (kernel-model §B). */
export const SLB_INDEX_MASK = 0xfff;

export interface VcpuOptions {
  /** The VM's recorder (slb_update events). */
  readonly rec: Recorder;
  /** The VM's LPID (event lpid column). */
  readonly lpid: number;
  /** SLB entries: POWER7 32 (default), PPC970 64. */
  readonly slb_nr?: number;
}

export class Vcpu {
  readonly vcpu_id: number;
  /** Physical core the vcpu currently runs on (event `core` column); -1 when not placed. */
  core = -1;
  readonly rec: Recorder;
  readonly lpid: number;

  // --- Architected thread state ------------------------------------------------------------
  /** MSR. Reset value as kvmppc_mmu_book3s_64_hv_reset_msr(): SF | ME. */
  msrHi = MSR_SF_HI;
  msrLo = MSR_ME_LO;
  pcHi = 0;
  pcLo = 0;
  /** r0..r31 as (hi, lo): r(n) = gpr[2n], gpr[2n + 1]. */
  readonly gpr = new Uint32Array(64);
  /** Authority mask register (storage-key protection, hpte_get_skey_perm / ppc_hash64_amr_prot). */
  amrHi = 0;
  amrLo = 0;

  // --- SLB (kvmppc_slb orige/origv, hardware format) ---------------------------------------
  readonly slb_nr: number;
  /** ESID word per slot as written by slbmte (RB: ESID | V | slot index), (hi, lo) pairs. */
  readonly slbOrige: Uint32Array;
  /** VSID word per slot (RS: B | VSID | Ks Kp N L C LP), (hi, lo) pairs. */
  readonly slbOrigv: Uint32Array;

  // --- Guest exception registers (what a DSI/ISI delivers) ---------------------------------
  darHi = 0;
  darLo = 0;
  dsisr = 0;
  srr0Hi = 0;
  srr0Lo = 0;
  srr1Hi = 0;
  srr1Lo = 0;

  // --- Hypervisor registers set by an HDSI / HISI (read by the real-mode exit path) --------
  hdarHi = 0;
  hdarLo = 0;
  hdsisr = 0;
  hsrr0Hi = 0;
  hsrr0Lo = 0;
  hsrr1Hi = 0;
  hsrr1Lo = 0;

  // --- vcpu->arch fields of the fault paths (Linux 3.4 kvm_host.h) -------------------------
  /** vcpu->arch.trap of the last full exit (BOOK3S_INTERRUPT_*), 0 if none. */
  trap = 0;
  fault_darHi = 0;
  fault_darLo = 0;
  fault_dsisr = 0;
  pgfault_addrHi = 0;
  pgfault_addrLo = 0;
  pgfault_index = -1;
  /** pgfault_hpte[0..1] = (v, r) as [v_hi, v_lo, r_hi, r_lo]. */
  readonly pgfault_hpte = new Uint32Array(4);
  /** u32 image of vcpu->arch.last_inst; KVM_INST_FETCH_FAILED (0xffffffff) when not loaded. */
  last_inst = KVM_INST_FETCH_FAILED;
  /**
   * The instruction word at PC, as the guest model knows it. The model keeps no guest memory
   * contents, so this is what an instruction fetch by KVM (the `lwz` at PC in kvmppc_hdsi, or
   * kvmppc_ld in kvmppc_hv_emulate_mmio) reads. KVM_INST_FETCH_FAILED makes that fetch fail.
   */
  cur_inst = KVM_INST_FETCH_FAILED;

  // --- MMIO state (vcpu->arch.paddr_accessed / io_gpr / mmio_*, kvm_run->mmio) -------------
  paddr_accessedHi = 0;
  paddr_accessedLo = 0;
  /** GPR a pending MMIO load completes into (vcpu->arch.io_gpr), -1 if none. */
  io_gpr = -1;
  /** kvm_run->exit_reason of the last return to the VMM (KVM_EXIT_*). */
  exit_reason = 0;
  /** kvm_run->mmio: the access the VMM must complete. */
  mmio_phys_addr = 0;
  mmio_len = 0;
  mmio_is_write = false;
  /** Store data (big-endian value of mmio_len bytes, ≤ 4 in Linux 3.4) or completed load data. */
  mmio_data = 0;
  /** The access is byte-reversed (lwbrx & co.: is_bigendian = 0). */
  mmio_is_bigendian = true;
  /** Sign-extend the loaded value (lha / lhax: kvmppc_handle_loads). */
  mmio_sign_extend = false;
  /** A KVM_EXIT_MMIO is outstanding (set by kvmppc_handle_load/store, cleared by completion). */
  mmio_needed = false;
  /** Pending program interrupt queued by a failed emulation (kvmppc_core_queue_program). */
  pending_program = false;

  // --- Scratch for the KVM fault paths (never escapes a call) -------------------------------
  /** HPTE search key reused by the real-mode triage. */
  readonly fault_key = new HpteSearchKey();
  /** Outcome (E.page_fault_outcome) of the last virtual-mode page fault, -1 before any. */
  fault_outcome = -1;
  /** HPTE index the last triage found (-1 none); for its fault_triage event. */
  fault_index = -1;
  /** Page-fault snapshot [v_hi, v_lo, r_hi, r_lo, gr_hi, gr_lo] and 64-bit temporaries. */
  readonly fault_snap = new Uint32Array(6);
  readonly fault_tmp = new Uint32Array(4);

  constructor(vcpu_id: number, opts: VcpuOptions) {
    this.vcpu_id = vcpu_id;
    this.rec = opts.rec;
    this.lpid = opts.lpid;
    this.slb_nr = opts.slb_nr ?? SLB_NR_POWER7;
    this.slbOrige = new Uint32Array(this.slb_nr * 2);
    this.slbOrigv = new Uint32Array(this.slb_nr * 2);
  }

  // -------------------------------------------------------------------------------------------
  // MSR bits
  // -------------------------------------------------------------------------------------------

  get msrIR(): boolean {
    return (this.msrLo & MSR_IR_LO) !== 0;
  }
  get msrDR(): boolean {
    return (this.msrLo & MSR_DR_LO) !== 0;
  }
  get msrPR(): boolean {
    return (this.msrLo & MSR_PR_LO) !== 0;
  }

  setMsr(hi: number, lo: number): void {
    this.msrHi = hi >>> 0;
    this.msrLo = lo >>> 0;
  }

  setPc(hi: number, lo: number): void {
    this.pcHi = hi >>> 0;
    this.pcLo = lo >>> 0;
  }

  /** r(n) low word / high word. */
  gprLo(n: number): number {
    return this.gpr[n * 2 + 1];
  }
  gprHi(n: number): number {
    return this.gpr[n * 2];
  }
  setGpr(n: number, hi: number, lo: number): void {
    this.gpr[n * 2] = hi >>> 0;
    this.gpr[n * 2 + 1] = lo >>> 0;
  }

  /** PC + 4 (64-bit add on the halves). */
  advancePc(): void {
    const lo = this.pcLo + 4;
    if (lo > 0xffffffff) {
      this.pcHi = (this.pcHi + 1) >>> 0;
      this.pcLo = lo >>> 0;
    } else {
      this.pcLo = lo;
    }
  }

  // -------------------------------------------------------------------------------------------
  // SLB
  // -------------------------------------------------------------------------------------------

  /**
   * slbmte RS, RB: load SLB slot (RB & 0xfff) with ESID word RB and VSID word RS. Kept as the kernel
   * keeps a saved entry (orige with the index ORed in, origv). A slot ≥ slb_nr is an illegal
   * operand (architecturally undefined): RangeError. Records slb_update.
   */
  // Mirrors slbmte (PowerISA 2.06 Book III-S §5.9.3.2) as saved by kvmppc_hv_entry (Linux 3.4)
  slbmte(rs_hi: number, rs_lo: number, rb_hi: number, rb_lo: number, cause: number = NO_CAUSE): void {
    const slot = rb_lo & SLB_INDEX_MASK;
    if (slot >= this.slb_nr) throw new RangeError(`slbmte: slot ${slot} ≥ slb_nr ${this.slb_nr}`);
    this.slbOrige[slot * 2] = rb_hi >>> 0;
    this.slbOrige[slot * 2 + 1] = rb_lo >>> 0;
    this.slbOrigv[slot * 2] = rs_hi >>> 0;
    this.slbOrigv[slot * 2 + 1] = rs_lo >>> 0;
    const rec = this.rec;
    if (rec.enabled) {
      rec.emit(K.slb_update, this.lpid, this.vcpu_id, this.core, cause)
        .slot(slot)
        .esid(rb_hi >>> 0, rb_lo >>> 0)
        .vsid(rs_hi >>> 0, rs_lo >>> 0);
    }
  }

  /**
   * slbia: invalidate every SLB entry *except entry 0* (PowerISA 2.06: "all SLB entries except
   * SLB entry 0"); that is why KVM's exit path clears the SLB with `slbmte 0,0; slbia`.
   * Records slb_update with slot -1.
   */
  // Mirrors slbia (PowerISA 2.06 Book III-S) as used by the guest exit path (book3s_hv_rmhandlers.S, Linux 3.4)
  slbia(cause: number = NO_CAUSE): void {
    for (let i = 1; i < this.slb_nr; i++) {
      this.slbOrige[i * 2 + 1] = (this.slbOrige[i * 2 + 1] & ~SLB_ESID_V_LO) >>> 0;
    }
    const rec = this.rec;
    if (rec.enabled) {
      rec.emit(K.slb_update, this.lpid, this.vcpu_id, this.core, cause).slot(-1).esid(0, 0).vsid(0, 0);
    }
  }

  /**
   * The first valid SLB slot translating EA (ESID compare under the 256M or 1T mask chosen by the
   * entry's B field), or -1. This is `slbfee.` in the real-mode fault path and
   * kvmppc_mmu_book3s_hv_find_slbe() in virtual mode.
   */
  // Mirrors kvmppc_mmu_book3s_hv_find_slbe() (book3s_64_mmu_hv.c, Linux 3.4)
  slb_lookup(ea_hi: number, ea_lo: number): number {
    const e = this.slbOrige;
    const v = this.slbOrigv;
    for (let i = 0; i < this.slb_nr; i++) if (slb_esid_match(e[i * 2], e[i * 2 + 1], v[i * 2], ea_hi, ea_lo)) return i;
    return -1;
  }

  // -------------------------------------------------------------------------------------------
  // Interrupt delivery to the guest
  // -------------------------------------------------------------------------------------------

  /**
   * Deliver interrupt `vec` to the guest: SRR0 = PC, SRR1 = (srr1), PC = vec, MSR = SF | ME (the
   * value KVM synthesises when it reflects a fault; the hardware's own delivery on POWER7 also
   * clears IR/DR/PR/EE and keeps SF|ME for these vectors).
   */
  // Mirrors the "Synthesize a DSI/ISI for the guest" sequences of kvmppc_hdsi/kvmppc_hisi (book3s_hv_rmhandlers.S, Linux 3.4)
  deliver_interrupt(vec: number, srr1_hi: number, srr1_lo: number): void {
    this.srr0Hi = this.pcHi;
    this.srr0Lo = this.pcLo;
    this.srr1Hi = srr1_hi >>> 0;
    this.srr1Lo = srr1_lo >>> 0;
    this.pcHi = 0;
    this.pcLo = vec >>> 0;
    this.msrHi = MSR_SF_HI;
    this.msrLo = MSR_ME_LO;
  }

  /** slb_v (origv) of slot i as (hi, lo) into out[off], out[off + 1]. */
  slbV(i: number, out: Uint32Array, off = 0): void {
    out[off] = this.slbOrigv[i * 2];
    out[off + 1] = this.slbOrigv[i * 2 + 1];
  }
}
