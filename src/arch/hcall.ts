// PAPR hypercall numbers, flags, return codes, H_BULK_REMOVE words, and the KVM resume/exit codes
// that decide where an hcall ends up.
//
// Naming as in word.ts: 64-bit flag words are NAME (bigint) plus nonzero NAME_HI / NAME_LO halves;
// hcall numbers and return codes are plain numbers (return codes are C `long`, so negative).

import type { Word64Out } from './word.js';

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/hvcall.h (Linux 3.4; later additions tagged)
// ---------------------------------------------------------------------------------------------

export const H_REMOVE = 0x04;
export const H_ENTER = 0x08;
export const H_READ = 0x0c;
/** Handled in the kernel from K420 only; K34/K36 pass it to userspace. */
export const H_CLEAR_MOD = 0x10;
/** Handled in the kernel from K420 only; K34/K36 pass it to userspace. */
export const H_CLEAR_REF = 0x14;
export const H_PROTECT = 0x18;
export const H_GET_TCE = 0x1c;
export const H_PUT_TCE = 0x20;
export const H_SET_SPRG0 = 0x24;
export const H_SET_DABR = 0x28;
export const H_PAGE_INIT = 0x2c;
export const H_EOI = 0x64;
export const H_CPPR = 0x68;
export const H_IPI = 0x6c;
export const H_IPOLL = 0x70;
export const H_XIRR = 0x74;
export const H_REGISTER_VPA = 0xdc;
export const H_CEDE = 0xe0;
export const H_CONFER = 0xe4;
export const H_PROD = 0xe8;
export const H_BULK_REMOVE = 0x124;
export const H_SET_XDABR = 0x134;
export const H_STUFF_TCE = 0x138;
export const H_PUT_TCE_INDIRECT = 0x13c;
export const H_RANDOM = 0x300;
/** Later kernels (not in 3.4/3.6 hvcall.h). */
export const H_SET_MODE = 0x31c;
/** K420. */
export const H_RESIZE_HPT_PREPARE = 0x36c;
/** K420. */
export const H_RESIZE_HPT_COMMIT = 0x370;
/** KVM-private "platform" hcall for RTAS (QEMU KVMPPC_H_RTAS); in Linux's hvcall.h in later kernels. */
export const H_RTAS = 0xf000;
/** K420 nested HV. */
export const H_SET_PARTITION_TABLE = 0xf800;
/** K420 nested HV. */
export const H_ENTER_NESTED = 0xf804;
/** K420 nested HV. */
export const H_TLB_INVALIDATE = 0xf808;
/** After K420 (value from later headers only). */
export const H_COPY_TOFROM_GUEST = 0xf80c;

const HCALLS = {
  H_REMOVE,
  H_ENTER,
  H_READ,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_PROTECT,
  H_GET_TCE,
  H_PUT_TCE,
  H_SET_SPRG0,
  H_SET_DABR,
  H_PAGE_INIT,
  H_EOI,
  H_CPPR,
  H_IPI,
  H_IPOLL,
  H_XIRR,
  H_REGISTER_VPA,
  H_CEDE,
  H_CONFER,
  H_PROD,
  H_BULK_REMOVE,
  H_SET_XDABR,
  H_STUFF_TCE,
  H_PUT_TCE_INDIRECT,
  H_RANDOM,
  H_SET_MODE,
  H_RESIZE_HPT_PREPARE,
  H_RESIZE_HPT_COMMIT,
  H_RTAS,
  H_SET_PARTITION_TABLE,
  H_ENTER_NESTED,
  H_TLB_INVALIDATE,
  H_COPY_TOFROM_GUEST,
} as const;

/** hcall number → name ('H_ENTER'). Covers every number above; a trace's own symbol table may be smaller. */
export const HCALL_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(HCALLS).map(([name, nr]) => [nr, name] as [number, string]),
);

/** Name of an hcall number, or undefined. */
export function hcall_name(nr: number): string | undefined {
  return HCALL_NAMES.get(nr);
}

// Flags (r4). Each is 1 << (63 - IBM bit).
export const H_LARGE_PAGE = 0x0000800000000000n;
export const H_LARGE_PAGE_HI = 0x00008000;
/** Use exactly pte_index, or fail with H_PTEG_FULL. */
export const H_EXACT = 0x0000008000000000n;
export const H_EXACT_HI = 0x00000080;
export const H_R_XLATE = 0x0000004000000000n;
export const H_R_XLATE_HI = 0x00000040;
/** H_READ: return 4 HPTEs from pte_index & ~3. */
export const H_READ_4 = 0x0000002000000000n;
export const H_READ_4_HI = 0x00000020;
/** An AVPN is given as a sanity test ((v & ~0x7f) must equal it). */
export const H_AVPN = 0x0000000080000000n;
export const H_AVPN_LO = 0x80000000;
/** Remove only if (v & avpn) == 0. */
export const H_ANDCOND = 0x0000000040000000n;
export const H_ANDCOND_LO = 0x40000000;
/** Local invalidation is enough (tlbiel). */
export const H_LOCAL = 0x0000000010000000n;
export const H_LOCAL_LO = 0x10000000;
export const H_ICACHE_INVALIDATE = 0x0000000000800000n;
export const H_ICACHE_INVALIDATE_LO = 0x00800000;
export const H_ICACHE_SYNCHRONIZE = 0x0000000000400000n;
export const H_ICACHE_SYNCHRONIZE_LO = 0x00400000;
export const H_ZERO_PAGE = 0x0000000000008000n;
export const H_ZERO_PAGE_LO = 0x00008000;
export const H_COPY_PAGE = 0x0000000000004000n;
export const H_COPY_PAGE_LO = 0x00004000;
export const H_N = 0x4n;
export const H_N_LO = 0x4;
export const H_PP1 = 0x2n;
export const H_PP1_LO = 0x2;
export const H_PP2 = 0x1n;
export const H_PP2_LO = 0x1;

// Return codes (r3).
export const H_SUCCESS = 0;
export const H_BUSY = 1;
export const H_CLOSED = 2;
export const H_NOT_AVAILABLE = 3;
export const H_CONSTRAINED = 4;
export const H_PARTIAL = 5;
export const H_IN_PROGRESS = 14;
export const H_PAGE_REGISTERED = 15;
export const H_PARTIAL_STORE = 16;
export const H_PENDING = 17;
export const H_CONTINUE = 18;
export const H_LONG_BUSY_ORDER_1_MSEC = 9900;
export const H_LONG_BUSY_ORDER_10_MSEC = 9901;
export const H_LONG_BUSY_ORDER_100_MSEC = 9902;
export const H_LONG_BUSY_ORDER_1_SEC = 9903;
export const H_LONG_BUSY_ORDER_10_SEC = 9904;
export const H_LONG_BUSY_ORDER_100_SEC = 9905;
/** Internal to book3s_hv KVM: "redo this in virtual mode". Never returned to a guest. */
export const H_TOO_HARD = 9999;
export const H_HARDWARE = -1;
export const H_FUNCTION = -2;
export const H_PRIVILEGE = -3;
export const H_PARAMETER = -4;
export const H_BAD_MODE = -5;
export const H_PTEG_FULL = -6;
export const H_NOT_FOUND = -7;
export const H_RESERVED_DABR = -8;
export const H_NO_MEM = -9;
export const H_AUTHORITY = -10;
export const H_PERMISSION = -11;
export const H_DROPPED = -12;
export const H_RESOURCE = -16;
export const H_P2 = -55;
export const H_P3 = -56;
export const H_P4 = -57;
export const H_P5 = -58;
export const H_P6 = -59;
export const H_P7 = -60;
export const H_P8 = -61;
export const H_P9 = -62;
export const H_TOO_BIG = -64;
/** Later kernels. */
export const H_UNSUPPORTED = -67;
export const H_OVERLAP = -68;
export const H_INTERRUPT = -69;
export const H_BAD_DATA = -70;

const H_RCS = {
  H_SUCCESS,
  H_BUSY,
  H_CLOSED,
  H_NOT_AVAILABLE,
  H_CONSTRAINED,
  H_PARTIAL,
  H_IN_PROGRESS,
  H_PAGE_REGISTERED,
  H_PARTIAL_STORE,
  H_PENDING,
  H_CONTINUE,
  H_LONG_BUSY_ORDER_1_MSEC,
  H_LONG_BUSY_ORDER_10_MSEC,
  H_LONG_BUSY_ORDER_100_MSEC,
  H_LONG_BUSY_ORDER_1_SEC,
  H_LONG_BUSY_ORDER_10_SEC,
  H_LONG_BUSY_ORDER_100_SEC,
  H_TOO_HARD,
  H_HARDWARE,
  H_FUNCTION,
  H_PRIVILEGE,
  H_PARAMETER,
  H_BAD_MODE,
  H_PTEG_FULL,
  H_NOT_FOUND,
  H_RESERVED_DABR,
  H_NO_MEM,
  H_AUTHORITY,
  H_PERMISSION,
  H_DROPPED,
  H_RESOURCE,
  H_P2,
  H_P3,
  H_P4,
  H_P5,
  H_P6,
  H_P7,
  H_P8,
  H_P9,
  H_TOO_BIG,
  H_UNSUPPORTED,
  H_OVERLAP,
  H_INTERRUPT,
  H_BAD_DATA,
} as const;

/** Return code → name ('H_PTEG_FULL'). Keys are the signed values. */
export const H_RC_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(H_RCS).map(([name, rc]) => [rc, name] as [number, string]),
);

/** Name of a return code; accepts the signed value or its 64-bit register image (bigint). */
export function h_rc_name(rc: number | bigint): string | undefined {
  const n = typeof rc === 'bigint' ? Number(BigInt.asIntN(64, rc)) : rc;
  return H_RC_NAMES.get(n);
}

// ---------------------------------------------------------------------------------------------
// H_PROTECT flags → HPTE dword-1 bits (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.4)
// ---------------------------------------------------------------------------------------------

/**
 * New protection bits from H_PROTECT flags: PP0 = (flags << 55) & PP0 (flags bit 8),
 * KEY_HI = (flags << 48) & KEY_HI (flags bits 12..13), PP | N | KEY_LO = flags & 0xe07.
 * All source bits are in the flags' low word. The bits replaced are
 * HPTE_R_PP0 | HPTE_R_PP | HPTE_R_N | HPTE_R_KEY_HI | HPTE_R_KEY_LO. Result to out[off], out[off+1].
 */
// Mirrors the `bits` computation in kvmppc_h_protect() (book3s_hv_rm_mmu.c, Linux 3.4)
export function h_protect_bits(flags_lo: number, out: Word64Out, off = 0): void {
  out[off] = (((flags_lo & 0x100) << 23) | ((flags_lo & 0x3000) << 16)) >>> 0;
  out[off + 1] = flags_lo & 0xe07;
}

export function h_protect_bits_big(flags: bigint): bigint {
  const M64 = (1n << 64n) - 1n;
  let bits = ((flags << 55n) & M64) & 0x8000000000000000n;
  bits |= ((flags << 48n) & M64) & 0x3000000000000000n;
  bits |= flags & (0x3n | 0x4n | 0xe00n);
  return bits;
}

// ---------------------------------------------------------------------------------------------
// H_BULK_REMOVE request/response words. Names from the PAPR request definitions as Linux's PR KVM
// and QEMU spell them; K34's HV code uses the same values as literals (0x80/0x90/0xa0, req 1/3).
// ---------------------------------------------------------------------------------------------

export const H_BULK_REMOVE_TYPE = 0xc000000000000000n;
export const H_BULK_REMOVE_TYPE_HI = 0xc0000000;
export const H_BULK_REMOVE_REQUEST = 0x4000000000000000n;
export const H_BULK_REMOVE_REQUEST_HI = 0x40000000;
export const H_BULK_REMOVE_RESPONSE = 0x8000000000000000n;
export const H_BULK_REMOVE_RESPONSE_HI = 0x80000000;
export const H_BULK_REMOVE_END = 0xc000000000000000n;
export const H_BULK_REMOVE_END_HI = 0xc0000000;
export const H_BULK_REMOVE_CODE = 0x3000000000000000n;
export const H_BULK_REMOVE_CODE_HI = 0x30000000;
export const H_BULK_REMOVE_SUCCESS = 0x0000000000000000n;
export const H_BULK_REMOVE_NOT_FOUND = 0x1000000000000000n;
export const H_BULK_REMOVE_NOT_FOUND_HI = 0x10000000;
export const H_BULK_REMOVE_PARM = 0x2000000000000000n;
export const H_BULK_REMOVE_PARM_HI = 0x20000000;
export const H_BULK_REMOVE_HW = 0x3000000000000000n;
export const H_BULK_REMOVE_HW_HI = 0x30000000;
/** R and C of the removed entry: guest_rpte R/C << 51 (R → 0x08, C → 0x04 in the top byte). */
export const H_BULK_REMOVE_RC = 0x0c00000000000000n;
export const H_BULK_REMOVE_RC_HI = 0x0c000000;
export const H_BULK_REMOVE_FLAGS = 0x0300000000000000n;
export const H_BULK_REMOVE_FLAGS_HI = 0x03000000;
export const H_BULK_REMOVE_ABSOLUTE = 0x0000000000000000n;
export const H_BULK_REMOVE_ANDCOND = 0x0100000000000000n;
export const H_BULK_REMOVE_ANDCOND_HI = 0x01000000;
export const H_BULK_REMOVE_AVPN = 0x0200000000000000n;
export const H_BULK_REMOVE_AVPN_HI = 0x02000000;
export const H_BULK_REMOVE_PTEX = 0x00ffffffffffffffn;
export const H_BULK_REMOVE_PTEX_HI = 0x00ffffff;
export const H_BULK_REMOVE_PTEX_LO = 0xffffffff;
export const H_BULK_REMOVE_MAX_BATCH = 4;

/** K34's view of a request word: req = top byte >> 6 (1 remove, 3 end), flags = top byte & 3. */
export function h_bulk_remove_req(tsh_hi: number): number {
  return tsh_hi >>> 30;
}

export function h_bulk_remove_flags(tsh_hi: number): number {
  return (tsh_hi >>> 24) & 3;
}

/** The pte_index in the low 56 bits (a number: < 2^56 but in practice < NPTE ≤ 2^42). */
export function h_bulk_remove_ptex(tsh_hi: number, tsh_lo: number): number {
  return (tsh_hi & H_BULK_REMOVE_PTEX_HI) * 0x1_0000_0000 + (tsh_lo >>> 0);
}

/** Response top-byte codes as K34 writes them: 0x80 | flags (+ R/C) removed, 0x90 not found, 0xa0 bad. */
export const H_BULK_REMOVE_RESP_DONE = 0x80;
export const H_BULK_REMOVE_RESP_NOT_FOUND = 0x90;
export const H_BULK_REMOVE_RESP_PARM = 0xa0;

/**
 * Response word: ((code | flags) << 56) + pte_index, plus (rcbits << 51) for a removal, where rcbits
 * = guest_rpte & (R|C) (only its low word matters). Writes out[off] (hi), out[off + 1] (lo).
 */
// Mirrors the args[j] rewrites in kvmppc_h_bulk_remove() (book3s_hv_rm_mmu.c, Linux 3.4)
export function h_bulk_remove_response(
  code: number,
  flags: number,
  rcbits_lo: number,
  pte_index: number,
  out: Word64Out,
  off = 0,
): void {
  const ptex_hi = Math.floor(pte_index / 0x1_0000_0000) & H_BULK_REMOVE_PTEX_HI;
  out[off] = ((((code | flags) & 0xff) << 24) | ((rcbits_lo & 0x180) << 19) | ptex_hi) >>> 0;
  out[off + 1] = pte_index >>> 0;
}

export function h_bulk_remove_response_big(code: number, flags: number, rcbits: bigint, pte_index: bigint): bigint {
  return ((BigInt((code | flags) & 0xff) << 56n) + pte_index) | ((rcbits & 0x180n) << 51n);
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_asm.h (Linux 3.4): what the exit handler returns
// ---------------------------------------------------------------------------------------------

export const RESUME_FLAG_NV = 1 << 0;
export const RESUME_FLAG_HOST = 1 << 1;
/** K420: RESUME_PAGE_FAULT = RESUME_GUEST | RESUME_FLAG_ARCH1. */
export const RESUME_FLAG_ARCH1 = 1 << 2;

export const RESUME_GUEST = 0;
export const RESUME_GUEST_NV = RESUME_FLAG_NV;
export const RESUME_HOST = RESUME_FLAG_HOST;
export const RESUME_HOST_NV = RESUME_FLAG_HOST | RESUME_FLAG_NV;
/** K420 only. */
export const RESUME_PAGE_FAULT = RESUME_GUEST | RESUME_FLAG_ARCH1;

export const RESUME_NAMES: ReadonlyMap<number, string> = new Map([
  [RESUME_GUEST, 'RESUME_GUEST'],
  [RESUME_GUEST_NV, 'RESUME_GUEST_NV'],
  [RESUME_HOST, 'RESUME_HOST'],
  [RESUME_HOST_NV, 'RESUME_HOST_NV'],
  [RESUME_PAGE_FAULT, 'RESUME_PAGE_FAULT'],
]);

// ---------------------------------------------------------------------------------------------
// include/linux/kvm.h (Linux 3.4): kvm_run->exit_reason
// ---------------------------------------------------------------------------------------------

export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_SET_TPR = 11;
export const KVM_EXIT_TPR_ACCESS = 12;
export const KVM_EXIT_S390_SIEIC = 13;
export const KVM_EXIT_S390_RESET = 14;
export const KVM_EXIT_DCR = 15;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_OSI = 18;
export const KVM_EXIT_PAPR_HCALL = 19;
export const KVM_EXIT_S390_UCONTROL = 20;

const KVM_EXITS = {
  KVM_EXIT_UNKNOWN,
  KVM_EXIT_EXCEPTION,
  KVM_EXIT_IO,
  KVM_EXIT_HYPERCALL,
  KVM_EXIT_DEBUG,
  KVM_EXIT_HLT,
  KVM_EXIT_MMIO,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_INTR,
  KVM_EXIT_SET_TPR,
  KVM_EXIT_TPR_ACCESS,
  KVM_EXIT_S390_SIEIC,
  KVM_EXIT_S390_RESET,
  KVM_EXIT_DCR,
  KVM_EXIT_NMI,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_OSI,
  KVM_EXIT_PAPR_HCALL,
  KVM_EXIT_S390_UCONTROL,
} as const;

/** exit_reason → 'KVM_EXIT_PAPR_HCALL'. (The kvm_userspace_exit tracepoint prints these names.) */
export const KVM_EXIT_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(KVM_EXITS).map(([name, nr]) => [nr, name] as [number, string]),
);
