// KVM-HV bookkeeping words: the per-guest-page rmap word, slot_phys flags, and the vcore/vcpu
// state values.
//
// Naming as in word.ts: 64-bit words (the rmap word) are NAME (bigint) plus nonzero NAME_HI / NAME_LO
// halves. An rmap word in hot code is (rmap_hi, rmap_lo): lock, REFERENCED, CHANGED and PRESENT are
// in the high word, the chain-head INDEX is the whole low word.

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_host.h (Linux 3.4): rmap word (memslot->rmap[gfn - base_gfn])
// ---------------------------------------------------------------------------------------------

/** Bit number of the rmap spin lock (the kernel uses test_and_set_bit_lock on it). */
export const KVMPPC_RMAP_LOCK_BIT = 63;
/** 1 << KVMPPC_RMAP_LOCK_BIT. Not a kernel name: the kernel only names the bit number. */
export const KVMPPC_RMAP_LOCK = 0x8000000000000000n;
export const KVMPPC_RMAP_LOCK_HI = 0x80000000;
/** rmap >> 32 lines REFERENCED/CHANGED up with HPTE_R_R/HPTE_R_C. */
export const KVMPPC_RMAP_RC_SHIFT = 32;
/** HPTE_R_R << 32: referenced since the last aging pass. */
export const KVMPPC_RMAP_REFERENCED = 0x0000010000000000n;
export const KVMPPC_RMAP_REFERENCED_HI = 0x00000100;
/** HPTE_R_C << 32: changed since the last dirty-log pass (K34/K36; removed by K420). */
export const KVMPPC_RMAP_CHANGED = 0x0000008000000000n;
export const KVMPPC_RMAP_CHANGED_HI = 0x00000080;
/** The chain of HPTEs mapping this page is non-empty. */
export const KVMPPC_RMAP_PRESENT = 0x0000000100000000n;
export const KVMPPC_RMAP_PRESENT_HI = 0x00000001;
/** HPTE index of the chain head. */
export const KVMPPC_RMAP_INDEX = 0x00000000ffffffffn;
export const KVMPPC_RMAP_INDEX_LO = 0xffffffff;

/**
 * Keep hardware R/C in a dword 1 only if the rmap word already has them:
 * r &= (rmap >> KVMPPC_RMAP_RC_SHIFT) | ~(HPTE_R_R | HPTE_R_C). Only the low word of r can change,
 * and only bits 32..63 of rmap matter, so this takes r_lo and rmap_hi and returns the new r_lo.
 */
// Mirrors the R/C filter in kvmppc_h_enter() and kvmppc_book3s_hv_page_fault() (Linux 3.4)
export function rmap_rc_filter(r_lo: number, rmap_hi: number): number {
  return (r_lo & (rmap_hi | ~0x180)) >>> 0;
}

export function rmap_rc_filter_big(r: bigint, rmap: bigint): bigint {
  const M64 = (1n << 64n) - 1n;
  const rcbits = rmap >> BigInt(KVMPPC_RMAP_RC_SHIFT);
  return r & (rcbits | (~(0x100n | 0x80n) & M64));
}

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_host.h (Linux 3.4): kvm->arch.slot_phys[][] low bits
// (PPC970 / using_mmu_notifiers == 0 only). Entries are (host_pfn << PAGE_SHIFT) | flags.
// ---------------------------------------------------------------------------------------------

/** log2(host pages in the backing page). */
export const KVMPPC_PAGE_ORDER_MASK = 0x1f;
/** = HPTE_R_I. */
export const KVMPPC_PAGE_NO_CACHE = 0x20;
/** = HPTE_R_W. */
export const KVMPPC_PAGE_WRITETHRU = 0x40;
/** This entry holds a page reference (put at VM destroy by unpin_slot). */
export const KVMPPC_GOT_PAGE = 0x80;

// ---------------------------------------------------------------------------------------------
// arch/powerpc/include/asm/kvm_host.h (Linux 3.4): vcore and vcpu states
// ---------------------------------------------------------------------------------------------

/** vc->vcore_state. */
export const VCORE_INACTIVE = 0;
export const VCORE_RUNNING = 1;
export const VCORE_EXITING = 2;
export const VCORE_SLEEPING = 3;

export const VCORE_STATE_NAMES: ReadonlyMap<number, string> = new Map([
  [VCORE_INACTIVE, 'VCORE_INACTIVE'],
  [VCORE_RUNNING, 'VCORE_RUNNING'],
  [VCORE_EXITING, 'VCORE_EXITING'],
  [VCORE_SLEEPING, 'VCORE_SLEEPING'],
]);

/** vcpu->arch.state. */
export const KVMPPC_VCPU_STOPPED = 0;
export const KVMPPC_VCPU_BUSY_IN_HOST = 1;
export const KVMPPC_VCPU_RUNNABLE = 2;

export const KVMPPC_VCPU_STATE_NAMES: ReadonlyMap<number, string> = new Map([
  [KVMPPC_VCPU_STOPPED, 'KVMPPC_VCPU_STOPPED'],
  [KVMPPC_VCPU_BUSY_IN_HOST, 'KVMPPC_VCPU_BUSY_IN_HOST'],
  [KVMPPC_VCPU_RUNNABLE, 'KVMPPC_VCPU_RUNNABLE'],
]);

/** vc->entry_exit_count: entries in bits 0..7, exits in bits 8..15. */
// Mirrors VCORE_ENTRY_COUNT() / VCORE_EXIT_COUNT() (kvm_host.h, Linux 3.4)
export function VCORE_ENTRY_COUNT(entry_exit_count: number): number {
  return entry_exit_count & 0xff;
}

export function VCORE_EXIT_COUNT(entry_exit_count: number): number {
  return entry_exit_count >> 8;
}
