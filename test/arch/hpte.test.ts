// HPTE helpers against values derived by hand from the rules in kernel-model.md §A.2, §A.3, §E.4,
// §B and §K (TV6, TV11). Each expected value is worked out in the comment next to it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HPTE_R_PP0_HI,
  PAGE_EXEC,
  PAGE_READ,
  PAGE_WRITE,
  SLB_VSID_KP_LO,
  SLB_VSID_KS_LO,
  KVMPPC_RMAP_PRESENT,
  KVMPPC_RMAP_REFERENCED,
  hi32,
  hpte_cache_flags_ok,
  hpte_get_skey_perm,
  hpte_is_mmio_key,
  hpte_is_writable,
  hpte_make_readonly,
  hpte_page_size,
  hpte_read_permission,
  hpte_rpn,
  hpte_set_rpn,
  hpte_storage_key,
  hpte_v_compare,
  hpte_write_permission,
  lo32,
  ppc_hash64_amr_prot,
  ppc_hash64_pte_noexec_guard,
  ppc_hash64_pte_prot,
  rmap_rc_filter,
  u64,
} from '../../src/arch/index.js';

const out = new Uint32Array(2);
const word = (): bigint => u64(out[0], out[1]);

describe('hpte_page_size (K34 rule)', () => {
  test('no L bit → 4 KiB whatever dword 1 says', () => {
    // v = 0x...001 (VALID only): L clear → 1 << 12.
    assert.equal(hpte_page_size(0x001, 0x7e5a1192, true), 0x1000);
    assert.equal(hpte_page_size(0x001, 0x00001000, false), 0x1000);
  });
  test('L with LP nibble 0001 → 64 KiB on POWER7 only', () => {
    // (r & 0xf000) == 0x1000 and ARCH_206 → 1 << 16.
    assert.equal(hpte_page_size(0x005, 0x7e5a1192, true), 0x10000);
    // PPC970: the 64K test is skipped; (r & 0xff000) = 0xa1000 ≠ 0 → not 16M either → 0.
    assert.equal(hpte_page_size(0x005, 0x7e5a1192, false), 0);
    // Only bits 12..15 are tested for 64K: r = 0x11000 has LP nibble 1 → still 64K.
    assert.equal(hpte_page_size(0x005, 0x00011000, true), 0x10000);
  });
  test('L with bits 12..19 clear → 16 MiB (both CPUs)', () => {
    // r = 0x7e000192: (r & 0xff000) = 0 → 1 << 24.
    assert.equal(hpte_page_size(0x005, 0x7e000192, true), 0x1000000);
    assert.equal(hpte_page_size(0x005, 0x7e000192, false), 0x1000000);
  });
  test('any other large encoding → 0 (error)', () => {
    // LP nibble 0011: not 0001, and (r & 0xff000) = 0x3000 ≠ 0.
    assert.equal(hpte_page_size(0x005, 0x00003000, true), 0);
    // nibble 0 but bits 16..19 set: (r & 0xff000) = 0x10000 ≠ 0.
    assert.equal(hpte_page_size(0x005, 0x00010000, true), 0);
  });
});

describe('hpte_rpn', () => {
  test('TV11 guest view 0x1234192, 4 KiB page, PAGE_SHIFT 12 → gfn 0x1234', () => {
    // (0x1234192 & RPN) = 0x1234000; & ~0xfff = 0x1234000; >> 12 = 0x1234.
    assert.equal(hpte_rpn(0, 0x1234192, 0x1000, 12), 0x1234);
  });
  test('large page rounds down to the page base; PAGE_SHIFT 16 counts 64K host pages', () => {
    // 16M: 0x1234000 & ~0xffffff = 0x1000000; >> 12 = 0x1000.
    assert.equal(hpte_rpn(0, 0x1234192, 0x1000000, 12), 0x1000);
    // 4K page, 64K host pages: 0x1234000 >> 16 = 0x123.
    assert.equal(hpte_rpn(0, 0x1234192, 0x1000, 16), 0x123);
    // pageShift 0 gives the page's base gpa: 0x1234000.
    assert.equal(hpte_rpn(0, 0x1234192, 0x1000, 0), 0x1234000);
  });
  test('RPN bits in the high word, with PP0/TS/KEY_HI set around them', () => {
    // r = 0xfabcdef0_12345000: RPN keeps 0x0abcdef0_12345000; >> 12 = 0xabcdef012345.
    assert.equal(hpte_rpn(0xfabcdef0, 0x12345000, 0x1000, 12), 0xabcdef012345);
    // 16G page (2^34): clears RPN bits below 34, i.e. hi bits 0..1 and the whole low word:
    // 0x0abcdef0_00000000 & ~(2^34-1) = 0x0abcdef0_00000000 (hi 0x...f0 has bits 0,1 clear) >> 12
    // = 0x0abcdef0 << 20 = 0xabcdef000000.
    assert.equal(hpte_rpn(0x0abcdef3, 0x12345000, 2 ** 34, 12), 0xabcdef000000);
  });
});

describe('hpte_is_writable / hpte_make_readonly (§E.4)', () => {
  // pp as (PP0 set?, PP): read-only encodings are PP_RXRX (0, 3) and PP_RXXX (1, 2).
  const cases: Array<[boolean, number, boolean, boolean, number]> = [
    // [pp0, pp, writable, make_readonly sets PP0?, make_readonly PP]
    // PP0 clear, PP 0 → PP == 0 → PP_RXXX (PP0|2)
    [false, 0, true, true, 2],
    // PP0 clear, PP 1 or 2 → PP |= 3 → 3 (PP_RXRX)
    [false, 1, true, false, 3],
    [false, 2, true, false, 3],
    // PP_RXRX: already read-only; PP |= 3 leaves it
    [false, 3, false, false, 3],
    // PP0 set → (r & ~PP) | PP_RXXX → PP0 | 2 for every PP
    [true, 0, true, true, 2],
    [true, 1, true, true, 2],
    [true, 2, false, true, 2],
    [true, 3, true, true, 2],
  ];
  for (const [pp0, pp, writable, ro0, roPP] of cases) {
    test(`PP0=${+pp0} PP=${pp}`, () => {
      const hi = pp0 ? 0x80000000 : 0;
      const lo = 0x7e5a1190 | pp; // other bits (RPN, R, M) must be preserved
      assert.equal(hpte_is_writable(hi, lo), writable);
      hpte_make_readonly(hi, lo, out);
      assert.equal(out[0], ro0 ? 0x80000000 : 0);
      assert.equal(out[1], 0x7e5a1190 | roPP);
      assert.equal(hpte_is_writable(out[0], out[1]), false);
    });
  }
  test('TV11 hardware dword 1 0x7e5a1192 (PP = 2) made read-only → 0x7e5a1193', () => {
    hpte_make_readonly(0, 0x7e5a1192, out);
    assert.equal(word(), 0x7e5a1193n);
  });
});

describe('TV6: KVM permission helpers (key = 0 and key ≠ 0)', () => {
  // [PP0, PP, key0 R, key0 W, key1 R, key1 W] straight from the TV6 table, which follows from:
  // read: key≠0 → 1 ≤ pp ≤ 3 (64-bit compare: PP0 fails), key=0 → 1;
  // write: key≠0 → pp == 2, key=0 → pp ≤ 2 (PP0 fails).
  const rows: Array<[number, number, boolean, boolean, boolean, boolean]> = [
    [0, 0, true, true, false, false],
    [0, 1, true, true, true, false],
    [0, 2, true, true, true, true],
    [0, 3, true, false, true, false],
    [1, 0, true, false, false, false],
    [1, 1, true, false, false, false],
    [1, 2, true, false, false, false],
    [1, 3, true, false, false, false],
  ];
  for (const [pp0, pp, r0, w0, r1, w1] of rows) {
    test(`pp = ${pp0 ? 'PP0|' : ''}${pp}`, () => {
      const hi = pp0 ? HPTE_R_PP0_HI : 0;
      assert.equal(hpte_read_permission(hi, pp, 0), r0);
      assert.equal(hpte_write_permission(hi, pp, 0), w0);
      // key is slb_v & Ks or & Kp: any nonzero value is key 1.
      for (const key of [SLB_VSID_KS_LO, SLB_VSID_KP_LO]) {
        assert.equal(hpte_read_permission(hi, pp, key), r1);
        assert.equal(hpte_write_permission(hi, pp, key), w1);
      }
      // The fast helpers mask themselves: a whole dword 1 around pp gives the same answer.
      assert.equal(hpte_read_permission(hi | 0x0abcdef0, 0x7e5a1190 | pp, SLB_VSID_KP_LO), r1);
      assert.equal(hpte_write_permission(hi | 0x0abcdef0, 0x7e5a1190 | pp, 0), w0);
    });
  }
});

describe('TV6: architectural (QEMU) permission model', () => {
  const RWX = PAGE_READ | PAGE_WRITE | PAGE_EXEC;
  const RX = PAGE_READ | PAGE_EXEC;
  // pp3 = PP | PP0 >> 61: key 0: 0,1,2 → RWX; 3,6 → RX; else none.
  //                       key 1: 0,6 → none; 1,3 → RX; 2 → RWX; else none.
  const rows: Array<[number, number, number, number]> = [
    [0, 0, RWX, 0],
    [0, 1, RWX, RX],
    [0, 2, RWX, RWX],
    [0, 3, RX, RX],
    [1, 0, 0, 0], // pp3 4
    [1, 1, 0, 0], // pp3 5
    [1, 2, RX, 0], // pp3 6 = PP_RXXX
    [1, 3, 0, 0], // pp3 7
  ];
  for (const [pp0, pp, k0, k1] of rows) {
    test(`pp = ${pp0 ? 'PP0|' : ''}${pp}`, () => {
      const hi = pp0 ? HPTE_R_PP0_HI : 0;
      assert.equal(ppc_hash64_pte_prot(0, hi, pp), k0);
      assert.equal(ppc_hash64_pte_prot(SLB_VSID_KP_LO, hi, pp), k1);
    });
  }
  test('KVM and architecture differ only at key 0 for PP0|0, PP0|1, PP0|3', () => {
    const differ: string[] = [];
    for (const pp0 of [0, 1]) {
      for (let pp = 0; pp < 4; pp++) {
        for (const key of [0, 1]) {
          const hi = pp0 ? HPTE_R_PP0_HI : 0;
          const arch = ppc_hash64_pte_prot(key, hi, pp);
          const kvmR = hpte_read_permission(hi, pp, key);
          const kvmW = hpte_write_permission(hi, pp, key);
          if (kvmR !== ((arch & PAGE_READ) !== 0) || kvmW !== ((arch & PAGE_WRITE) !== 0)) {
            differ.push(`${pp0 ? 'PP0|' : ''}${pp}/key${key}`);
          }
        }
      }
    }
    assert.deepEqual(differ, ['PP0|0/key0', 'PP0|1/key0', 'PP0|3/key0']);
  });
  test('N or G removes execute only', () => {
    assert.equal(ppc_hash64_pte_noexec_guard(0x4), PAGE_READ | PAGE_WRITE); // N
    assert.equal(ppc_hash64_pte_noexec_guard(0x8), PAGE_READ | PAGE_WRITE); // G
    assert.equal(ppc_hash64_pte_noexec_guard(0x10), RWX); // M only
  });
});

describe('storage keys and the AMR', () => {
  test('key = KEY_HI (bits 61:60) → key bits 4:3, KEY_LO (11:9) → bits 2:0', () => {
    // KEY_HI = 0b11, KEY_LO = 0b101 → 0b11101 = 29.
    assert.equal(hpte_storage_key(0x30000000, 0xa00), 29);
    // KEY_HI = 0b01, KEY_LO = 0b111 → 0b01111 = 15.
    assert.equal(hpte_storage_key(0x10000000, 0xe00), 15);
    assert.equal(hpte_is_mmio_key(0x30000000, 0xe00), true); // key 31
    assert.equal(hpte_is_mmio_key(0x30000000, 0xc00), false); // key 30
  });
  test('hpte_get_skey_perm reads AMR pair (amr >> (62 - 2*key)) & 3', () => {
    // key 29 → shift 4: amr = 0x20 → pair = 0b10 (deny store) → 2.
    assert.equal(hpte_get_skey_perm(0x30000000, 0xa00, 0, 0x20), 2);
    // key 0 → shift 62: amr = 0x4000000000000000 → pair 0b01 (deny load) → 1.
    assert.equal(hpte_get_skey_perm(0, 0, 0x40000000, 0), 1);
    // key 15 → shift 32: amr bits 33:32 = amr_hi bits 1:0.
    assert.equal(hpte_get_skey_perm(0x10000000, 0xe00, 0x3, 0), 3);
    // key 16 (KEY_HI = 0b10) → shift 30: amr_lo bits 31:30; the hi pair above must not leak in.
    assert.equal(hpte_get_skey_perm(0x20000000, 0, 0x3, 0), 0);
    assert.equal(hpte_get_skey_perm(0x20000000, 0, 0, 0xc0000000), 3);
  });
  test('QEMU amr_prot: 0x2 denies store, 0x1 denies load', () => {
    // key 29, pair 0b10 → RWX minus WRITE.
    assert.equal(ppc_hash64_amr_prot(0x30000000, 0xa00, 0, 0x20), PAGE_READ | PAGE_EXEC);
    // key 0, pair 0b01 → RWX minus READ.
    assert.equal(ppc_hash64_amr_prot(0, 0, 0x40000000, 0), PAGE_WRITE | PAGE_EXEC);
  });
});

describe('hpte_cache_flags_ok', () => {
  test('RAM (io_type 0) needs WIMG == M; SAO (W|I|M) counts as M on POWER7 only', () => {
    assert.equal(hpte_cache_flags_ok(0x1234192, 0, true), true); // WIMG = 0x10
    assert.equal(hpte_cache_flags_ok(0x1234000 | 0x70, 0, true), true); // SAO → M
    assert.equal(hpte_cache_flags_ok(0x1234000 | 0x70, 0, false), false); // PPC970: SAO stays 0x70
    assert.equal(hpte_cache_flags_ok(0x1234000 | 0x28, 0, true), false); // I|G
    assert.equal(hpte_cache_flags_ok(0x1234000 | 0x18, 0, true), false); // M|G ≠ M
  });
  test('I/O needs guest W|I == host cache bits', () => {
    // io_type = I (0x20): guest I|G → (wimg & (W|I)) = 0x20 ✓; guest M → 0 ✗.
    assert.equal(hpte_cache_flags_ok(0x28, 0x20, true), true);
    assert.equal(hpte_cache_flags_ok(0x10, 0x20, true), false);
    assert.equal(hpte_cache_flags_ok(0x60, 0x60, true), true);
  });
});

describe('TV11 dword-1 arithmetic (H_ENTER, POWER7, PAGE_SHIFT 12)', () => {
  test('RPN substitution: (0x1234192 & ~(PP0 − 0x1000)) | 0x7e5a1000 = 0x7e5a1192', () => {
    // ~(PP0 - 0x1000) = ~0x7ffffffffffff000 = 0x8000000000000fff; 0x1234192 & that = 0x192;
    // | pa (pfn 0x7e5a1 << 12) = 0x7e5a1192.
    hpte_set_rpn(0, 0x1234192, 0x1000, 0, 0x7e5a1000, out);
    assert.equal(word(), 0x7e5a1192n);
  });
  test('RPN substitution keeps PP0 and drops KEY_HI/TS and old RPN bits', () => {
    // r = 0xf000000012345192 (PP0|TS|KEY_HI, RPN 0x12345): keep PP0 and low 12 bits → 0x8000000000000192,
    // | pa 0x0000000abcdef000 → 0x8000000abcdef192.
    hpte_set_rpn(0xf0000000, 0x12345192, 0x1000, 0xa, 0xbcdef000, out);
    assert.equal(word(), 0x8000000abcdef192n);
    // 16M page: everything below 2^24 survives: 0x12345192 & 0xffffff = 0x345192; | pa 0x7e000000.
    hpte_set_rpn(0, 0x12345192, 0x1000000, 0, 0x7e000000, out);
    assert.equal(word(), 0x7e345192n);
  });
  test('rmap word after chaining = 0x1a298 | REFERENCED | PRESENT = 0x1010001a298', () => {
    // REFERENCED = R (0x100) << 32 = 0x10000000000; PRESENT = 0x100000000.
    assert.equal(0x1a298n | KVMPPC_RMAP_REFERENCED | KVMPPC_RMAP_PRESENT, 0x1010001a298n);
  });
  test('R/C filter with rcbits = rmap >> 32 = 0x101: keep R, strip C → 0x7e5a1112', () => {
    const rmap = 0x1010001a298n;
    // r & (0x101 | ~0x180): R (0x100) stays, C (0x80) goes: 0x7e5a1192 - 0x80 = 0x7e5a1112.
    assert.equal(rmap_rc_filter(0x7e5a1192, hi32(rmap)), 0x7e5a1112);
    // rmap with CHANGED too (0x180 in the high word) keeps both.
    assert.equal(rmap_rc_filter(0x7e5a1192, 0x181), 0x7e5a1192);
    // lo32 of the rmap (the chain index) plays no part.
    assert.equal(lo32(rmap), 0x1a298);
  });
});

test('HPTE_V_COMPARE ignores exactly the low 7 bits', () => {
  // 0x123456001 vs 0x12345607f: differ only in bits 0..6 → equal.
  assert.equal(hpte_v_compare(0x1, 0x23456001, 0x1, 0x2345607f), true);
  // bit 7 differs (AVPN) → not equal.
  assert.equal(hpte_v_compare(0x1, 0x23456001, 0x1, 0x23456081), false);
  // high word differs → not equal.
  assert.equal(hpte_v_compare(0x40000001, 0x23456001, 0x1, 0x23456001), false);
});
