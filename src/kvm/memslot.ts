// KVM_SET_USER_MEMORY_REGION for the model: create or delete a memslot (generic
// __kvm_set_memory_region + the Book3S HV arch hooks, Linux 3.4).

import { E, K } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';
import { type Kvm, KVM_MEMSLOT_INVALID, Memslot } from './kvm.js';
import { kvmppc_core_commit_memory_region_33, kvmppc_core_prepare_memory_region_33 } from './seed1.js';
import { kvmppc_core_prepare_memory_region } from './slot_phys.js';

export interface UserspaceMemoryRegion {
  readonly slot: number;
  readonly flags?: number;
  /** Bytes; multiple of PAGE_SIZE. */
  readonly guest_phys_addr: number;
  /** Bytes; multiple of PAGE_SIZE; 0 deletes the slot. */
  readonly memory_size: number;
  readonly userspace_addr: number;
}

/** KVM_MEM_SLOTS_NUM in 3.4 is KVM_MEMORY_SLOTS (32 on ppc) + private slots. */
export const KVM_MEMORY_SLOTS = 32;

/**
 * Create (memory_size > 0) or delete (memory_size = 0) a memslot. Returns 0 or -EINVAL / -EEXIST
 * (as negative numbers, like the kernel).
 *
 * Seed 1 (kernel '3.3'): the arch hooks are Linux 3.3's — prepare checks 16 MiB alignment and the
 * 64 GiB limit and pins every 16 MiB chunk into ram_pginfo (host_page pin events), commit writes
 * the VRMA HPTEs for a region at gpa 0 (kvmppc_map_vrma, hpte_write events caused by the memslot
 * event). Deleting a region leaves its ram_pginfo entries, pins and HPTEs in place (3.3 has no
 * teardown path; H_ENTER does not look at memslots at all).
 *
 * Deletion follows K34: the slot is marked KVM_MEMSLOT_INVALID and dropped, and
 * kvm_arch_flush_shadow() is an empty function on powerpc, so HPTEs and rmap chains that pointed
 * into the slot are left behind (kernel-model §F.2; K420 unmaps them first). Without notifiers
 * (PPC970) the slot's slot_phys array and its page references also stay until VM destroy.
 */
// Mirrors __kvm_set_memory_region() (virt/kvm/kvm_main.c, Linux 3.4)
export function kvm_set_memory_region(kvm: Kvm, mem: UserspaceMemoryRegion): number {
  const EINVAL = -22;
  const EEXIST = -17;
  const ps = kvm.pageSize;
  // 1. General sanity checks.
  if (mem.memory_size % ps !== 0 || mem.guest_phys_addr % ps !== 0 || mem.userspace_addr % ps !== 0) return EINVAL;
  if (mem.slot < 0 || mem.slot >= KVM_MEMORY_SLOTS) return EINVAL;
  const base_gfn = mem.guest_phys_addr / ps;
  const npages = mem.memory_size / ps;
  const idx = kvm.memslots.findIndex((s) => s.id === mem.slot);
  const old = idx >= 0 ? kvm.memslots[idx] : null;
  // 2. Delete.
  if (npages === 0) {
    if (old === null) return 0;
    old.flags |= KVM_MEMSLOT_INVALID;
    kvm.memslots.splice(idx, 1);
    recMemslot(kvm, E.memslot_op.delete, old);
    return 0;
  }
  // 3. Changing a slot's size or moving it is not modelled (K34 refuses a size change).
  if (old !== null) return old.npages === npages && old.base_gfn === base_gfn ? 0 : EINVAL;
  // 4. Overlaps.
  for (const s of kvm.memslots) {
    if (!(base_gfn + npages <= s.base_gfn || base_gfn >= s.base_gfn + s.npages)) return EEXIST;
  }
  // 5. kvm_arch_prepare_memory_region(): slot_phys when notifiers are off (PPC970); seed 1 pins
  //    the region's 16 MiB pages into ram_pginfo.
  const r = kvm.kernel === '3.3' ? kvmppc_core_prepare_memory_region_33(kvm, mem) : kvmppc_core_prepare_memory_region(kvm, mem.slot, npages);
  if (r !== 0) return r;
  const slot = new Memslot(mem.slot, base_gfn, npages, (mem.flags ?? 0) & ~KVM_MEMSLOT_INVALID, mem.userspace_addr);
  // sort_memslots(): larger slots first, for better lookup hit rates.
  kvm.memslots.push(slot);
  kvm.memslots.sort((a, b) => b.npages - a.npages);
  const seq = recMemslot(kvm, E.memslot_op.create, slot);
  // 6. kvm_arch_commit_memory_region(): seed 1 maps the VRMA for a region at gpa 0.
  if (kvm.kernel === '3.3') kvmppc_core_commit_memory_region_33(kvm, mem, seq);
  return 0;
}

function recMemslot(kvm: Kvm, op: number, s: Memslot): number {
  const rec = kvm.rec;
  const seq = rec.emit(K.memslot, kvm.lpid, -1, -1, NO_CAUSE)
    .op(op)
    .slot(s.id)
    .base_gfn(s.base_gfn)
    .npages(s.npages)
    .userspace_addr(s.userspace_addr)
    .flags(s.flags & ~KVM_MEMSLOT_INVALID).seq;
  return seq;
}
