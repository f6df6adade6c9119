// The POWER7 hash MMU as the hardware runs it for a guest: real-mode (VRMA/RMA) or SLB lookup,
// the TLB, the PTEG search over hardware-VALID HPTEs, the architectural permission check, R/C
// update, TLB fill, and the storage interrupt raised on failure (to the hypervisor with LPCR.VPM,
// else to the guest). QEMU's target/ppc/mmu-hash64.c is the reference for the architecture;
// kernel-model §B for the POWER7/K34 specifics.
//
// The hardware never looks at KVM's software bits: an ABSENT entry is just "not VALID", and KVM's
// key-31 MMIO mark is just a storage key. The model reaches the partition's table only through the
// HashPageTableVhyp seam (vhyp.ts, QEMU's cpu->vhyp): it reads the HPT in place and hands every R/C
// store back to the owner, which records it (hpte_write, only when R or C actually changes).

import {
  BOOK3S_INTERRUPT_DATA_SEGMENT,
  BOOK3S_INTERRUPT_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_INST_STORAGE,
  BOOK3S_INTERRUPT_INST_SEGMENT,
  BOOK3S_INTERRUPT_INST_STORAGE,
  compute_tlbie_rb,
  DSISR_ISSTORE,
  DSISR_KEYFAULT,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  hpte_page_size,
  hpte_pteg_search,
  hpte_search_key,
  HpteSearchKey,
  HPTE_R_C_LO,
  HPTE_R_R_LO,
  HPTE_V_VALID_LO,
  LPCR_RMLS_LO,
  LPCR_RMLS_SH,
  LPCR_VPM0_HI,
  LPCR_VPM1_HI,
  LPCR_VRMASD_HI,
  MSR_HV_HI,
  PAGE_EXEC,
  PAGE_READ,
  PAGE_WRITE,
  ppc_hash64_amr_prot,
  ppc_hash64_pte_noexec_guard,
  ppc_hash64_pte_prot,
  SLB_VSID_B_1T_HI,
  SLB_VSID_L_LO,
  SLB_VSID_LP_LO,
  SLB_VSID_N_LO,
  slb_key,
  slb_v_base_page_shift,
  SRR1_ISI_N_OR_G,
  SRR1_ISI_NOPT,
  SRR1_ISI_PROT,
  VRMA_VSID_LO,
} from '../arch/index.js';
import { E, K } from '../trace/kinds.js';
import { hash_real_address } from '../arch/hash-translate.js';
import { NO_CAUSE } from '../trace/recorder.js';
import { ANOMALY_STALE_TLB, type Tlb, tlb_entry_stale, tlb_set_of_va } from './tlb.js';
import type { Vcpu } from './vcpu.js';
import type { HashPageTableVhyp } from './vhyp.js';

/** Access types, QEMU's `rwx` (and the fault_triage `access` field). */
export const ACCESS_LOAD = 0;
export const ACCESS_STORE = 1;
export const ACCESS_IFETCH = 2;

/**
 * SRR1 bits an instruction or data storage interrupt sets from the cause (IBM bits 33:36 and
 * 42:47): the rest of SRR1 is copied from MSR.
 */
export const SRR1_CAUSE_MASK = 0x783f0000;

const NEED_PROT = [PAGE_READ, PAGE_WRITE, PAGE_EXEC] as const;
const TWO32 = 0x1_0000_0000;

/** VRMA "SLB" high word: B = 1T and the top bits of VRMA_VSID << 24. */
const VRMA_SLB_V_HI = (SLB_VSID_B_1T_HI | (VRMA_VSID_LO >>> 8)) >>> 0;
const VRMA_SLB_V_LO = ((VRMA_VSID_LO & 0xff) << 24) >>> 0;

/**
 * One hardware thread's view of the partition it runs: which VM (HPT, LPID), this core's TLB, and
 * the LPCR (POWER7) or HID4 (PPC970) the partition switch loaded, decoded by loadLpcr() into the
 * bits the MMU uses. A machine keeps one per core (or per thread) and calls loadLpcr at every
 * guest entry. The `ra*`/`index`/`pshift` fields are the output of the last successful
 * translation (no allocation per access).
 */
export class MmuContext {
  /**
   * The page-table owner of the partition the thread runs (QEMU's cpu->vhyp): the machine sets it
   * from the VM's MMU at every partition switch.
   */
  vhyp: HashPageTableVhyp;
  readonly tlb: Tlb;
  readonly core: number;
  lpcrHi = 0;
  lpcrLo = 0;
  /** Decoded from LPCR (POWER7): VPM0 (VRMA for real mode + HDSI/HISI for real-mode faults), VPM1. */
  vpm0 = false;
  vpm1 = false;
  /** VRMA "SLB" VSID word, low half (B_1T | VRMA_VSID << 24 | L||LP from LPCR.VRMASD). */
  vrmaSlbLo = VRMA_SLB_V_LO;
  /** RMA (VPM0 = 0): size from RMLS (0 = none) and RMOR. PPC970: from HID4. */
  rmaSize = 0;
  rmorHi = 0;
  rmorLo = 0;

  /** Result of the last translation: real address, HPTE index (-1 for RMA), page shift. */
  raHi = 0;
  raLo = 0;
  index = -1;
  pshift = 0;
  /** slb_v used by the last translation attempt (the VRMA value in real mode, 0 if none). */
  slbVHi = 0;
  slbVLo = 0;

  readonly key = new HpteSearchKey();
  private readonly t = new Uint32Array(4);

  constructor(vhyp: HashPageTableVhyp, tlb: Tlb, core: number, lpcrHi: number, lpcrLo: number) {
    this.vhyp = vhyp;
    this.tlb = tlb;
    this.core = core;
    this.loadLpcr(lpcrHi, lpcrLo);
  }

  /**
   * Load LPCR (partition switch) and decode it. POWER7: VPM0/VPM1, VRMASD → the VRMA SLB's L||LP,
   * RMLS → RMA size (RMOR stays as set by the caller). PPC970 (vhyp.arch206 false): the value is
   * HID4; there is no VPM, and the RMA is RMLS (split field) / RMOR (64 MiB units) from HID4.
   */
  // Mirrors ppc_store_lpcr() + ppc_hash64_update_vrma()/update_rmls() (target/ppc/mmu-hash64.c, QEMU)
  loadLpcr(hi: number, lo: number): void {
    this.lpcrHi = hi >>> 0;
    this.lpcrLo = lo >>> 0;
    if (this.vhyp.arch206) {
      this.vpm0 = (hi & LPCR_VPM0_HI) !== 0;
      this.vpm1 = (hi & LPCR_VPM1_HI) !== 0;
      this.vrmaSlbLo = (VRMA_SLB_V_LO | (((hi & LPCR_VRMASD_HI) >>> 11) & (SLB_VSID_L_LO | SLB_VSID_LP_LO))) >>> 0;
      this.rmaSize = rmls_size(lo);
    } else {
      this.vpm0 = false;
      this.vpm1 = false;
      // HID4: RMLS0 at bit 5 (rmls bit 2), RMLS2 at bits 61..62 (rmls bits 1..0); RMOR at 41..56.
      const rmls = (((lo >>> 5) & 1) << 2) | ((hi >>> 29) & 3);
      this.rmaSize = rmls === 0 ? 256 * 2 ** 30 : rmls_size(rmls << 26);
      const rmor = ((hi >>> 9) & 0xffff) * 2 ** 26; // (hid4 >> 41) & 0xffff, in 64 MiB units
      this.rmorHi = Math.floor(rmor / TWO32) >>> 0;
      this.rmorLo = rmor >>> 0;
    }
  }

  /** Scratch for (hi, lo) temporaries. */
  get scratch(): Uint32Array {
    return this.t;
  }
}

/**
 * Size of the RMA selected by LPCR.RMLS (QEMU ppc_hash64_update_rmls; POWER7 subset), 0 if none.
 */
// Mirrors ppc_hash64_update_rmls() (target/ppc/mmu-hash64.c, QEMU)
export function rmls_size(lpcr_lo: number): number {
  switch ((lpcr_lo & LPCR_RMLS_LO) >>> LPCR_RMLS_SH) {
    case 0x8:
      return 0x2000000;
    case 0x3:
      return 0x4000000;
    case 0x7:
      return 0x8000000;
    case 0x4:
      return 0x10000000;
    case 0x2:
      return 0x40000000;
    case 0x1:
      return 0x400000000;
    default:
      return 0;
  }
}

/**
 * Translate guest EA (ea_hi, ea_lo) for access `rwx` on `vcpu`, as the hardware thread does.
 * Returns 0 on success (ctx.raHi/raLo = host real address, ctx.index = HPTE, ctx.pshift), or the
 * interrupt raised:
 *   0x380 / 0x480  segment miss: always to the guest (DAR = EA for data), PC/SRR0/SRR1/MSR updated;
 *   0x300 / 0x400  DSI/ISI delivered straight to the guest (no VPM): recorded as fault_triage 'guest';
 *   0xe00 / 0xe20  HDSI/HISI to the hypervisor: vcpu.hdar/hdsisr/hsrr0/hsrr1 set, guest state
 *                  untouched; the caller runs the real-mode triage (kvmppc_hdsi / kvmppc_hisi).
 * `cause` is the recording cause for the R/C hpte_write and any anomaly / fault_triage event.
 */
// Mirrors ppc_hash64_handle_mmu_fault() (target/ppc/mmu-hash64.c, QEMU) with a POWER7 TLB in front
export function ppc_hash64_handle_mmu_fault(
  ctx: MmuContext,
  vcpu: Vcpu,
  ea_hi: number,
  ea_lo: number,
  rwx: number,
  cause: number = NO_CAUSE,
): number {
  const vhyp = ctx.vhyp;
  const hpt = vhyp.hpt;
  let slb_v_hi: number;
  let slb_v_lo: number;
  const reloc = rwx === ACCESS_IFETCH ? vcpu.msrIR : vcpu.msrDR;

  // 1. Real mode: the VRMA pseudo-segment (LPCR.VPM0) built from LPCR.VRMASD, else the RMA.
  if (!reloc) {
    if (!ctx.vpm0) return rma_access(ctx, vcpu, ea_hi, ea_lo, rwx, cause);
    slb_v_hi = VRMA_SLB_V_HI;
    slb_v_lo = ctx.vrmaSlbLo;
  } else {
    // 2. Translation on: SLB lookup; a miss is a segment interrupt, which always goes to the guest.
    const s = vcpu.slb_lookup(ea_hi, ea_lo);
    if (s < 0) {
      ctx.slbVHi = 0;
      ctx.slbVLo = 0;
      const srr1_lo = (vcpu.msrLo & ~SRR1_CAUSE_MASK) >>> 0;
      if (rwx === ACCESS_IFETCH) {
        vcpu.deliver_interrupt(BOOK3S_INTERRUPT_INST_SEGMENT, vcpu.msrHi, srr1_lo);
        return BOOK3S_INTERRUPT_INST_SEGMENT;
      }
      vcpu.darHi = ea_hi >>> 0;
      vcpu.darLo = ea_lo >>> 0;
      vcpu.deliver_interrupt(BOOK3S_INTERRUPT_DATA_SEGMENT, vcpu.msrHi, srr1_lo);
      return BOOK3S_INTERRUPT_DATA_SEGMENT;
    }
    slb_v_hi = vcpu.slbOrigv[s * 2];
    slb_v_lo = vcpu.slbOrigv[s * 2 + 1];
  }
  ctx.slbVHi = slb_v_hi;
  ctx.slbVLo = slb_v_lo;

  // 3. Segment-level no-execute.
  if (rwx === ACCESS_IFETCH && (slb_v_lo & SLB_VSID_N_LO) !== 0) {
    return storage_interrupt(ctx, vcpu, ea_hi, ea_lo, rwx, reloc, SRR1_ISI_N_OR_G, -1, cause);
  }

  // 4. TLB, else the PTEG search over hardware-VALID entries (primary, then secondary with H = 1).
  const tlb = ctx.tlb;
  const pshift = slb_v_base_page_shift(slb_v_lo);
  const segLo = (slb_v_lo & ~0xfff) >>> 0;
  const is1T = (slb_v_hi & SLB_VSID_B_1T_HI) !== 0;
  const epn = is1T
    ? pshift >= 32
      ? 0
      : ((((ea_hi & 0xff) * TWO32 + (ea_lo >>> 0)) / 2 ** pshift) >>> 0)
    : ((ea_lo & 0x0fffffff) >>> pshift) >>> 0;
  const set = tlb_set_of_va(slb_v_hi, slb_v_lo, ea_lo, pshift, tlb.sets);
  let e = tlb.lookup(vhyp.lpid, set, slb_v_hi, segLo, epn, pshift);
  if (e >= 0 && tlb_entry_stale(tlb, e, hpt)) {
    tlb.counters.stale_tlb++;
    const rec = vhyp.rec;
    if (rec.enabled) {
      rec.emit(K.anomaly, vhyp.lpid, vcpu.vcpu_id, ctx.core, cause)
        .code(ANOMALY_STALE_TLB)
        .severity(2)
        .a(tlb.index[e])
        .b(ea_hi >>> 0, ea_lo >>> 0);
    }
    tlb.valid[e] = 0;
    e = -1;
  }
  let index: number;
  if (e >= 0) {
    index = tlb.index[e];
  } else {
    hpte_search_key(slb_v_hi, slb_v_lo, ea_hi, ea_lo, ctx.key);
    index = hpte_pteg_search(hpt, vhyp.hashMask, ctx.key, HPTE_V_VALID_LO, vhyp.arch206);
    if (index < 0) {
      return storage_interrupt(ctx, vcpu, ea_hi, ea_lo, rwx, reloc, rwx === ACCESS_IFETCH ? SRR1_ISI_NOPT : DSISR_NOHPTE, -1, cause);
    }
  }
  const p = index * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  const r_hi = hpt[p + 2];
  const r_lo = hpt[p + 3];

  // 5. Permissions: PP with the segment key, N/G no-execute, AMR (data, relocated only: as KVM's
  //    triage, the class-key check is not applied to VRMA real-mode accesses).
  const key = slb_key(slb_v_lo, vcpu.msrPR);
  const exec_prot = ppc_hash64_pte_noexec_guard(r_lo);
  const pp_prot = ppc_hash64_pte_prot(key, r_hi, r_lo);
  const amr_prot = reloc && rwx !== ACCESS_IFETCH ? ppc_hash64_amr_prot(r_hi, r_lo, vcpu.amrHi, vcpu.amrLo) : PAGE_READ | PAGE_WRITE | PAGE_EXEC;
  const need = NEED_PROT[rwx];
  if ((need & ~(exec_prot & pp_prot & amr_prot)) !== 0) {
    let status: number;
    if (rwx === ACCESS_IFETCH) {
      status = (PAGE_EXEC & ~exec_prot) !== 0 ? SRR1_ISI_N_OR_G : SRR1_ISI_PROT;
    } else {
      status = 0;
      if ((need & ~pp_prot) !== 0) status |= DSISR_PROTFAULT;
      if ((need & ~amr_prot) !== 0) status |= DSISR_KEYFAULT;
    }
    return storage_interrupt(ctx, vcpu, ea_hi, ea_lo, rwx, reloc, status, index, cause);
  }

  // 6. R (and C on a store) in dword 1, written only when it changes.
  const want = rwx === ACCESS_STORE ? HPTE_R_R_LO | HPTE_R_C_LO : HPTE_R_R_LO;
  let nr_lo = r_lo;
  if ((r_lo & want) !== want) {
    nr_lo = (r_lo | want) >>> 0;
    vhyp.hpteSetRC(index, nr_lo, vcpu.vcpu_id, ctx.core, cause);
  }

  // 7. TLB fill (4K/64K/16M pages) or R/C refresh of the entry that hit.
  if (e >= 0) {
    tlb.hr[e * 2 + 1] = nr_lo;
  } else if (pshift === 12 || pshift === 16 || pshift === 24) {
    const t = ctx.scratch;
    compute_tlbie_rb(v_hi, v_lo, nr_lo, index, vhyp.arch206, t, 0);
    tlb.fill(vhyp.lpid, set, slb_v_hi, segLo, epn, pshift, index, v_hi, v_lo, r_hi, nr_lo, t[0], t[1]);
  }

  // 8. Real address: the RPN above the page size, EA below it (the rule `state --ea` replays too).
  hash_real_address(r_hi, r_lo, hpte_page_size(v_lo, r_lo, vhyp.arch206), ea_hi, ea_lo, ctx);
  ctx.index = index;
  ctx.pshift = pshift;
  return 0;
}

/**
 * Raise a storage interrupt for a failed translation: with VPM (LPCR.VPM1 when relocated, VPM0 in
 * real mode) and the thread not in hypervisor state, HDSI (HDAR/HDSISR) / HISI (HSRR1 cause) to
 * KVM; else DSI / ISI straight to the guest (recorded as fault_triage with decision 'guest').
 * `status` is the DSISR (data; ISSTORE is added here for stores) or the SRR1 cause (fetch).
 */
// Mirrors ppc_hash64_set_dsi() / ppc_hash64_set_isi() (target/ppc/mmu-hash64.c, QEMU)
export function storage_interrupt(
  ctx: MmuContext,
  vcpu: Vcpu,
  ea_hi: number,
  ea_lo: number,
  rwx: number,
  reloc: boolean,
  status: number,
  index: number,
  cause: number = NO_CAUSE,
): number {
  if (rwx === ACCESS_STORE) status |= DSISR_ISSTORE;
  status >>>= 0;
  const vpm = reloc ? ctx.vpm1 : ctx.vpm0;
  const hv = (vcpu.msrHi & MSR_HV_HI) !== 0;
  const srr1_lo = (vcpu.msrLo & ~SRR1_CAUSE_MASK) >>> 0;
  if (vpm && !hv) {
    vcpu.hsrr0Hi = vcpu.pcHi;
    vcpu.hsrr0Lo = vcpu.pcLo;
    vcpu.hsrr1Hi = vcpu.msrHi;
    if (rwx === ACCESS_IFETCH) {
      vcpu.hsrr1Lo = (srr1_lo | status) >>> 0;
      return BOOK3S_INTERRUPT_H_INST_STORAGE;
    }
    vcpu.hsrr1Lo = srr1_lo;
    vcpu.hdarHi = ea_hi >>> 0;
    vcpu.hdarLo = ea_lo >>> 0;
    vcpu.hdsisr = status;
    return BOOK3S_INTERRUPT_H_DATA_STORAGE;
  }
  // Straight to the guest.
  recordGuestFault(ctx, vcpu, ea_hi, ea_lo, rwx, status, index, cause);
  if (rwx === ACCESS_IFETCH) {
    vcpu.deliver_interrupt(BOOK3S_INTERRUPT_INST_STORAGE, vcpu.msrHi, (srr1_lo | status) >>> 0);
    return BOOK3S_INTERRUPT_INST_STORAGE;
  }
  vcpu.darHi = ea_hi >>> 0;
  vcpu.darLo = ea_lo >>> 0;
  vcpu.dsisr = status;
  vcpu.deliver_interrupt(BOOK3S_INTERRUPT_DATA_STORAGE, vcpu.msrHi, srr1_lo);
  return BOOK3S_INTERRUPT_DATA_STORAGE;
}

function recordGuestFault(
  ctx: MmuContext,
  vcpu: Vcpu,
  ea_hi: number,
  ea_lo: number,
  rwx: number,
  status: number,
  index: number,
  cause: number,
): void {
  const vhyp = ctx.vhyp;
  const rec = vhyp.rec;
  if (!rec.enabled) return;
  const gfn = index >= 0 ? vhyp.guestGfnOf(index) : -1;
  rec.emit(K.fault_triage, vhyp.lpid, vcpu.vcpu_id, ctx.core, cause)
    .interrupt(rwx === ACCESS_IFETCH ? E.fault_kind.isi : E.fault_kind.dsi)
    .ea(ea_hi >>> 0, ea_lo >>> 0)
    .status(status)
    .slb_v(ctx.slbVHi, ctx.slbVLo)
    .hpte_index(index)
    .decision(E.fault_decision.guest)
    .out_status(status)
    .gfn(gfn)
    .access(rwx);
}

/**
 * Real-mode access with LPCR.VPM0 = 0 (an RMA): RA = (EA with the top 4 bits ignored) | RMOR if
 * below the RMLS size, else a storage interrupt (PROTFAULT). No HPTE, no TLB entry. Linux 3.4 POWER7
 * VMs run with VPM0 = 1 (VRMA) unless given a preallocated RMA; PPC970 guests always use this.
 */
// Mirrors the RMA branch of ppc_hash64_handle_mmu_fault() step 1 (target/ppc/mmu-hash64.c, QEMU)
function rma_access(ctx: MmuContext, vcpu: Vcpu, ea_hi: number, ea_lo: number, rwx: number, cause: number): number {
  const ra_hi = ea_hi & 0x0fffffff;
  const limit = ctx.rmaSize;
  const ra = ra_hi * TWO32 + (ea_lo >>> 0);
  ctx.slbVHi = 0;
  ctx.slbVLo = 0;
  if (ra < limit) {
    ctx.raHi = (ra_hi | ctx.rmorHi) >>> 0;
    ctx.raLo = ((ea_lo >>> 0) | ctx.rmorLo) >>> 0;
    ctx.index = -1;
    ctx.pshift = 12;
    return 0;
  }
  return storage_interrupt(ctx, vcpu, ea_hi, ea_lo, rwx, false, rwx === ACCESS_IFETCH ? SRR1_ISI_PROT : DSISR_PROTFAULT, -1, cause);
}
