// arch/hash-translate.ts, the translation rule shared by the hardware model and `state --ea`, on
// hand-built HPTs. Expected values from the PowerISA rules: hash = VSID ^ (EA[36:63] >> p) for a
// 256M segment, RA = RPN above the page size || EA below it; PPC970 (no ARCH_206) has 4K and 16M
// pages only, so a 64K encoding (L = 1, LP = 0x1000 in dword 1) is no page there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hash_slb_lookup, hash_translate, HashTranslation } from '../../src/arch/hash-translate.js';
import { HPTE_V_VALID_LO } from '../../src/arch/hpte.js';

const ORDER = 18;
const NPTE = 2 ** (ORDER - 4);
const MASK = NPTE / 8 - 1;
const VSID = 0x123456;
const hi = (x: bigint) => Number((x >> 32n) & 0xffffffffn);
const lo = (x: bigint) => Number(x & 0xffffffffn);

/** An HPT with one entry at slot 3 of the primary PTEG of (VSID, EA, page shift). */
function hptWith(ea: bigint, shift: number, v: bigint, r: bigint): { hpt: Uint32Array; index: number } {
  const hash = (BigInt(VSID) ^ ((ea & 0xfffffffn) >> BigInt(shift))) & 0x7fffffffffn;
  const index = Number(hash & BigInt(MASK)) * 8 + 3;
  const hpt = new Uint32Array(NPTE * 4);
  hpt.set([hi(v), lo(v), hi(r), lo(r)], index * 4);
  return { hpt, index };
}

test('64K page: translated on POWER7, no page on PPC970', () => {
  const ea = 0x10035abcn;
  const slbV = (BigInt(VSID) << 12n) | 0x100n | 0x10n; // L = 1, LP = 01 (64K)
  const v = (BigInt(VSID) << 12n) | (((ea & 0xfffffffn) >> 23n) << 7n) | 4n | 1n; // AVPN, LARGE, VALID
  const r = 0x12340000n | 0x1000n | 0x192n;
  const { hpt, index } = hptWith(ea, 16, v, r);
  const t = new HashTranslation();
  assert.equal(hash_translate(hpt, MASK, hi(slbV), lo(slbV), hi(ea), lo(ea), HPTE_V_VALID_LO, true, t), true);
  assert.equal(t.index, index);
  assert.equal(t.psize, 0x10000);
  assert.equal(t.raLo, 0x12340000 | 0x5abc);
  assert.equal(hash_translate(hpt, MASK, hi(slbV), lo(slbV), hi(ea), lo(ea), HPTE_V_VALID_LO, false, t), false);
  assert.equal(t.index, -1);
});

test('16M page: the same real address on POWER7 and PPC970', () => {
  const ea = 0x15abcdefn;
  const slbV = (BigInt(VSID) << 12n) | 0x100n; // L = 1, LP = 00 (16M)
  const v = (BigInt(VSID) << 12n) | (((ea & 0xfffffffn) >> 24n) << 8n) | 4n | 1n;
  const r = 0x3000000n | 0x192n;
  const { hpt, index } = hptWith(ea, 24, v, r);
  for (const arch206 of [true, false]) {
    const t = new HashTranslation();
    assert.equal(hash_translate(hpt, MASK, hi(slbV), lo(slbV), hi(ea), lo(ea), HPTE_V_VALID_LO, arch206, t), true);
    assert.equal(t.index, index);
    assert.equal(t.psize, 0x1000000);
    assert.equal(t.raHi, 0);
    assert.equal(t.raLo, 0x3000000 | 0xabcdef);
  }
});

test('4K page in the secondary PTEG (H = 1); a 16M entry does not match a 4K segment', () => {
  const ea = 0x10005123n;
  const slbV = BigInt(VSID) << 12n;
  const hash = (BigInt(VSID) ^ ((ea & 0xfffffffn) >> 12n)) & 0x7fffffffffn;
  const sec = Number(~hash & BigInt(MASK));
  const v = (BigInt(VSID) << 12n) | (((ea & 0xfffffffn) >> 23n) << 7n) | 2n | 1n; // H, VALID
  const r = 0x7e5a1000n | 0x192n;
  const hpt = new Uint32Array(NPTE * 4);
  hpt.set([hi(v), lo(v), hi(r), lo(r)], (sec * 8 + 5) * 4);
  const t = new HashTranslation();
  assert.equal(hash_translate(hpt, MASK, hi(slbV), lo(slbV), hi(ea), lo(ea), HPTE_V_VALID_LO, false, t), true);
  assert.equal(t.index, sec * 8 + 5);
  assert.equal(t.raLo, 0x7e5a1123);
  hpt[(sec * 8 + 5) * 4 + 1] |= 4; // LARGE: now a 16M entry, wrong size for the segment
  assert.equal(hash_translate(hpt, MASK, hi(slbV), lo(slbV), hi(ea), lo(ea), HPTE_V_VALID_LO, false, t), false);
});

test('SLB lookup: first valid entry whose ESID matches under its segment size', () => {
  const slb = new Uint32Array(4 * 4);
  slb.set([0, 0x10000000, 0, 0x1000], 0); // ESID 1, not valid
  slb.set([0, 0x18000000, 0, 0x2000], 4); // ESID 1, valid (V = 0x08000000)
  slb.set([0x00000100, 0x08000000, 0x40000000, 0], 8); // 1T ESID 1, valid
  assert.equal(hash_slb_lookup(slb, 0, 4, 0, 0x10005000), 1);
  assert.equal(hash_slb_lookup(slb, 0, 4, 0x00000100, 0x12345678), 2);
  assert.equal(hash_slb_lookup(slb, 0, 4, 0, 0x20000000), -1);
  assert.equal(hash_slb_lookup(slb, 1, 3, 0, 0x10005000), 0, 'rows from `first` on');
});
