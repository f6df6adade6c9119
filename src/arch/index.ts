// PowerISA / Book3S-HV kernel vocabulary: one import for everything in src/arch.
//
// Conventions (word.ts has the details): constants are spelled as the kernel spells them; a 64-bit
// constant NAME is a bigint, with NAME_HI / NAME_LO its nonzero 32-bit halves for hot code; hot-path
// helpers take (hi, lo) halves and allocate nothing; `<name>_big` versions are BigInt references.

export * from './word.js';
export * from './types.js';
export * from './hpte.js';
export * from './slb.js';
export * from './hash.js';
export * from './hcall.js';
export * from './reg.js';
export * from './kvm_host.js';
export * from './hash-translate.js';
