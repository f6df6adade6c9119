// The host model: physical memory (with pin references), the VMM process address space with its
// notifier chain, and memory pressure / reclaim.
export * from './physmem.js';
export * from './mm.js';
export * from './reclaim.js';
