// The plain types and constants every part of src/kvm shares (struct kvm_memory_slot, the memslot
// flags, the modelled kernel versions and CPUs), kept apart from kvm.ts so that the hash-MMU code,
// the memslot code and the operations table can use them without importing struct kvm's module.

import type { AnomalyName } from '../trace/anomalies.js';

// include/linux/kvm.h and include/linux/kvm_host.h (Linux 3.4): memslot flags.
/** Userspace asked for dirty logging on this slot. */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
/** Slot being deleted or moved: every lookup treats it as "no slot". */
export const KVM_MEMSLOT_INVALID = 1 << 16;
/** KVM_MEM_SLOTS_NUM as kvm->arch.slot_phys[] is sized (= KVM_MEMORY_SLOTS in memslot.ts; no private slots on ppc). */
export const KVM_MEM_SLOTS_NUM = 32;

/** '3.3' = the seed-1 model (Linux 3.1–3.3, kernel-model §C.5); '3.4' and '4.20' as documented there. */
export type KernelVersion = '3.3' | '3.4' | '4.20';
export type CpuModel = 'power7' | 'ppc970';

/** What hcalls and notifiers record as the vcpu/core of their events. */
export interface KvmVcpuRef {
  readonly vcpu_id: number;
  /** Physical core the vcpu runs on (event `core` column); -1 if none. */
  readonly core: number;
}

/** The guest-physical memory slot (struct kvm_memory_slot, Linux 3.4) with its rmap words. */
export class Memslot {
  readonly id: number;
  readonly base_gfn: number;
  /** Host pages (PAGE_SIZE units). */
  readonly npages: number;
  flags: number;
  readonly userspace_addr: number;
  /** rmap word per page: [hi, lo] pairs. */
  readonly rmap: Uint32Array;
  /** Dirty bitmap (one byte per page here), only with KVM_MEM_LOG_DIRTY_PAGES. */
  readonly dirty: Uint8Array | null;

  constructor(id: number, base_gfn: number, npages: number, flags: number, userspace_addr: number) {
    this.id = id;
    this.base_gfn = base_gfn;
    this.npages = npages;
    this.flags = flags;
    this.userspace_addr = userspace_addr;
    this.rmap = new Uint32Array(npages * 2);
    this.dirty = (flags & KVM_MEM_LOG_DIRTY_PAGES) !== 0 ? new Uint8Array(npages) : null;
  }
}

/** The KVM_SET_USER_MEMORY_REGION argument (struct kvm_userspace_memory_region). */
export interface UserspaceMemoryRegion {
  readonly slot: number;
  readonly flags?: number;
  /** Bytes; multiple of PAGE_SIZE. */
  readonly guest_phys_addr: number;
  /** Bytes; multiple of PAGE_SIZE; 0 deletes the slot. */
  readonly memory_size: number;
  readonly userspace_addr: number;
}

/** kvm->arch.slot_phys[id] with kvm->arch.slot_npages[id]. */
export class SlotPhys {
  readonly npages: number;
  /** Host pfn of each entry (entry >> PAGE_SHIFT). */
  readonly pfn: Uint32Array;
  /** Low bits of each entry: order | KVMPPC_PAGE_NO_CACHE | KVMPPC_PAGE_WRITETHRU | KVMPPC_GOT_PAGE. */
  readonly flags: Uint8Array;

  constructor(npages: number) {
    this.npages = npages;
    this.pfn = new Uint32Array(npages);
    this.flags = new Uint8Array(npages);
  }

  /** Is entry j nonzero (the page is pinned or is RMA)? */
  has(j: number): boolean {
    return this.pfn[j] !== 0 || this.flags[j] !== 0;
  }

  /** Entry j as the kernel's unsigned long (edge use: tests, digests). */
  entryBig(j: number, pageShift: number): bigint {
    return (BigInt(this.pfn[j]) << BigInt(pageShift)) | BigInt(this.flags[j]);
  }
}

// arch/powerpc/include/asm/kvm_book3s_64.h / kvm_ppc.h (Linux 3.1–3.3)
/** log2 of the guest RAM chunk (16 MiB): kvm->arch.ram_porder. */
export const LARGE_PAGE_ORDER = 24;
/** log2 of the largest guest RAM (64 GiB). */
export const MAX_MEM_ORDER = 36;
/** Entries of ram_pginfo[]: 1 << (MAX_MEM_ORDER - LARGE_PAGE_ORDER) = 4096. */
export const KVMPPC_RAM_PGINFO_ENTRIES = 1 << (MAX_MEM_ORDER - LARGE_PAGE_ORDER);

/**
 * kvm->arch.ram_pginfo[] (struct kvmppc_pginfo { pfn; refcnt; }) with ram_npages / ram_psize /
 * ram_porder / n_rma_pages. Allocated (zeroed, 4096 entries) by kvmppc_core_init_vm.
 */
export class KvmppcPginfo {
  /** Host pfn (PAGE_SIZE units) of the 16 MiB page backing chunk lpn; 0 = none. */
  readonly pfn = new Uint32Array(KVMPPC_RAM_PGINFO_ENTRIES);
  /** atomic refcnt: incremented by every successful H_ENTER of the chunk, never decremented. */
  readonly refcnt = new Uint32Array(KVMPPC_RAM_PGINFO_ENTRIES);
  /** hva the chunk was pinned from (model bookkeeping for the unpin events at destroy). */
  readonly hva = new Float64Array(KVMPPC_RAM_PGINFO_ENTRIES);
  /** Chunks covered so far: max over registered regions of (gpa + size) >> 24. */
  ram_npages = 0;
  readonly ram_porder = LARGE_PAGE_ORDER;
  readonly ram_psize = 2 ** LARGE_PAGE_ORDER;
  /** Chunks taken from a preallocated RMA (never: the RMA branch is not modelled). */
  n_rma_pages = 0;
  /**
   * Page references taken by hva_to_page() for a chunk that then failed the "is it a 16 MiB
   * page" test: the kernel returns -EINVAL without put_page, so they are never dropped (pfns).
   */
  readonly leaked: number[] = [];
}

/**
 * One broken invariant (kernel-model §J): the anomaly counter it is recorded as (trace/anomalies.ts,
 * e.g. 'j17_tlbie', whose code is the §J item number), a message and details.
 */
export interface Violation {
  readonly code: AnomalyName;
  readonly message: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * The invariant checks of a VM's MMU for `--check` (the hash MMU's: HvAudit + KvmInvariantChecker,
 * hash/invariants.ts), made by KvmOps.checker so that the machine does not know the MMU.
 */
export interface KvmChecker {
  /** The first operation-level violation the audit has seen so far, or null. */
  readonly violation: Violation | null;
  /** Check the state invariants now. */
  check(): Violation | null;
}
