// The plain types and constants every part of src/kvm shares (struct kvm_memory_slot, the memslot
// flags, the modelled kernel versions and CPUs), kept apart from kvm.ts so that the hash-MMU code,
// the memslot code and the operations table can use them without importing struct kvm's module.

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
