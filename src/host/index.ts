// The host model: physical memory and the VMM process address space with its notifier chain.
export * from './physmem.js';
export * from './mm.js';
