// Branded ids for the many address spaces the model juggles.
//
// Each is a plain `number` at run time (the constructors compile to nothing), so they cost nothing on
// hot paths; the brand only stops a Gfn being passed where a Pfn is expected. In our model every
// address, frame number and index fits in 53 bits. 64-bit *words* (HPTE dwords, slb_v, VSIDs above
// 2^32, MSR/LPCR) do not travel as branded numbers: they travel as (hi, lo) halves, see word.ts.

declare const brand: unique symbol;

/** `T` tagged with a compile-time-only brand `B`. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Guest effective address (what the guest's loads/stores and PC use). */
export type Ea = Brand<number, 'Ea'>;
/** Guest physical ("logical") address: what the guest puts in an HPTE's RPN field. */
export type Gpa = Brand<number, 'Gpa'>;
/** Guest frame number: gpa >> PAGE_SHIFT (host page units, as memslots and rmap arrays use). */
export type Gfn = Brand<number, 'Gfn'>;
/** Host virtual address in the VMM process (memslot userspace_addr + offset). */
export type Hva = Brand<number, 'Hva'>;
/** Host physical frame number (host page units). */
export type Pfn = Brand<number, 'Pfn'>;
/** Index of an HPTE in the hashed page table (PTEG * 8 + slot). */
export type PteIndex = Brand<number, 'PteIndex'>;
/** Logical partition id (10 bits on POWER7, 6 on PPC970). */
export type Lpid = Brand<number, 'Lpid'>;

export const Ea = (n: number): Ea => n as Ea;
export const Gpa = (n: number): Gpa => n as Gpa;
export const Gfn = (n: number): Gfn => n as Gfn;
export const Hva = (n: number): Hva => n as Hva;
export const Pfn = (n: number): Pfn => n as Pfn;
export const PteIndex = (n: number): PteIndex => n as PteIndex;
export const Lpid = (n: number): Lpid => n as Lpid;
