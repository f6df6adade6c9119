// Hash, PTEG, lookup key and tlbie RB against values derived by hand from kernel-model.md §A.1,
// §A.4, §A.5 and §K (TV1, TV2). The derivation of each expected value is in the comment beside it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HPTE_V_VALID_LO,
  HPTE_V_ABSENT_LO,
  HpteSearchKey,
  MMU_SEGSIZE_1T,
  MMU_SEGSIZE_256M,
  VRMA_VSID_LO,
  compute_tlbie_rb,
  hi32,
  hpt_geometry,
  hpt_hash,
  hpt_sdr1,
  hpte_page_size,
  hpte_search_key,
  hpte_search_match,
  hpteg_primary,
  hpteg_secondary,
  lo32,
  u64,
  vrma_slb_v,
} from '../../src/arch/index.js';

const out = new Uint32Array(2);
const key = new HpteSearchKey();
const order24 = hpt_geometry(24);

function searchKey(slb_v: bigint, ea: bigint): HpteSearchKey {
  hpte_search_key(hi32(slb_v), lo32(slb_v), hi32(ea), lo32(ea), key);
  return key;
}
const val = (k: HpteSearchKey): bigint => u64(k.valHi, k.valLo);
const mask = (k: HpteSearchKey): bigint => u64(k.maskHi, k.maskLo);
function rb(v: bigint, r: bigint, idx: number, arch206 = true): bigint {
  compute_tlbie_rb(hi32(v), lo32(v), lo32(r), idx, arch206, out);
  return u64(out[0], out[1]);
}

describe('HPT geometry (§A.1)', () => {
  test('order 24: 2^20 HPTEs, 2^17 PTEGs, mask 0x1ffff, HTABSIZE 6', () => {
    assert.deepEqual(order24, {
      order: 24,
      bytes: 0x1000000,
      npte: 1048576,
      npteg: 131072,
      hashMask: 0x1ffff,
      htabsize: 6,
    });
    // SDR1 = base | (24 - 18).
    assert.equal(hpt_sdr1(0x7f000000n, 24), 0x7f000006n);
  });
  test('order limits 18..46; order 46 mask is 2^39 - 1', () => {
    assert.equal(hpt_geometry(18).hashMask, 0x7ff); // 2^(18-7) - 1
    assert.equal(hpt_geometry(46).hashMask, 0x7fffffffff); // 2^39 - 1
    assert.throws(() => hpt_geometry(17), RangeError);
    assert.throws(() => hpt_geometry(47), RangeError);
  });
});

describe('TV1: 256 MiB segment, 4 KiB page, order 24', () => {
  test('hash, primary and secondary PTEG, first index and byte offset', () => {
    // VSID 0x123456, EA 0x10005000: offset 0x0005000 >> 12 = 0x5; 0x123456 ^ 0x5 = 0x123453.
    const hash = hpt_hash(0, 0x123456, 0, 0x10005000, 12, MMU_SEGSIZE_256M);
    assert.equal(hash, 0x123453);
    const pteg = hpteg_primary(hash, order24.hashMask);
    assert.equal(pteg, 0x03453); // 0x123453 & 0x1ffff
    assert.equal(pteg * 8, 0x1a298); // first HPTE index
    assert.equal(pteg * 128, 0x1a2980); // byte offset
    const sec = hpteg_secondary(hash, order24.hashMask);
    assert.equal(sec, 0x1cbac); // 0x03453 ^ 0x1ffff
    assert.equal(sec * 8, 0xe5d60);
  });
  test('the lookup key computes the same hash from slb_v', () => {
    // slb_v = VSID << 12 = 0x123456000 (Ks = Kp = 0).
    const k = searchKey(0x123456000n, 0x10005000n);
    assert.equal(k.hash, 0x123453);
    assert.equal(k.pshift, 12);
  });
});

describe('TV2: expected dword 0 (same input)', () => {
  test('val = 0x123456000, mask = 0xffffffffffffff82', () => {
    // avpn = (0x123456000 & ~0xfff) | (0x0005000 >> 16 = 0) = 0x123456000; & ~0x7f unchanged.
    // mask = B (0xc0..) | AVPN (0x3fffffffffffff80) | SECONDARY (0x2).
    const k = searchKey(0x123456000n, 0x10005000n);
    assert.equal(val(k), 0x123456000n);
    assert.equal(mask(k), 0xffffffffffffff82n);
    // Cross-check from the VA: VA = 0x1234560005000; (VA >> 23) << 7 = 0x123456000.
    assert.equal((0x1234560005000n >> 23n) << 7n, 0x123456000n);
  });
  test('0x123456001 matches in the primary PTEG; H=1 copy matches only as secondary', () => {
    const k = searchKey(0x123456000n, 0x10005000n);
    assert.equal(hpte_search_match(0x1, 0x23456001, HPTE_V_VALID_LO, k, false), true);
    assert.equal(hpte_search_match(0x1, 0x23456003, HPTE_V_VALID_LO, k, false), false);
    assert.equal(hpte_search_match(0x1, 0x23456003, HPTE_V_VALID_LO, k, true), true);
    // HVLOCK (0x40) set: outside the mask, still a match.
    assert.equal(hpte_search_match(0x1, 0x23456041, HPTE_V_VALID_LO, k, false), true);
    // ABSENT entry: only when the wanted-valid set includes ABSENT.
    assert.equal(hpte_search_match(0x1, 0x23456020, HPTE_V_VALID_LO, k, false), false);
    assert.equal(hpte_search_match(0x1, 0x23456020, HPTE_V_VALID_LO | HPTE_V_ABSENT_LO, k, false), true);
  });
});

describe('VSIDs wider than 32 bits', () => {
  test('256 MiB segment, 36-bit VSID 0xf12345678', () => {
    // EA 0x0abcd000: offset >> 12 = 0xabcd; 0xf12345678 ^ 0xabcd = 0xf1234fdb5.
    assert.equal(hpt_hash(0xf, 0x12345678, 0, 0x0abcd000, 12, MMU_SEGSIZE_256M), 0xf1234fdb5);
    // slb_v = VSID << 12 = 0xf12345678000 straddles the halves.
    const k = searchKey(0xf12345678000n, 0x0abcd000n);
    assert.equal(k.hash, 0xf1234fdb5);
    // 0xf1234fdb5 & 0x1ffff: bit 16 of 0x1234fdb5 is 0 (nibble 4 = 0x4) → 0x0fdb5.
    assert.equal(hpteg_primary(k.hash, order24.hashMask), 0x0fdb5);
    // avpn = 0xf12345678000 | (0x0abcd000 >> 16 = 0xabc) = 0xf12345678abc; & ~0x7f → 0xf12345678a80.
    assert.equal(val(k), 0xf12345678a80n);
  });
  test('1 TiB segment, 33-bit VSID 0x123456789', () => {
    // vsid << 25 = 0x02468acf_12000000; vsid ^ that = 0x02468ace_31456789.
    // EA 0x123456789abcd000: offset = EA & 0xff_ffffffff = 0x789abcd000; >> 12 = 0x789abcd.
    // low word 0x31456789 ^ 0x0789abcd = 0x36cccc44; high word 0x02468ace & 0x7f (39-bit) = 0x4e.
    const hash = hpt_hash(0x1, 0x23456789, 0x12345678, 0x9abcd000, 12, MMU_SEGSIZE_1T);
    assert.equal(hash, 0x4e36cccc44);
    // order 24: 0x36cccc44 & 0x1ffff = 0x0cc44 (bit 16 = low bit of nibble 0xc = 0).
    assert.equal(hpteg_primary(hash, order24.hashMask), 0x0cc44);
    assert.equal(hpteg_secondary(hash, order24.hashMask), 0x133bb); // 0x1ffff - 0x0cc44
    // order 46 (mask 2^39-1): the whole 39-bit hash is the PTEG; secondary = mask - hash.
    const m46 = hpt_geometry(46).hashMask;
    assert.equal(hpteg_primary(hash, m46), 0x4e36cccc44);
    assert.equal(hpteg_secondary(hash, m46), 0x31c93333bb); // 0x7f_ffffffff - 0x4e_36cccc44
  });
  test('1 TiB lookup key from slb_v = B_1T | 0x123456789 << 24', () => {
    const slb_v = 0x4000000000000000n | (0x123456789n << 24n); // 0x4123456789000000
    const k = searchKey(slb_v, 0x123456789abcd000n);
    assert.equal(k.hash, 0x4e36cccc44);
    // avpn = (slb_v & ~0xffffff) | (0x789abcd000 >> 16 = 0x789abc) = 0x4123456789789abc;
    // clear low 7 bits → 0x4123456789789a80. Cross-check: B | VSID << 24 | ((off >> 23) << 7).
    assert.equal(val(k), 0x4123456789789a80n);
    assert.equal(val(k), slb_v | ((0x789abcd000n >> 23n) << 7n));
    assert.equal(mask(k), 0xffffffffffffff82n);
  });
});

describe('large pages', () => {
  test('64 KiB (SLB L|LP_01): pshift 16, AVPN low 7 bits cleared', () => {
    // slb_v = 0x123456000 | L (0x100) | LP_01 (0x10); EA 0x10050000: offset >> 16 = 0x5.
    const k = searchKey(0x123456110n, 0x10050000n);
    assert.equal(k.pshift, 16);
    assert.equal(k.hash, 0x123453); // 0x123456 ^ 0x5
    // avpn = 0x123456000 | 0x5 → & ~0x7f = 0x123456000; val |= LARGE → 0x123456004.
    assert.equal(val(k), 0x123456004n);
    assert.equal(mask(k), 0xffffffffffffff86n); // ...82 | LARGE
    // An HPTE with this v and dword 1 LP nibble 0001 is a 64K page on POWER7: 1 << 16 == 2^pshift.
    assert.equal(hpte_page_size(0x23456005, 0x7e5a1192, true), 1 << k.pshift);
  });
  test('16 MiB (SLB L|LP_00): pshift 24 clears the low 8 bits, not 7', () => {
    // EA 0x13ab0000: offset 0x3ab0000; hash = 0x123456 ^ (0x3ab0000 >> 24 = 3) = 0x123455.
    const k = searchKey(0x123456100n, 0x13ab0000n);
    assert.equal(k.pshift, 24);
    assert.equal(k.hash, 0x123455);
    // avpn = 0x123456000 | (0x3ab0000 >> 16 = 0x3ab) = 0x1234563ab; p ≥ 24 → clear (24-16) = 8
    // low bits → 0x123456300 (the 7-bit rule would leave 0x123456380); | LARGE → 0x123456304.
    assert.equal(val(k), 0x123456304n);
    assert.equal(hpte_page_size(0x23456305, 0x7e000192, true), 1 << k.pshift);
  });
});

describe('VRMA (§A.5)', () => {
  test('VRMA_VSID ^ (VRMA_VSID << 25) is 50 ones, so PTEG(i) = mask - i', () => {
    // 0x1ffffff ^ 0x3fffffe000000 = 0x3ffffffffffff; truncated to 39 bits 0x7fffffffff; ^ i.
    // The VRMA is capped at 1 TiB = 2^16 pages of 16 MiB, so i < 0x10000 (beyond that the EA
    // would leave the segment and its top bits would be masked off by EA & 0xffffffffff).
    for (const i of [0, 1, 5, 0xfffe, 0xffff]) {
      const hash = hpt_hash(0, VRMA_VSID_LO, Math.floor(i / 256), (i << 24) >>> 0, 24, MMU_SEGSIZE_1T);
      assert.equal(hpteg_primary(hash, order24.hashMask), 0x1ffff - i, `page ${i}`);
    }
  });
  test('the same through the lookup key with vrma_slb_v(16M senc)', () => {
    // vrma_slb_v(0x100) = 0x4001ffffff000100; page 5 at EA 5 << 24.
    const k = searchKey(vrma_slb_v(0x100), 5n << 24n);
    assert.equal(k.pshift, 24);
    assert.equal(hpteg_primary(k.hash, order24.hashMask), 0x1fffa);
    // avpn = 0x4001ffffff000000 | (0x5000000 >> 16 = 0x500) → clear 8 bits → ...500; | LARGE.
    assert.equal(val(k), 0x4001ffffff000504n);
  });
});

describe('compute_tlbie_rb (POWER7, §A.4 steps 1–5)', () => {
  test('4 KiB page, 256 MiB segment, primary: RB reproduces the VA', () => {
    // v = 0x123456001 (TV2 + VALID), index 0x1a298.
    // 1. rb = 0x123456000 << 16 = 0x1234560000000.
    // 2. va_low = 0x1a298 >> 3 = 0x3453; ^ (v >> 12 = 0x123456) = 0x120005; & 0x7ff = 0x005.
    // 4. rb |= 0x5 << 12 → 0x1234560005000.  5. B = 0.
    // VA = (0x123456 << 28) | 0x0005000 = 0x1234560005000.
    assert.equal(rb(0x123456001n, 0x7e5a1112n, 0x1a298), 0x1234560005000n);
  });
  test('4 KiB page, secondary slot: the inversion undoes the secondary hash', () => {
    // v = 0x123456003 (H), index 0xe5d63 (secondary PTEG 0x1cbac, slot 3).
    // va_low = ~0x1cbac; low 11 bits: ~0x3ac & 0x7ff = 0x453; ^ 0x456 = 0x005 → same RB.
    assert.equal(rb(0x123456003n, 0x7e5a1112n, 0xe5d63), 0x1234560005000n);
  });
  test('64 KiB page: L, LP 0x1000, VA bits 16..22 and AVAL', () => {
    // v = 0x123456005 (LARGE|VALID), r = 0x7e5a1192 (LP nibble 1), index 0x1a298 → va_low = 0x005.
    // rb = 0x1234560000000 | 1 | 0x1000 | (0x5 & 0x7f) << 16 (= 0x50000) | (0x5 & 0xfe = 0x4)
    //    = 0x1234560051005  (= VA 0x1234560050000 | LP 0x1000 | AVAL 0x4 | L).
    assert.equal(rb(0x123456005n, 0x7e5a1192n, 0x1a298), 0x1234560051005n);
    // Without ARCH_206 the 64K fields are not added: only AVA | L.
    assert.equal(rb(0x123456005n, 0x7e5a1192n, 0x1a298, false), 0x1234560000001n);
  });
  test('16 MiB page: AVA | L only', () => {
    // v = 0x123456305 (16M key above + VALID), r = 0x7e000192 ((r & 0xff000) = 0).
    // rb = 0x123456300 << 16 | 1 = 0x1234563000001 = (VA 0x1234563ab0000 & ~0xffffff) | L.
    assert.equal(rb(0x123456305n, 0x7e000192n, 0x1a2a8), 0x1234563000001n);
  });
  test('4 KiB page, 1 TiB segment with a 33-bit VSID: B field and 64-bit truncation', () => {
    // v = 0x4123456789789a81 (1T key above + VALID), index 0x66220 (PTEG 0x0cc44, slot 0).
    // 1. (v & ~0x7f) << 16 mod 2^64 = 0x456789789a800000.
    // 2. va_low = 0xcc44 ^ (v >> 24 = 0x4123456789); low 11 bits 0x444 ^ 0x789 = 0x3cd.
    // 4. rb |= 0x3cd << 12 = 0x3cd000 → 0x456789789abcd000.
    // 5. (v >> 54) & 0x300 = 0x104 & 0x300 = 0x100.
    // = (VA mod 2^64 = (0x456789 << 40) | 0x789abcd000) | 0x100.
    assert.equal(rb(0x4123456789789a81n, 0x7e5a1112n, 0x66220), 0x456789789abcd100n);
  });
  test('writes at an offset and leaves the rest alone', () => {
    const buf = new Uint32Array([7, 7, 7, 7]);
    compute_tlbie_rb(0x1, 0x23456001, 0x7e5a1112, 0x1a298, true, buf, 2);
    // 0x1234560005000 = hi 0x12345, lo 0x60005000.
    assert.deepEqual([...buf], [7, 7, 0x12345, 0x60005000]);
  });
});
