// The hot-path (hi, lo) helpers agree with their BigInt references on random 64-bit inputs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HPTE_R_PP,
  HPTE_R_PP0,
  HPTE_V_ABSENT_LO,
  HPTE_V_SECONDARY,
  HPTE_V_VALID_LO,
  HpteSearchKey,
  compute_tlbie_rb,
  compute_tlbie_rb_big,
  h_bulk_remove_response,
  h_bulk_remove_response_big,
  h_protect_bits,
  h_protect_bits_big,
  hex64,
  hi32,
  hpt_hash,
  hpt_hash_big,
  hpte_cache_flags_ok,
  hpte_cache_flags_ok_big,
  hpte_get_skey_perm,
  hpte_get_skey_perm_big,
  hpte_is_writable,
  hpte_is_writable_big,
  hpte_make_readonly,
  hpte_make_readonly_big,
  hpte_page_size,
  hpte_page_size_big,
  hpte_read_permission,
  hpte_read_permission_big,
  hpte_rpn,
  hpte_rpn_big,
  hpte_search_key,
  hpte_search_key_big,
  hpte_search_match,
  hpte_set_rpn,
  hpte_set_rpn_big,
  hpte_storage_key,
  hpte_storage_key_big,
  hpte_v_compare,
  hpte_v_compare_big,
  hpte_write_permission,
  hpte_write_permission_big,
  hpteg_primary,
  hpteg_secondary,
  lo32,
  ppc_hash64_amr_prot,
  ppc_hash64_amr_prot_big,
  ppc_hash64_pte_prot,
  ppc_hash64_pte_prot_big,
  rmap_rc_filter,
  rmap_rc_filter_big,
  slb_vsid,
  u64,
} from '../../src/arch/index.js';

const RUNS = { numRuns: 3000 };
const w64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
/** Words biased towards interesting low bits: half the time only the low 24 bits are random. */
const word = fc.oneof(w64, fc.bigInt({ min: 0n, max: 2n ** 24n - 1n }));
const out = new Uint32Array(2);
const got = (): bigint => u64(out[0], out[1]);

describe('hpte.ts fast vs BigInt', () => {
  test('hpte_page_size', () => {
    fc.assert(
      fc.property(word, word, fc.boolean(), (v, r, p7) => {
        assert.equal(hpte_page_size(lo32(v), lo32(r), p7), hpte_page_size_big(v, r, p7));
      }),
      RUNS,
    );
  });
  test('hpte_rpn', () => {
    const psize = fc.constantFrom(0x1000, 0x10000, 0x1000000, 2 ** 32, 2 ** 34);
    const shift = fc.constantFrom(0, 12, 16, 24, 32);
    fc.assert(
      fc.property(w64, psize, shift, (r, ps, sh) => {
        assert.equal(BigInt(hpte_rpn(hi32(r), lo32(r), ps, sh)), hpte_rpn_big(r, BigInt(ps), sh));
      }),
      RUNS,
    );
  });
  test('hpte_is_writable and hpte_make_readonly', () => {
    fc.assert(
      fc.property(w64, (r) => {
        assert.equal(hpte_is_writable(hi32(r), lo32(r)), hpte_is_writable_big(r));
        hpte_make_readonly(hi32(r), lo32(r), out);
        assert.equal(got(), hpte_make_readonly_big(r));
      }),
      RUNS,
    );
  });
  test('read/write permission (fast masks a whole dword 1; reference takes pp)', () => {
    const key = fc.constantFrom(0, 0x400, 0x800, 0xc00);
    fc.assert(
      fc.property(w64, key, (r, k) => {
        const pp = r & (HPTE_R_PP0 | HPTE_R_PP);
        assert.equal(hpte_read_permission(hi32(r), lo32(r), k), hpte_read_permission_big(pp, BigInt(k)));
        assert.equal(hpte_write_permission(hi32(r), lo32(r), k), hpte_write_permission_big(pp, BigInt(k)));
      }),
      RUNS,
    );
  });
  test('storage key, skey perm, AMR prot, architectural PP prot', () => {
    fc.assert(
      fc.property(w64, w64, fc.constantFrom(0, 1, 0x400), (r, amr, k) => {
        assert.equal(hpte_storage_key(hi32(r), lo32(r)), hpte_storage_key_big(r));
        assert.equal(hpte_get_skey_perm(hi32(r), lo32(r), hi32(amr), lo32(amr)), hpte_get_skey_perm_big(r, amr));
        assert.equal(ppc_hash64_amr_prot(hi32(r), lo32(r), hi32(amr), lo32(amr)), ppc_hash64_amr_prot_big(r, amr));
        assert.equal(ppc_hash64_pte_prot(k, hi32(r), lo32(r)), ppc_hash64_pte_prot_big(BigInt(k), r));
      }),
      RUNS,
    );
  });
  test('hpte_cache_flags_ok', () => {
    fc.assert(
      fc.property(word, fc.constantFrom(0, 0x20, 0x40, 0x60), fc.boolean(), (r, io, p7) => {
        assert.equal(hpte_cache_flags_ok(lo32(r), io, p7), hpte_cache_flags_ok_big(r, BigInt(io), p7));
      }),
      RUNS,
    );
  });
  test('hpte_set_rpn', () => {
    const psize = fc.constantFrom(0x1000, 0x10000, 0x1000000, 2 ** 32);
    fc.assert(
      fc.property(w64, psize, w64, (r, ps, pa) => {
        hpte_set_rpn(hi32(r), lo32(r), ps, hi32(pa), lo32(pa), out);
        assert.equal(got(), hpte_set_rpn_big(r, BigInt(ps), pa));
      }),
      RUNS,
    );
  });
  test('HPTE_V_COMPARE', () => {
    fc.assert(
      fc.property(w64, fc.oneof(w64, fc.bigInt({ min: 0n, max: 0xffn })), (x, d) => {
        const y = x ^ d; // often differs only in the low byte
        assert.equal(hpte_v_compare(hi32(x), lo32(x), hi32(y), lo32(y)), hpte_v_compare_big(x, y));
      }),
      RUNS,
    );
  });
  test('rmap R/C filter changes only the low word', () => {
    fc.assert(
      fc.property(w64, w64, (r, rmap) => {
        const lo = rmap_rc_filter(lo32(r), hi32(rmap));
        assert.equal(u64(hi32(r), lo), rmap_rc_filter_big(r, rmap));
      }),
      RUNS,
    );
  });
});

describe('hash.ts fast vs BigInt', () => {
  const shift = fc.oneof(fc.constantFrom(12, 16, 20, 24, 34), fc.integer({ min: 0, max: 63 }));
  test('hpt_hash, both segment sizes, full 64-bit VSIDs', () => {
    fc.assert(
      fc.property(w64, w64, shift, fc.constantFrom(0, 1), (vsid, ea, sh, ss) => {
        const fast = hpt_hash(hi32(vsid), lo32(vsid), hi32(ea), lo32(ea), sh, ss);
        assert.equal(BigInt(fast), hpt_hash_big(vsid, ea, sh, ss));
      }),
      RUNS,
    );
  });
  test('PTEG helpers agree with ~hash & mask for every order', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 39n - 1n }), fc.integer({ min: 18, max: 46 }), (h, order) => {
        const m = 2n ** BigInt(order - 7) - 1n;
        assert.equal(BigInt(hpteg_primary(Number(h), Number(m))), h & m);
        assert.equal(BigInt(hpteg_secondary(Number(h), Number(m))), ~h & m);
      }),
      RUNS,
    );
  });
  test('hpte_search_key and hpte_search_match', () => {
    const key = new HpteSearchKey();
    fc.assert(
      fc.property(w64, w64, w64, fc.boolean(), (slb_v, ea, v, sec) => {
        hpte_search_key(hi32(slb_v), lo32(slb_v), hi32(ea), lo32(ea), key);
        const ref = hpte_search_key_big(slb_v, ea);
        assert.equal(BigInt(key.hash), ref.hash);
        assert.equal(key.pshift, ref.pshift);
        assert.equal(u64(key.valHi, key.valLo), ref.val);
        assert.equal(u64(key.maskHi, key.maskLo), ref.mask);
        // The scan test, on a random word and on one built to match.
        const want = sec ? ref.val | HPTE_V_SECONDARY : ref.val;
        const valid = HPTE_V_VALID_LO | HPTE_V_ABSENT_LO;
        const expect = (v & BigInt(valid)) !== 0n && (v & ref.mask) === want;
        assert.equal(hpte_search_match(hi32(v), lo32(v), valid, key, sec), expect);
        const hit = want | (v & ~ref.mask & 0xffffffffffffffffn) | 1n;
        assert.equal(hpte_search_match(hi32(hit), lo32(hit), HPTE_V_VALID_LO, key, sec), true);
      }),
      RUNS,
    );
  });
  test('slb_vsid matches the reference VSID extraction', () => {
    fc.assert(
      fc.property(w64, (slb_v) => {
        slb_vsid(hi32(slb_v), lo32(slb_v), out);
        const noB = slb_v & 0x3fffffffffffffffn;
        const ref = (slb_v & 0x4000000000000000n) !== 0n ? noB >> 24n : noB >> 12n;
        assert.equal(got(), ref);
      }),
      RUNS,
    );
  });
  test('compute_tlbie_rb', () => {
    const idx = fc.integer({ min: 0, max: 2 ** 42 - 1 });
    fc.assert(
      fc.property(w64, word, idx, fc.boolean(), (v, r, i, p7) => {
        compute_tlbie_rb(hi32(v), lo32(v), lo32(r), i, p7, out);
        assert.equal(got(), compute_tlbie_rb_big(v, r, BigInt(i), p7));
      }),
      RUNS,
    );
  });
});

describe('hcall.ts and word.ts fast vs BigInt', () => {
  test('h_protect_bits', () => {
    fc.assert(
      fc.property(w64, (flags) => {
        h_protect_bits(lo32(flags), out);
        assert.equal(got(), h_protect_bits_big(flags));
      }),
      RUNS,
    );
  });
  test('h_bulk_remove_response', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x80, 0x90, 0xa0),
        fc.integer({ min: 0, max: 3 }),
        w64,
        fc.integer({ min: 0, max: 2 ** 53 - 1 }).map((n) => n % 2 ** 52),
        (code, flags, rc, idx) => {
          h_bulk_remove_response(code, flags, lo32(rc), idx, out);
          assert.equal(got(), h_bulk_remove_response_big(code, flags, rc, BigInt(idx)));
        },
      ),
      RUNS,
    );
  });
  test('hex64(hi, lo) == hex64(bigint) == toString(16)', () => {
    fc.assert(
      fc.property(w64, (x) => {
        assert.equal(hex64(hi32(x), lo32(x)), hex64(x));
        assert.equal(hex64(x), '0x' + x.toString(16));
      }),
      RUNS,
    );
  });
});
