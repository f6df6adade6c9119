// Book3S HV KVM model (Linux 3.4: POWER7 with MMU notifiers, PPC970 with pinned pages; Linux 3.3 seed 1): one import for src/kvm.
// Layout (README.md): kvm/ = every VM (struct kvm, ops tables, memslots, hcall dispatch); kvm/hash/ = the hash MMU;
// kvm/radix/ and kvm/nested/ are where a radix MMU and nested guests go.
export * from './kvm.js';
export * from './ops.js';
export * from './memslot.js';
export * from './hash/rmap.js';
export * from './hash/rm_mmu.js';
export * from './hcall.js';
export * from './hash/mmu_notifier.js';
export * from './hash/invariants.js';
export * from './hash/slot_phys.js';
export * from './hash/seed1.js';
