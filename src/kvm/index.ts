// Book3S HV KVM model (Linux 3.4: POWER7 with MMU notifiers, PPC970 with pinned pages; Linux 3.3 seed 1): one import for src/kvm.
export * from './kvm.js';
export * from './memslot.js';
export * from './rmap.js';
export * from './rm_mmu.js';
export * from './hcall.js';
export * from './mmu_notifier.js';
export * from './invariants.js';
export * from './slot_phys.js';
export * from './seed1.js';
