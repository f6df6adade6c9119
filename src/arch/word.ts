// 64-bit words as two unsigned 32-bit halves, and the edge helpers that convert them.
//
// Convention used by every file in src/arch/ (see also hpte.ts):
//
//   NAME      bigint   the full 64-bit value, spelled as the kernel spells it (HPTE_V_VALID).
//   NAME_HI   number   bits 63..32 of NAME as an unsigned 32-bit number (HPTE_R_PP0_HI = 0x80000000).
//   NAME_LO   number   bits 31..0  of NAME as an unsigned 32-bit number (HPTE_V_VALID_LO = 0x1).
//
// A half is exported only when it is nonzero, so the export list says which word a field lives in:
// `HPTE_V_VALID_HI` does not exist, and code that reaches for it fails to compile instead of testing
// a bit that is always zero. (A kernel name that itself ends in _HI/_LO, like HPTE_R_KEY_HI, simply
// gets another suffix: HPTE_R_KEY_HI_HI.) test/arch/halves.test.ts checks every pair against its bigint.
//
// Quantities that are architecturally 32 bits or narrower (DSISR bits, instruction words, hcall
// numbers and return codes, trap numbers, SPR numbers, shift counts) are plain numbers, no suffix.
//
// Hot-path functions take and return (hi, lo) numbers, keep them unsigned with `>>> 0`, and write
// 64-bit results into a caller-provided Uint32Array at [off] = hi, [off + 1] = lo. BigInt appears
// only in the `_big` reference versions and at the edges (parsing, printing, tests).

/** A caller-provided destination for 64-bit results: out[off] = hi, out[off + 1] = lo. */
export type Word64Out = Uint32Array;

/** Join two unsigned 32-bit halves into a 64-bit bigint (edge code only). */
export function u64(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Bits 63..32 of a bigint (taken modulo 2^64, so negative values give their two's-complement). */
export function hi32(v: bigint): number {
  return Number((BigInt.asUintN(64, v) >> 32n) & 0xffffffffn);
}

/** Bits 31..0 of a bigint (modulo 2^64). */
export function lo32(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}

/** Write a bigint's two halves into out[off], out[off + 1]. */
export function split64(v: bigint, out: Word64Out, off = 0): void {
  out[off] = hi32(v);
  out[off + 1] = lo32(v);
}

/** Read a 64-bit word stored as (hi, lo) at words[off], words[off + 1]. */
export function join64(words: Uint32Array, off = 0): bigint {
  return u64(words[off], words[off + 1]);
}

/** Number of set bits of a 32-bit value. */
export function popcount32(x: number): number {
  x >>>= 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * `0x…`, lowercase, no zero padding, like the kernel's `%lx` / `0x%llx`. A bigint is taken modulo
 * 2^64, so a negative return code prints as the register shows it: hex64(-14n) = '0xfffffffffffffff2'.
 */
export function hex64(v: bigint): string;
export function hex64(hi: number, lo: number): string;
export function hex64(a: bigint | number, lo?: number): string {
  if (typeof a === 'bigint') return '0x' + BigInt.asUintN(64, a).toString(16);
  const hi = a >>> 0;
  const l = (lo ?? 0) >>> 0;
  if (hi === 0) return '0x' + l.toString(16);
  return '0x' + hi.toString(16) + l.toString(16).padStart(8, '0');
}
