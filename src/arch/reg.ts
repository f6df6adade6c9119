// Registers and their fields: MSR, DSISR / SRR1 fault bits, LPCR, HID4, SPR numbers, trap numbers,
// plus the load/store direction test KVM applies before emulating MMIO.
//
// Naming as in word.ts: fields of 64-bit registers (MSR, LPCR, HID4) are NAME (bigint) plus nonzero
// NAME_HI / NAME_LO halves; *_SH / *_LG bit positions are numbers. DSISR and the SRR1 fault-cause
// bits are plain numbers: KVM carries them in a 32-bit `unsigned int status`, and the SRR1 causes all
// sit in the low word.

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/reg.h (Linux 3.4): MSR
// ---------------------------------------------------------------------------------------------

export const MSR_SF_LG = 63;
export const MSR_HV_LG = 60;
export const MSR_EE_LG = 15;
export const MSR_PR_LG = 14;
export const MSR_ME_LG = 12;
export const MSR_IR_LG = 5;
export const MSR_DR_LG = 4;
export const MSR_RI_LG = 1;
export const MSR_LE_LG = 0;

/** 64-bit mode. */
export const MSR_SF = 0x8000000000000000n;
export const MSR_SF_HI = 0x80000000;
/** Hypervisor state. */
export const MSR_HV = 0x1000000000000000n;
export const MSR_HV_HI = 0x10000000;
export const MSR_EE = 0x8000n;
export const MSR_EE_LO = 0x8000;
/** Problem state (user mode). */
export const MSR_PR = 0x4000n;
export const MSR_PR_LO = 0x4000;
export const MSR_ME = 0x1000n;
export const MSR_ME_LO = 0x1000;
/** Instruction relocation on. */
export const MSR_IR = 0x20n;
export const MSR_IR_LO = 0x20;
/** Data relocation on. */
export const MSR_DR = 0x10n;
export const MSR_DR_LO = 0x10;
export const MSR_RI = 0x2n;
export const MSR_RI_LO = 0x2;
export const MSR_LE = 0x1n;
export const MSR_LE_LO = 0x1;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/reg.h (Linux 3.4): DSISR and SRR1 fault causes (32-bit values)
// ---------------------------------------------------------------------------------------------

export const DSISR_NOHPTE = 0x40000000;
export const DSISR_PROTFAULT = 0x08000000;
export const DSISR_ISSTORE = 0x02000000;
export const DSISR_DABRMATCH = 0x00400000;
export const DSISR_NOSEGMENT = 0x00200000;
/** Same bit as DSISR_NOSEGMENT. */
export const DSISR_KEYFAULT = 0x00200000;
/** K420 additions. */
export const DSISR_ATTR_CONFLICT = 0x20000000;
export const DSISR_NOEXEC_OR_G = 0x10000000;
export const DSISR_BADACCESS = 0x04000000;
export const DSISR_UNSUPP_MMU = 0x00080000;
export const DSISR_SET_RC = 0x00040000;
export const DSISR_PRTABLE_FAULT = 0x00020000;
export const DSISR_BAD_COPYPASTE = 0x00000008;
/** K420: the SRR1 bits of an HISI that mean the same as these DSISR bits. */
export const DSISR_SRR1_MATCH_64S =
  DSISR_NOHPTE |
  DSISR_NOEXEC_OR_G |
  DSISR_PROTFAULT |
  DSISR_KEYFAULT |
  DSISR_UNSUPP_MMU |
  DSISR_SET_RC |
  DSISR_PRTABLE_FAULT;

/** ISI: no HPTE found (same value as DSISR_NOHPTE; KVM relies on that). */
export const SRR1_ISI_NOPT = 0x40000000;
/** ISI: no-execute or guarded page. */
export const SRR1_ISI_N_OR_G = 0x10000000;
/** ISI: other protection fault. */
export const SRR1_ISI_PROT = 0x08000000;
/** K420: HSRR1 bit of an HISI caused by a store (for the nested fault path). */
export const HSRR1_HISI_WRITE = 0x00010000;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/reg.h (Linux 3.4): LPCR (SPR 0x13E)
// ---------------------------------------------------------------------------------------------

export const LPCR_VPM0 = 0x8000000000000000n;
export const LPCR_VPM0_HI = 0x80000000;
export const LPCR_VPM1 = 0x4000000000000000n;
export const LPCR_VPM1_HI = 0x40000000;
export const LPCR_ISL = 0x2000000000000000n;
export const LPCR_ISL_HI = 0x20000000;
export const LPCR_VC_SH = 61;
export const LPCR_DPFD_SH = 52;
export const LPCR_VRMASD = 0x000f800000000000n;
export const LPCR_VRMASD_HI = 0x000f8000;
export const LPCR_VRMA_L = 0x0008000000000000n;
export const LPCR_VRMA_L_HI = 0x00080000;
export const LPCR_VRMA_LP0 = 0x0001000000000000n;
export const LPCR_VRMA_LP0_HI = 0x00010000;
export const LPCR_VRMA_LP1 = 0x0000800000000000n;
export const LPCR_VRMA_LP1_HI = 0x00008000;
export const LPCR_VRMASD_SH = 47;
/** Real mode limit selector (values up to 8 are written). */
export const LPCR_RMLS = 0x1c000000n;
export const LPCR_RMLS_LO = 0x1c000000;
export const LPCR_RMLS_SH = 26;
export const LPCR_ILE = 0x02000000n;
export const LPCR_ILE_LO = 0x02000000;
/** K34 width; K420 widens PECE to 0x1f000. */
export const LPCR_PECE = 0x7000n;
export const LPCR_PECE_LO = 0x7000;
export const LPCR_PECE0 = 0x4000n;
export const LPCR_PECE0_LO = 0x4000;
export const LPCR_PECE1 = 0x2000n;
export const LPCR_PECE1_LO = 0x2000;
export const LPCR_PECE2 = 0x1000n;
export const LPCR_PECE2_LO = 0x1000;
export const LPCR_MER = 0x800n;
export const LPCR_MER_LO = 0x800;
export const LPCR_LPES = 0xcn;
export const LPCR_LPES_LO = 0xc;
export const LPCR_LPES0 = 0x8n;
export const LPCR_LPES0_LO = 0x8;
export const LPCR_LPES1 = 0x4n;
export const LPCR_LPES1_LO = 0x4;
export const LPCR_LPES_SH = 2;
export const LPCR_RMI = 0x2n;
export const LPCR_RMI_LO = 0x2;
export const LPCR_HDICE = 0x1n;
export const LPCR_HDICE_LO = 0x1;
/** K420 additions. */
export const LPCR_AIL = 0x0000000001800000n;
export const LPCR_AIL_LO = 0x01800000;
export const LPCR_UPRT = 0x0000000000400000n;
export const LPCR_UPRT_LO = 0x00400000;
export const LPCR_HR = 0x0000000000100000n;
export const LPCR_HR_LO = 0x00100000;
export const LPCR_LD = 0x0000000000020000n;
export const LPCR_LD_LO = 0x00020000;
export const LPCR_GTSE = 0x400n;
export const LPCR_GTSE_LO = 0x400;
export const LPCR_TC = 0x200n;
export const LPCR_TC_LO = 0x200;
export const LPCR_HVICE = 0x2n;
export const LPCR_HVICE_LO = 0x2;

/**
 * RMLS field value for an RMA of `rma_size` bytes, or -1 if that size has no encoding. 32 MiB exists
 * only on POWER7 (arch206).
 */
// Mirrors lpcr_rmls() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
export function lpcr_rmls(rma_size: number, arch206: boolean): number {
  switch (rma_size) {
    case 32 * 2 ** 20:
      return arch206 ? 8 : -1;
    case 64 * 2 ** 20:
      return 3;
    case 128 * 2 ** 20:
      return 7;
    case 256 * 2 ** 20:
      return 4;
    case 2 ** 30:
      return 2;
    case 16 * 2 ** 30:
      return 1;
    case 256 * 2 ** 30:
      return 0;
    default:
      return -1;
  }
}

/** LPCR VRMASD bits for an SLB L||LP encoding: senc << (LPCR_VRMASD_SH - 4). */
// Mirrors the VRMASD update in kvmppc_hv_setup_rma() (book3s_hv.c, Linux 3.4)
export function lpcr_vrmasd(senc: number): bigint {
  return BigInt(senc) << BigInt(LPCR_VRMASD_SH - 4);
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/reg.h (Linux 3.4): HID4, the PPC970's LPCR
// ---------------------------------------------------------------------------------------------

export const HID4_LPES0 = 0x8000000000000000n;
export const HID4_LPES0_HI = 0x80000000;
/** Real mode limit, low 2 bits (2-bit field). */
export const HID4_RMLS2_SH = 61;
/** LPID low 4 bits (4-bit field). */
export const HID4_LPID5_SH = 57;
/** Real mode offset in 64 MiB units (16-bit field). */
export const HID4_RMOR_SH = 41;
export const HID4_LPES1 = 0x40n;
export const HID4_LPES1_LO = 0x40;
/** Real mode limit, top bit (1-bit field). */
export const HID4_RMLS0_SH = 5;
/** LPID top 2 bits (2-bit field). */
export const HID4_LPID1_SH = 0;

/** Insert a 6-bit LPID into HID4 (split field: lpid & 0xf at LPID5, lpid >> 4 at LPID1). */
// Mirrors the PPC970 branch of kvmppc_core_init_vm() (book3s_hv.c, Linux 3.4)
export function hid4_set_lpid(hid4: bigint, lpid: number): bigint {
  const M64 = (1n << 64n) - 1n;
  let v = hid4 & (~((3n << BigInt(HID4_LPID1_SH)) | (0xfn << BigInt(HID4_LPID5_SH))) & M64);
  v |= (BigInt(lpid >> 4) << BigInt(HID4_LPID1_SH)) | (BigInt(lpid & 0xf) << BigInt(HID4_LPID5_SH));
  return v;
}

/**
 * Insert RMLS (split: rmls >> 2 at RMLS0, rmls & 3 at RMLS2) and RMOR (RMA base in 64 MiB units,
 * base_pfn >> (26 - pageShift), 16 bits) into HID4. ORs RMOR in without clearing it, as the kernel does.
 */
// Mirrors the PPC970 branch of kvmppc_hv_setup_rma() (book3s_hv.c, Linux 3.4)
export function hid4_set_rma(hid4: bigint, rmls: number, base_pfn: number, pageShift: number): bigint {
  const M64 = (1n << 64n) - 1n;
  let v = hid4 & (~((1n << BigInt(HID4_RMLS0_SH)) | (3n << BigInt(HID4_RMLS2_SH))) & M64);
  v |= (BigInt(rmls >> 2) << BigInt(HID4_RMLS0_SH)) | (BigInt(rmls & 3) << BigInt(HID4_RMLS2_SH));
  const rmor = (BigInt(base_pfn) >> BigInt(26 - pageShift)) & 0xffffn;
  v |= rmor << BigInt(HID4_RMOR_SH);
  return v & M64;
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/reg.h (Linux 3.4): SPR numbers
// ---------------------------------------------------------------------------------------------

export const SPRN_DSISR = 0x012;
export const SPRN_DAR = 0x013;
export const SPRN_DEC = 0x016;
export const SPRN_SDR1 = 0x019;
export const SPRN_SRR0 = 0x01a;
export const SPRN_SRR1 = 0x01b;
export const SPRN_AMR = 0x01d;
export const SPRN_PVR = 0x11f;
export const SPRN_HDSISR = 0x132;
export const SPRN_HDAR = 0x133;
export const SPRN_HDEC = 0x136;
export const SPRN_RMOR = 0x138;
export const SPRN_HRMOR = 0x139;
export const SPRN_HSRR0 = 0x13a;
export const SPRN_HSRR1 = 0x13b;
export const SPRN_LPCR = 0x13e;
export const SPRN_LPID = 0x13f;
export const SPRN_HID0 = 0x3f0;
export const SPRN_HID4 = 0x3f4;
export const SPRN_PIR = 0x3ff;
/** 970: HDEC interrupt enable bit position in HID0. */
export const HID0_HDICE_SH = 40;

/** LPID loaded while switching partitions (POWER7); never a guest's. */
export const LPID_RSVD = 0x3ff;
/** PPC970 has 6-bit LPIDs; 63 plays LPID_RSVD's role there. */
// From book3s_64_mmu_hv.c (Linux 3.4)
export const MAX_LPID_970 = 63;
/** Size of the LPID allocation bitmap (host LPID and the reserved one pre-set). */
export const NR_LPIDS = LPID_RSVD + 1;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_asm.h (Linux 3.4): trap numbers (vcpu->arch.trap)
// ---------------------------------------------------------------------------------------------

export const BOOK3S_INTERRUPT_SYSTEM_RESET = 0x100;
export const BOOK3S_INTERRUPT_MACHINE_CHECK = 0x200;
export const BOOK3S_INTERRUPT_DATA_STORAGE = 0x300;
export const BOOK3S_INTERRUPT_DATA_SEGMENT = 0x380;
export const BOOK3S_INTERRUPT_INST_STORAGE = 0x400;
export const BOOK3S_INTERRUPT_INST_SEGMENT = 0x480;
export const BOOK3S_INTERRUPT_EXTERNAL = 0x500;
export const BOOK3S_INTERRUPT_EXTERNAL_LEVEL = 0x501;
export const BOOK3S_INTERRUPT_EXTERNAL_HV = 0x502;
export const BOOK3S_INTERRUPT_ALIGNMENT = 0x600;
export const BOOK3S_INTERRUPT_PROGRAM = 0x700;
export const BOOK3S_INTERRUPT_FP_UNAVAIL = 0x800;
export const BOOK3S_INTERRUPT_DECREMENTER = 0x900;
export const BOOK3S_INTERRUPT_HV_DECREMENTER = 0x980;
export const BOOK3S_INTERRUPT_SYSCALL = 0xc00;
export const BOOK3S_INTERRUPT_TRACE = 0xd00;
export const BOOK3S_INTERRUPT_H_DATA_STORAGE = 0xe00;
export const BOOK3S_INTERRUPT_H_INST_STORAGE = 0xe20;
export const BOOK3S_INTERRUPT_H_EMUL_ASSIST = 0xe40;
export const BOOK3S_INTERRUPT_PERFMON = 0xf00;
export const BOOK3S_INTERRUPT_ALTIVEC = 0xf20;
export const BOOK3S_INTERRUPT_VSX = 0xf40;
/** K420 additions. */
export const BOOK3S_INTERRUPT_DOORBELL = 0xa00;
export const BOOK3S_INTERRUPT_HMI = 0xe60;
export const BOOK3S_INTERRUPT_H_DOORBELL = 0xe80;
export const BOOK3S_INTERRUPT_H_VIRT = 0xea0;
export const BOOK3S_INTERRUPT_H_FAC_UNAVAIL = 0xf80;
export const BOOK3S_INTERRUPT_HV_SOFTPATCH = 0x1500;
/** K420 software value, never a hardware vector. */
export const BOOK3S_INTERRUPT_HV_RM_HARD = 0x5555;

const TRAPS = {
  SYSTEM_RESET: BOOK3S_INTERRUPT_SYSTEM_RESET,
  MACHINE_CHECK: BOOK3S_INTERRUPT_MACHINE_CHECK,
  DATA_STORAGE: BOOK3S_INTERRUPT_DATA_STORAGE,
  DATA_SEGMENT: BOOK3S_INTERRUPT_DATA_SEGMENT,
  INST_STORAGE: BOOK3S_INTERRUPT_INST_STORAGE,
  INST_SEGMENT: BOOK3S_INTERRUPT_INST_SEGMENT,
  EXTERNAL: BOOK3S_INTERRUPT_EXTERNAL,
  EXTERNAL_LEVEL: BOOK3S_INTERRUPT_EXTERNAL_LEVEL,
  EXTERNAL_HV: BOOK3S_INTERRUPT_EXTERNAL_HV,
  ALIGNMENT: BOOK3S_INTERRUPT_ALIGNMENT,
  PROGRAM: BOOK3S_INTERRUPT_PROGRAM,
  FP_UNAVAIL: BOOK3S_INTERRUPT_FP_UNAVAIL,
  DECREMENTER: BOOK3S_INTERRUPT_DECREMENTER,
  HV_DECREMENTER: BOOK3S_INTERRUPT_HV_DECREMENTER,
  SYSCALL: BOOK3S_INTERRUPT_SYSCALL,
  TRACE: BOOK3S_INTERRUPT_TRACE,
  H_DATA_STORAGE: BOOK3S_INTERRUPT_H_DATA_STORAGE,
  H_INST_STORAGE: BOOK3S_INTERRUPT_H_INST_STORAGE,
  H_EMUL_ASSIST: BOOK3S_INTERRUPT_H_EMUL_ASSIST,
  PERFMON: BOOK3S_INTERRUPT_PERFMON,
  ALTIVEC: BOOK3S_INTERRUPT_ALTIVEC,
  VSX: BOOK3S_INTERRUPT_VSX,
  DOORBELL: BOOK3S_INTERRUPT_DOORBELL,
  HMI: BOOK3S_INTERRUPT_HMI,
  H_DOORBELL: BOOK3S_INTERRUPT_H_DOORBELL,
  H_VIRT: BOOK3S_INTERRUPT_H_VIRT,
  H_FAC_UNAVAIL: BOOK3S_INTERRUPT_H_FAC_UNAVAIL,
  HV_SOFTPATCH: BOOK3S_INTERRUPT_HV_SOFTPATCH,
  HV_RM_HARD: BOOK3S_INTERRUPT_HV_RM_HARD,
} as const;

/**
 * Trap number → short name without the BOOK3S_INTERRUPT_ prefix ('H_DATA_STORAGE'), as the
 * kvm_trace_symbol_exit table prints them (K420 trace_book3s.h).
 */
export const BOOK3S_INTERRUPT_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(TRAPS).map(([name, nr]) => [nr, name] as [number, string]),
);

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_asm.h (Linux 3.4): instruction fetch sentinel
// ---------------------------------------------------------------------------------------------

/**
 * The kernel's KVM_INST_FETCH_FAILED is -1, compared against the u32 vcpu->arch.last_inst, so the
 * value a last_inst word holds is 0xffffffff. This is that u32 image.
 */
export const KVM_INST_FETCH_FAILED = 0xffffffff;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/kvm/book3s_64_mmu_hv.c (Linux 3.4)
// ---------------------------------------------------------------------------------------------

/**
 * Load or store? For primary opcode 31 (X-form) bit 0x100 of the instruction, otherwise bit
 * 0x10000000. Meaningful only if the instruction is a load or store (server processors).
 */
// Mirrors instruction_is_store() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function instruction_is_store(instr: number): boolean {
  const mask = (instr & 0xfc000000) >>> 0 === 0x7c000000 ? 0x100 : 0x10000000;
  return (instr & mask) !== 0;
}
