// SLB, registers, hcall encodings, name tables and hex formatting, against values derived by hand
// from kernel-model.md §A.5, §B, §D.1, §D.5, §D.6, §E.3, §G.1, §G.4.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOK3S_INTERRUPT_NAMES,
  H_ENTER_NESTED,
  H_PARAMETER,
  H_PTEG_FULL,
  H_TOO_HARD,
  HPTE_V_VRMA_MASK,
  KVM_EXIT_NAMES,
  KVM_INST_FETCH_FAILED,
  LPCR_VRMASD,
  LPCR_VRMA_L,
  LPCR_VRMA_LP1,
  RESUME_NAMES,
  VCORE_ENTRY_COUNT,
  VCORE_EXIT_COUNT,
  h_bulk_remove_flags,
  h_bulk_remove_ptex,
  h_bulk_remove_req,
  h_bulk_remove_response,
  h_protect_bits,
  h_rc_name,
  hcall_name,
  hex64,
  popcount32,
  hi32,
  hid4_set_lpid,
  hid4_set_rma,
  instruction_is_store,
  lo32,
  lpcr_rmls,
  lpcr_vrmasd,
  slb_esid_match,
  slb_key,
  slb_pgsize_encoding,
  slb_v_base_page_shift,
  slb_vsid,
  u64,
  vrma_slb_v,
} from '../../src/arch/index.js';

const out = new Uint32Array(2);
const word = (): bigint => u64(out[0], out[1]);

describe('SLB (§B) and VRMA (§A.5)', () => {
  test('base page shift from L/LP: none → 12, LP 0 → 24, 1 → 16, 2 → 34, 3 → 20', () => {
    assert.equal(slb_v_base_page_shift(0x000), 12);
    assert.equal(slb_v_base_page_shift(0x100), 24);
    assert.equal(slb_v_base_page_shift(0x110), 16);
    assert.equal(slb_v_base_page_shift(0x120), 34);
    assert.equal(slb_v_base_page_shift(0x130), 20);
    // LP without L means nothing.
    assert.equal(slb_v_base_page_shift(0x010), 12);
  });
  test('senc: 4K → 0, 64K → L|LP_01 = 0x110, 16M → L = 0x100', () => {
    assert.equal(slb_pgsize_encoding(0x1000), 0);
    assert.equal(slb_pgsize_encoding(0x10000), 0x110);
    assert.equal(slb_pgsize_encoding(0x1000000), 0x100);
  });
  test('vrma_slb_v = B_1T | VRMA_VSID << 24 | senc = 0x4001ffffff000000 | senc', () => {
    // 0x4000000000000000 | 0x1ffffff << 24 (= 0x1ffffff000000) = 0x4001ffffff000000.
    assert.equal(vrma_slb_v(0), 0x4001ffffff000000n);
    assert.equal(vrma_slb_v(0x100), 0x4001ffffff000100n);
    assert.equal(vrma_slb_v(0x110), 0x4001ffffff000110n);
    // HPTE_V_VRMA_MASK is the same B|VSID pattern.
    assert.equal(vrma_slb_v(0), HPTE_V_VRMA_MASK);
  });
  test('LPCR.VRMASD = senc << 43: 64K → VRMA_L | VRMA_LP1, 16M → VRMA_L', () => {
    // L (0x100 = bit 8) << 43 → bit 51 = VRMA_L; LP_01 (0x10 = bit 4) << 43 → bit 47 = VRMA_LP1.
    assert.equal(lpcr_vrmasd(0x110), LPCR_VRMA_L | LPCR_VRMA_LP1);
    assert.equal(lpcr_vrmasd(0x100), LPCR_VRMA_L);
    assert.equal(lpcr_vrmasd(0x110) & ~LPCR_VRMASD, 0n);
  });
  test('VSID extraction strips B and flags: 256M >> 12, 1T >> 24', () => {
    // 256M word 0x0000f12345678d90 (flags Ks|Kp|L|C|LP in 0xd90): (& ~B) >> 12 = 0xf12345678.
    slb_vsid(0x0000f123, 0x45678d90, out);
    assert.equal(word(), 0xf12345678n);
    // Reserved B = 10 (bit 63 only): KVM tests only bit 62, so it is a 256M segment; B is stripped.
    slb_vsid(0x8000f123, 0x45678d90, out);
    assert.equal(word(), 0xf12345678n);
    // 1T: 0x4123456789000c00 → (& ~B) >> 24 = 0x123456789.
    slb_vsid(0x41234567, 0x89000c00, out);
    assert.equal(word(), 0x123456789n);
  });
  test('ESID match: valid bit, then 256M or 1T mask by origv.B', () => {
    // orige for EA segment 0x10000000 | V (0x08000000) | slot 3.
    assert.equal(slb_esid_match(0, 0x18000003, 0, 0, 0x10005000), true);
    assert.equal(slb_esid_match(0, 0x10000003, 0, 0, 0x10005000), false); // not valid
    assert.equal(slb_esid_match(0, 0x18000003, 0, 0, 0x20005000), false); // other segment
    // 1T entry for EA 0x0000_0100_0000_0000 covers 0x0000_01ab_cdef_0000 but not 0x0000_0200_....
    assert.equal(slb_esid_match(0x100, 0x08000000, 0x40000000, 0x1ab, 0xcdef0000), true);
    assert.equal(slb_esid_match(0x100, 0x08000000, 0x40000000, 0x200, 0), false);
  });
  test('protection key: Kp in problem state, Ks otherwise', () => {
    assert.equal(slb_key(0x400, true), 0x400);
    assert.equal(slb_key(0x400, false), 0);
    assert.equal(slb_key(0x800, false), 0x800);
  });
});

describe('registers (§E.3, §G.1)', () => {
  test('instruction_is_store: opcode 31 tests 0x100, others 0x10000000', () => {
    assert.equal(instruction_is_store(0x7c00002e), false); // lwzx: 0x2e & 0x100 = 0
    assert.equal(instruction_is_store(0x7c00012e), true); // stwx: 0x12e & 0x100 ≠ 0
    assert.equal(instruction_is_store(0x80000000), false); // lwz (opcode 32): bit 0x10000000 clear
    assert.equal(instruction_is_store(0x90000000), true); // stw (opcode 36): bit set
    // The kvm_ppc_instr tracepoint prints lwzx as decimal 2080374830.
    assert.equal(2080374830, 0x7c00002e);
    // The u32 image of KVM_INST_FETCH_FAILED (-1).
    assert.equal(KVM_INST_FETCH_FAILED, (-1) >>> 0);
  });
  test('lpcr_rmls table', () => {
    const MiB = 2 ** 20;
    const GiB = 2 ** 30;
    assert.equal(lpcr_rmls(32 * MiB, true), 8);
    assert.equal(lpcr_rmls(32 * MiB, false), -1); // POWER7 only
    assert.equal(lpcr_rmls(64 * MiB, false), 3);
    assert.equal(lpcr_rmls(128 * MiB, true), 7);
    assert.equal(lpcr_rmls(256 * MiB, true), 4);
    assert.equal(lpcr_rmls(1 * GiB, true), 2);
    assert.equal(lpcr_rmls(16 * GiB, true), 1);
    assert.equal(lpcr_rmls(256 * GiB, true), 0);
    assert.equal(lpcr_rmls(512 * MiB, true), -1);
    assert.equal(lpcr_rmls(0, true), -1);
  });
  test('HID4 LPID split: lpid & 0xf at 57, lpid >> 4 at 0', () => {
    // lpid 0x2b = 0b10_1011: 0xb << 57 = 0x1600000000000000; 0b10 << 0 = 0x2.
    assert.equal(hid4_set_lpid(0n, 0x2b), 0x1600000000000002n);
    // Re-inserting clears the old value first.
    assert.equal(hid4_set_lpid(0x1600000000000002n, 0x01), 0x0200000000000000n);
  });
  test('HID4 RMLS split and RMOR', () => {
    // rmls 7 (128 MiB): 7 >> 2 = 1 at bit 5 (0x20); 7 & 3 = 3 at bit 61 (0x6000000000000000).
    // RMA base pfn 0x40000 (1 GiB, 4K pages) >> (26 - 12) = 0x10 at bit 41 = 0x200000000000.
    assert.equal(hid4_set_rma(0n, 7, 0x40000, 12), 0x6000200000000020n);
  });
  test('trap names follow kvm_trace_symbol_exit', () => {
    assert.equal(BOOK3S_INTERRUPT_NAMES.get(0xe00), 'H_DATA_STORAGE');
    assert.equal(BOOK3S_INTERRUPT_NAMES.get(0x980), 'HV_DECREMENTER');
    assert.equal(BOOK3S_INTERRUPT_NAMES.get(0xc00), 'SYSCALL');
    assert.equal(BOOK3S_INTERRUPT_NAMES.get(0x123), undefined);
  });
  test('vcore entry/exit counts: entries in bits 0..7, exits in 8..15', () => {
    assert.equal(VCORE_ENTRY_COUNT(0x0203), 3);
    assert.equal(VCORE_EXIT_COUNT(0x0203), 2);
  });
});

describe('hcalls (§D.1, §D.5, §D.6)', () => {
  test('name tables', () => {
    assert.equal(hcall_name(0x08), 'H_ENTER');
    assert.equal(hcall_name(0x124), 'H_BULK_REMOVE');
    assert.equal(hcall_name(H_ENTER_NESTED), 'H_ENTER_NESTED');
    assert.equal(hcall_name(0x9999), undefined);
    assert.equal(h_rc_name(H_PTEG_FULL), 'H_PTEG_FULL');
    assert.equal(h_rc_name(H_TOO_HARD), 'H_TOO_HARD');
    // r3 as the register holds it: -4 = 0xfffffffffffffffc.
    assert.equal(h_rc_name(0xfffffffffffffffcn), 'H_PARAMETER');
    assert.equal(H_PARAMETER, -4);
    assert.equal(KVM_EXIT_NAMES.get(19), 'KVM_EXIT_PAPR_HCALL');
    assert.equal(KVM_EXIT_NAMES.get(6), 'KVM_EXIT_MMIO');
    assert.equal(KVM_EXIT_NAMES.get(10), 'KVM_EXIT_INTR');
    assert.equal(KVM_EXIT_NAMES.get(17), 'KVM_EXIT_INTERNAL_ERROR');
    assert.equal(RESUME_NAMES.get(2), 'RESUME_HOST');
    assert.equal(RESUME_NAMES.get(3), 'RESUME_HOST_NV');
  });
  test('H_BULK_REMOVE request word: type 1 (remove), AVPN flags 2, index 0x1a298', () => {
    // top byte = (1 << 6) | 2 = 0x42 → tsh = 0x420000000001a298.
    const tsh = 0x420000000001a298n;
    assert.equal(h_bulk_remove_req(hi32(tsh)), 1);
    assert.equal(h_bulk_remove_flags(hi32(tsh)), 2);
    assert.equal(h_bulk_remove_ptex(hi32(tsh), lo32(tsh)), 0x1a298);
    // End of list: type 3 in the top two bits.
    assert.equal(h_bulk_remove_req(0xc0000000), 3);
  });
  test('H_BULK_REMOVE responses: 0x80|flags with R → 0x08 and C → 0x04, 0x90, 0xa0', () => {
    // Removed, flags 2, guest R and C set: (0x82 << 56) + idx | (0x180 << 51 = 0x0c << 56)
    // → top byte 0x8e.
    h_bulk_remove_response(0x80, 2, 0x180, 0x1a298, out);
    assert.equal(word(), 0x8e0000000001a298n);
    // Only R: 0x82 | 0x08 = 0x8a.
    h_bulk_remove_response(0x80, 2, 0x100, 0x1a298, out);
    assert.equal(word(), 0x8a0000000001a298n);
    h_bulk_remove_response(0x90, 1, 0, 0x1a298, out);
    assert.equal(word(), 0x910000000001a298n);
    h_bulk_remove_response(0xa0, 3, 0, 0x1a298, out);
    assert.equal(word(), 0xa30000000001a298n);
  });
  test('H_PROTECT flags → PP0 (flags 0x100 << 55), KEY_HI (0x3000 << 48), PP|N|KEY_LO', () => {
    // flags = 0x100 | 0x1000 | 0x600 | H_N (4) | H_PP1 (2):
    // PP0 = 0x8000000000000000; KEY_HI = 0x1000 << 48 = 0x1000000000000000; low = 0x606.
    h_protect_bits(0x100 | 0x1000 | 0x600 | 0x4 | 0x2, out);
    assert.equal(word(), 0x9000000000000606n);
    // Flag bits outside the five sources (H_AVPN 0x80000000, 0x80) contribute nothing.
    h_protect_bits(0x80000080, out);
    assert.equal(word(), 0n);
  });
});

describe('hex64', () => {
  test('lowercase, 0x-prefixed, no padding', () => {
    assert.equal(hex64(0x123456001n), '0x123456001');
    assert.equal(hex64(0n), '0x0');
    assert.equal(hex64(0x1, 0x23456001), '0x123456001');
    assert.equal(hex64(0, 0x7e5a1192), '0x7e5a1192');
    assert.equal(hex64(0x80000000, 0x5), '0x8000000000000005');
    assert.equal(hex64(0, 0), '0x0');
  });
  test('negative values print as their 64-bit image (like -EFAULT in a trace)', () => {
    assert.equal(hex64(-14n), '0xfffffffffffffff2');
  });
});

describe('popcount32', () => {
  test('counts set bits of the 32-bit value', () => {
    assert.equal(popcount32(0), 0);
    assert.equal(popcount32(0xffffffff), 32);
    assert.equal(popcount32(0x80000001), 2);
    assert.equal(popcount32(0b1011), 3);
    assert.equal(popcount32(0x00ffffff), 24); // a full wmask: 12 words × 2 halves
    assert.equal(popcount32(-1), 32); // taken as its u32 image
  });
});
