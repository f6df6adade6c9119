// Hcall semantics of the Book3S HV model, Linux 3.4 on POWER7 (kernel-model §D, §K TV11).
// Every expected value is derived in the comment next to it from the kernel rules, not from output.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  H_BULK_REMOVE,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_ENTER,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PROTECT,
  H_PTEG_FULL,
  H_READ,
  H_REMOVE,
  H_SUCCESS,
  H_TOO_HARD,
  compute_tlbie_rb_big,
} from '../../src/arch/index.js';
import { E } from '../../src/trace/kinds.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { HpteSearchKey, kvmppc_hv_find_lock_hpte } from '../../src/kvm/hash/rm_mmu.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { makeWorld, UA, type World } from './helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

const H_EXACT = 0x0000008000000000n;
const H_READ_4 = 0x0000002000000000n;
const H_AVPN = 0x0000000080000000n;
const H_ANDCOND = 0x0000000040000000n;
const H_LOCAL = 0x0000000010000000n;

// TV11 inputs.
const PTEH = 0x123456001n;
const PTEL = 0x1234192n;
const IDX = 0x1a298n;

function ok(w: World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

/** Map host page for gfn (PAGE_SHIFT 12) at a chosen pfn. */
function hostMap(w: World, gfn: number, pfn: number, writable = true): void {
  w.mm.map(UA + gfn * 4096, { pfn, writable });
}

test('TV11: H_ENTER end to end (K34, PAGE_SHIFT 12, order 24)', () => {
  const w = makeWorld();
  hostMap(w, 0x1234, 0x7e5a1);
  const { ret, out } = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  // Slot 0 of PTEG 0x1a298/8 is free → r4 = 0x1a298, r3 = H_SUCCESS.
  assert.equal(ret, H_SUCCESS);
  assert.equal(out[0], 0x1a298n);
  const [v, r] = w.kvm.mmu.hpteBig(0x1a298);
  // pteh: clear HVLOCK|ABSENT|VALID, then VALID (host page present) → 0x123456001.
  assert.equal(v, 0x123456001n);
  // ptel: (0x1234192 & (PP0 | 0xfff)) | 0x7e5a1000 = 0x7e5a1192; R/C filter with rmap>>32 = 0x101
  // keeps R (0x100) and strips C (0x80): 0x7e5a1192 & ~0x80 = 0x7e5a1112.
  assert.equal(r, 0x7e5a1112n);
  assert.equal(w.kvm.mmu.guestRBig(0x1a298), 0x1234192n);
  // rmap[0x1234] = 0x1a298 | REFERENCED (1<<40) | PRESENT (1<<32) = 0x1010001a298.
  assert.equal(w.kvm.rmapBig(0x1234), 0x1010001a298n);
  assert.equal(w.kvm.mmu.revForw[0x1a298], 0x1a298);
  assert.equal(w.kvm.mmu.revBack[0x1a298], 0x1a298);
  // H_READ(0, 0x1a298) → r4 = 0x123456001, r5 = guest_rpte | (hw R/C = 0x100) = 0x1234192.
  const rd = hcallBig(w.kvm, w.vcpu, H_READ, [0n, IDX]);
  assert.equal(rd.ret, H_SUCCESS);
  assert.equal(rd.out[0], 0x123456001n);
  assert.equal(rd.out[1], 0x1234192n);
  ok(w);

  // Events: host_page(map), ..., hcall_enter, rmap_change(link), hpte_write, hcall_exit (real).
  const ev = w.events();
  const enter = ev.find((e) => e.kind === 'hcall_enter')!;
  const link = ev.find((e) => e.kind === 'rmap_change')!;
  const hw = ev.find((e) => e.kind === 'hpte_write')!;
  const exit = ev.find((e) => e.kind === 'hcall_exit')!;
  assert.ok(enter.seq < link.seq && link.seq < hw.seq && hw.seq < exit.seq);
  for (const e of [link, hw, exit]) assert.equal(e.cause, enter.seq);
  assert.equal(field(hw, 'hpte_index'), 0x1a298n);
  assert.equal(field(hw, 'old_v'), 0n);
  assert.equal(field(hw, 'new_v'), 0x123456001n);
  assert.equal(field(hw, 'new_r'), 0x7e5a1112n);
  assert.equal(field(hw, 'guest_r'), 0x1234192n);
  assert.equal(fieldNum(link, 'op'), E.rmap_op.link);
  assert.equal(field(link, 'gfn'), 0x1234n);
  assert.equal(field(link, 'rmap'), 0x1010001a298n);
  assert.equal(fieldNum(link, 'forw'), 0x1a298);
  assert.equal(fieldNum(link, 'back'), 0x1a298);
  assert.equal(fieldNum(exit, 'ret'), H_SUCCESS);
  assert.equal(fieldNum(exit, 'path'), E.hcall_path.real);
  assert.equal(field(exit, 'out_r4'), 0x1a298n);
});

test('H_ENTER placement: first free slot, H_EXACT, H_PTEG_FULL over VALID|ABSENT', () => {
  const w = makeWorld({ order: 18 });
  hostMap(w, 0x10, 0x500);
  const base = 0x88n; // PTEG 0x11, slots 0x88..0x8f
  // Fill slots 0x88, 0x89, 0x8a by asking for index 0x8d without H_EXACT: index &= ~7, first free.
  for (let k = 0n; k < 3n; k++) {
    const { ret, out } = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, base + 5n, 0x999000001n, 0x10012n]);
    assert.equal(ret, H_SUCCESS);
    assert.equal(out[0], base + k);
  }
  // H_EXACT on a taken slot → H_PTEG_FULL, on a free one → exactly that index.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [H_EXACT, base + 1n, 0x999000001n, 0x10012n]).ret, H_PTEG_FULL);
  const ex = hcallBig(w.kvm, w.vcpu, H_ENTER, [H_EXACT, base + 6n, 0x999000001n, 0x10012n]);
  assert.deepEqual([ex.ret, ex.out[0]], [H_SUCCESS, base + 6n]);
  // The rest with a gpa in no memslot (MMIO) → ABSENT entries, which also count as occupied.
  // Free before: 0x8b, 0x8c, 0x8d, 0x8e, 0x8f → 4 ABSENT entries fill 0x8b..0x8d, 0x8f.
  for (const want of [0x8bn, 0x8cn, 0x8dn, 0x8fn]) {
    const r = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, base, 0x999000001n, 0x80000000012n]);
    assert.deepEqual([r.ret, r.out[0]], [H_SUCCESS, want]);
  }
  // All 8 are VALID or ABSENT now.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, base + 2n, 0x999000001n, 0x10012n]).ret, H_PTEG_FULL);
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [H_EXACT, base + 7n, 0x999000001n, 0x10012n]).ret, H_PTEG_FULL);
  // Chain of gfn 0x10 holds the 4 VALID entries in insertion order (tail insertion before head).
  const k = w.kvm;
  assert.equal(k.rmapBig(0x10)! & 0xffffffffn, 0x88n);
  assert.deepEqual([k.mmu.revForw[0x88], k.mmu.revForw[0x89], k.mmu.revForw[0x8a], k.mmu.revForw[0x8e]], [0x89, 0x8a, 0x8e, 0x88]);
  ok(w);
});

test('H_ENTER return codes for bad arguments', () => {
  const w = makeWorld({ order: 18 });
  hostMap(w, 0x10, 0x500);
  const npte = BigInt(w.kvm.mmu.npte); // 2^(18-4) = 16384
  // pte_index ≥ NPTE (after the page checks) → H_PARAMETER; a negative index is huge unsigned.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, npte, 0x999000001n, 0x10012n]).ret, H_PARAMETER);
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, -8n, 0x999000001n, 0x10012n]).ret, H_PARAMETER);
  // L set and LP nibble neither 0001 (64K) nor bits 12..19 zero (16M) → hpte_page_size 0.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0n, 0x999000005n, 0x12012n]).ret, H_PARAMETER);
  // 64K guest page (L, LP 0x1000) over a 4K host page: pte_size 4K < psize 64K → H_PARAMETER.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0n, 0x999000005n, 0x11012n]).ret, H_PARAMETER);
  // 16M guest page in a slot of 0x40000 pages at gfn 0: aligned (4096 | 0 and 4096 | 0x40000), but the
  // host page is 4K → H_PARAMETER as well. Nothing was written.
  assert.equal(hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0n, 0x999000005n, 0x1000012n]).ret, H_PARAMETER);
  for (let i = 0; i < 8; i++) assert.equal(w.kvm.mmu.hpt[i * 4 + 1], 0);
  ok(w);
});

test('H_ENTER: not-present host page → ABSENT, RPN cleared, no chain', () => {
  const w = makeWorld({ order: 18 });
  const { ret, out } = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x40n, 0x777000001n, 0x20192n]);
  assert.equal(ret, H_SUCCESS);
  const [v, r] = w.kvm.mmu.hpteBig(Number(out[0]));
  // pteh & ~0x61 | ABSENT = 0x777000020; ptel & (PP0 | 0xfff) | pa(0) = 0x192 (no rmap filter: not VALID).
  assert.equal(v, 0x777000020n);
  assert.equal(r, 0x192n);
  assert.equal(w.kvm.mmu.guestRBig(0x40), 0x20192n);
  assert.equal(w.kvm.rmapBig(0x20), 0n);
  // H_READ reports it VALID with the guest view: v = (v & ~ABSENT) | VALID, r = guest_rpte | (hw R/C 0x180).
  const rd = hcallBig(w.kvm, w.vcpu, H_READ, [0n, 0x40n]);
  assert.equal(rd.out[0], 0x777000001n);
  assert.equal(rd.out[1], 0x20192n);
  ok(w);
});

test('H_ENTER: MMIO (no memslot) → ABSENT with storage key 31, RPN untranslated', () => {
  const w = makeWorld({ order: 18, npages: 0x100 });
  // gpa 0x80000000 is beyond the 1 MiB slot.
  const { ret } = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x100n, 0x555000001n, 0x80000032n]);
  assert.equal(ret, H_SUCCESS);
  const [v, r] = w.kvm.mmu.hpteBig(0x100);
  // ABSENT; r = ptel | KEY_HI | KEY_LO = 0x80000032 | 0x3000000000000e00 (WIMG 0x30 = I|M kept: no check).
  assert.equal(v, 0x555000020n);
  assert.equal(r, 0x3000000080000e32n);
  assert.equal(w.kvm.mmu.guestRBig(0x100), 0x80000032n);
  ok(w);
});

test('H_ENTER: WIMG of RAM rewritten to M, guest view keeps its WIMG', () => {
  const w = makeWorld({ order: 18 });
  hostMap(w, 0x30, 0x600);
  // ptel WIMG = I|G (0x28), PP = 2 → hpte_cache_flags_ok fails for RAM (is_io = 0): clear W|I|G, set M.
  const { ret } = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x200n, 0x444000001n, 0x300aan]);
  assert.equal(ret, H_SUCCESS);
  // 0x300aa: R=0, C=0x80, WIMG=0x28, PP=2 → hw: (0xaa & ~0x68 | 0x10) = 0x92, C stripped by the
  // rmap filter (K34 link leaves only REFERENCED) → 0x12; RPN 0x600000.
  assert.equal(w.kvm.mmu.hpteBig(0x200)[1], 0x600012n);
  assert.equal(w.kvm.mmu.guestRBig(0x200), 0x300aan);
  // SAO (W|I|M = 0x70) counts as M on POWER7: kept as is.
  hostMap(w, 0x31, 0x601);
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x208n, 0x444000001n, 0x31172n]);
  assert.equal(w.kvm.mmu.hpteBig(0x208)[1], 0x601172n); // R kept (rmap REFERENCED), WIMG 0x70 kept
  ok(w);
});

test('H_ENTER: host read-only page makes the real HPTE read-only; guest view unchanged', () => {
  const w = makeWorld({ order: 18 });
  hostMap(w, 0x40, 0x700, false);
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x300n, 0x333000001n, 0x40012n]);
  // writing (PP=2) && !pte_write → hpte_make_readonly: PP0 clear and PP ≠ 0 → PP |= 3 = PP_RXRX.
  assert.equal(w.kvm.mmu.hpteBig(0x300)[1], 0x700013n);
  assert.equal(w.kvm.mmu.guestRBig(0x300), 0x40012n);
  ok(w);
});

test('K34: CHANGED in the rmap word is lost when an HPTE is linked', () => {
  const w = makeWorld({ order: 18 });
  hostMap(w, 0x50, 0x800);
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x400n, 0x222000001n, 0x50012n]);
  // Hardware sets R and C on access.
  w.kvm.mmu.hpt[0x400 * 4 + 3] |= 0x180;
  // H_REMOVE harvests R|C: chain empties (PRESENT, INDEX cleared) then rmap |= 0x180 << 32.
  const rm = hcallBig(w.kvm, w.vcpu, H_REMOVE, [0n, 0x400n, 0n]);
  assert.equal(rm.ret, H_SUCCESS);
  assert.equal(w.kvm.rmapBig(0x50), 0x18000000000n);
  // r5 = guest_rpte | harvested R/C = 0x50012 | 0x180 = 0x50192; r4 = old v.
  assert.deepEqual([rm.out[0], rm.out[1]], [0x222000001n, 0x50192n]);
  // Re-map: add_revmap_chain writes head | REFERENCED | PRESENT → CHANGED gone.
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, 0x408n, 0x222000001n, 0x50192n]);
  assert.equal(w.kvm.rmapBig(0x50), 0x10100000408n);
  // The filter then strips C from the new hardware entry (R kept): 0x192 & ~0x80 = 0x112.
  assert.equal(w.kvm.mmu.hpteBig(0x408)[1], 0x800112n);
  ok(w);
});

test('H_REMOVE: return codes, AVPN, ANDCOND, tlbie RB and scope', () => {
  const w = makeWorld();
  hostMap(w, 0x1234, 0x7e5a1);
  const k = w.kvm;
  assert.equal(hcallBig(k, w.vcpu, H_REMOVE, [0n, BigInt(k.mmu.npte), 0n]).ret, H_PARAMETER);
  assert.equal(hcallBig(k, w.vcpu, H_REMOVE, [0n, IDX, 0n]).ret, H_NOT_FOUND); // empty slot
  hcallBig(k, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  // AVPN: (v & ~0x7f) = 0x123456000 must equal r6.
  assert.equal(hcallBig(k, w.vcpu, H_REMOVE, [H_AVPN, IDX, 0x123457000n]).ret, H_NOT_FOUND);
  // ANDCOND: (v & r6) != 0 → not found; v = 0x123456001 & 0x1 ≠ 0.
  assert.equal(hcallBig(k, w.vcpu, H_REMOVE, [H_ANDCOND, IDX, 0x1n]).ret, H_NOT_FOUND);
  // The kernel tests the locked word, so HVLOCK (0x40) in the mask always hits.
  assert.equal(hcallBig(k, w.vcpu, H_REMOVE, [H_ANDCOND, IDX, 0x40n]).ret, H_NOT_FOUND);
  assert.ok(k.mmu.isValid(0x1a298));
  // Two online vcpus and no H_LOCAL → global tlbie.
  k.online_vcpus = 2;
  const rm = hcallBig(k, w.vcpu, H_REMOVE, [H_AVPN | H_ANDCOND, IDX, 0x123456000n & 0n]);
  // (H_AVPN with avpn 0 mismatches: 0x123456000 ≠ 0) → not found; now the matching AVPN:
  assert.equal(rm.ret, H_NOT_FOUND);
  const rm2 = hcallBig(k, w.vcpu, H_REMOVE, [H_AVPN, IDX, 0x123456000n]);
  assert.equal(rm2.ret, H_SUCCESS);
  // r4 = old v 0x123456001; r5 = guest_rpte | hw R (0x100, the filtered hw entry had R) = 0x1234192.
  assert.deepEqual([rm2.out[0], rm2.out[1]], [0x123456001n, 0x1234192n]);
  const [v, r] = k.mmu.hpteBig(0x1a298);
  assert.equal(v, 0n); // dword 0 = 0
  assert.equal(r, 0x7e5a1112n); // dword 1 stale
  // rmap: chain empty, REFERENCED from the link kept, R harvested (already set) → 0x10000000000.
  assert.equal(k.rmapBig(0x1234), 0x10000000000n);
  // RB = compute_tlbie_rb(0x123456001, r, 0x1a298): AVA 0x123456000 << 16 = 0x1234560000000,
  // va_low = (0x1a298 >> 3) ^ (v >> 12) = 0x3453 ^ 0x123456 = 0x120005 → & 0x7ff = 0x5 → << 12.
  // = 0x1234560005000 (the VA of TV2), B = 0.
  const tl = w.events().filter((e) => e.kind === 'tlbie');
  assert.equal(tl.length, 1);
  assert.equal(field(tl[0], 'rb'), 0x1234560005000n);
  assert.equal(field(tl[0], 'rb'), compute_tlbie_rb_big(0x123456001n, 0x7e5a1112n, 0x1a298n, true));
  assert.equal(fieldNum(tl[0], 'scope'), E.tlb_scope.global);
  // Again with H_LOCAL → tlbiel.
  hcallBig(k, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  hcallBig(k, w.vcpu, H_REMOVE, [H_LOCAL, IDX, 0n]);
  const tl2 = w.events().filter((e) => e.kind === 'tlbie');
  assert.equal(fieldNum(tl2[1], 'scope'), E.tlb_scope.local);
  // ABSENT entry: removed without tlbie, r4 keeps ABSENT (K34).
  hcallBig(k, w.vcpu, H_ENTER, [0n, 0x100n, 0x777000001n, 0x20192n]); // gfn 0x20 not mapped
  const ra = hcallBig(k, w.vcpu, H_REMOVE, [0n, 0x100n, 0n]);
  assert.deepEqual([ra.ret, ra.out[0], ra.out[1]], [H_SUCCESS, 0x777000020n, 0x20192n]);
  assert.equal(w.events().filter((e) => e.kind === 'tlbie').length, 2);
  ok(w);
});

test('H_PROTECT: bit placement, AVPN, guest view and hardware word, tlbie scope', () => {
  const w = makeWorld();
  hostMap(w, 0x1234, 0x7e5a1);
  const k = w.kvm;
  assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [0n, BigInt(k.mmu.npte), 0n]).ret, H_PARAMETER);
  assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [0n, IDX, 0n]).ret, H_NOT_FOUND);
  hcallBig(k, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [H_AVPN, IDX, 0x1n]).ret, H_NOT_FOUND);
  // flags: 0x100 → PP0 (flags << 55, bit 63); 0x3000 → KEY_HI (flags << 48 = 0x3000000000000000);
  // low bits flags & (PP|N|KEY_LO) = (0x3e06) & 0xe07 = 0xe06.
  const flags = 0x100n | 0x3000n | 0xe00n | 0x4n | 0x2n;
  assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [flags | H_AVPN, IDX, 0x123456000n]).ret, H_SUCCESS);
  // mask = PP0|KEY_HI (hi 0xb0000000) | PP|N|KEY_LO (0xe07):
  // guest 0x1234192 → (0x1234192 & ~0xe07) | 0xe06 = 0x1234f96, | 0xb000000000000000.
  assert.equal(k.mmu.guestRBig(0x1a298), 0xb000000001234f96n);
  // hw 0x7e5a1112 → 0x7e5a1f16 | 0xb000000000000000; dword 0 unchanged and still VALID.
  assert.deepEqual(k.mmu.hpteBig(0x1a298), [0x123456001n, 0xb0000000_7e5a1f16n]);
  // One online vcpu → H_LOCAL forced → tlbiel with RB of the entry.
  const tl = w.events().filter((e) => e.kind === 'tlbie');
  assert.equal(tl.length, 1);
  assert.equal(field(tl[0], 'rb'), 0x1234560005000n);
  assert.equal(fieldNum(tl[0], 'scope'), E.tlb_scope.local);
  k.online_vcpus = 4;
  hcallBig(k, w.vcpu, H_PROTECT, [0x2n, IDX, 0n]);
  assert.equal(fieldNum(w.events().filter((e) => e.kind === 'tlbie')[1], 'scope'), E.tlb_scope.global);
  ok(w);
});

test('H_READ: bad index, H_READ_4 returns 4 entries from index & ~3', () => {
  const w = makeWorld({ order: 18 });
  const k = w.kvm;
  assert.equal(hcallBig(k, w.vcpu, H_READ, [0n, BigInt(k.mmu.npte)]).ret, H_PARAMETER);
  hostMap(w, 0x60, 0x900);
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x105n, 0x111000001n, 0x60012n]);
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x106n, 0x111000001n, 0x70012n]); // not mapped → ABSENT
  const rd = hcallBig(k, w.vcpu, H_READ, [H_READ_4, 0x107n]);
  assert.equal(rd.ret, H_SUCCESS);
  // 0x107 & ~3 = 0x104: entries 0x104 (free: raw 0/0), 0x105 (VALID), 0x106 (ABSENT→VALID), 0x107 (free).
  assert.deepEqual(rd.out, [0n, 0n, 0x111000001n, 0x60012n, 0x111000001n, 0x70012n, 0n, 0n]);
  ok(w);
});

test('H_BULK_REMOVE: response words, R/C bits, end marker, parameter error stops', () => {
  const w = makeWorld({ order: 18 });
  const k = w.kvm;
  hostMap(w, 0x60, 0x900);
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x10n, 0x111000001n, 0x60112n]); // VALID, hw R kept
  k.mmu.hpt[0x10 * 4 + 3] |= 0x80; // hardware C
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x11n, 0x111000001n, 0x70092n]); // ABSENT, guest C (0x80)
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x12n, 0x111000001n, 0x60012n]); // VALID
  const req = (type: bigint, fl: bigint, idx: bigint) => (type << 62n) | (fl << 56n) | idx;
  const r = hcallBig(k, w.vcpu, H_BULK_REMOVE, [
    req(1n, 0n, 0x10n), 0n, // absolute, VALID: 0x80 | R (0x08) | C (0x04) = 0x8c
    req(1n, 2n, 0x11n), 0x111000000n, // AVPN match, ABSENT: 0x80 | 2 | guest C (0x04) = 0x86
    req(1n, 1n, 0x12n), 0x1n, // ANDCOND: v & 1 ≠ 0 → not found: 0x90 | 1 = 0x91
    req(3n, 0n, 0n), 0n, // end of list: left untouched
  ]);
  assert.equal(r.ret, H_SUCCESS);
  assert.equal(r.out[0], 0x8c00000000000010n);
  assert.equal(r.out[2], 0x8600000000000011n);
  assert.equal(r.out[4], 0x9100000000000012n);
  assert.equal(r.out[6], 0xc000000000000000n);
  assert.equal(r.out[1], 0n); // tsl words are not rewritten
  assert.equal(k.mmu.hpt[0x10 * 4 + 1], 0);
  assert.equal(k.mmu.hpt[0x11 * 4 + 1], 0);
  assert.ok(k.mmu.isValid(0x12));
  // Exactly one tlbie (the VALID 0x10); one vcpu online → local.
  const tl = w.events().filter((e) => e.kind === 'tlbie');
  assert.equal(tl.length, 1);
  assert.equal(fieldNum(tl[0], 'scope'), E.tlb_scope.local);
  // Parameter errors: request type 2 → 0xa0|flags and stop; later requests untouched.
  const p = hcallBig(k, w.vcpu, H_BULK_REMOVE, [req(1n, 0n, 0x12n), 0n, req(2n, 1n, 0x5n), 0n, req(1n, 0n, 0x12n), 0n]);
  assert.equal(p.ret, H_PARAMETER);
  assert.equal(p.out[0] >> 56n, 0x80n); // 0x12 removed first (guest and hw had no R/C → 0x80)
  assert.equal(p.out[2], 0xa100000000000005n);
  assert.equal(p.out[4], req(1n, 0n, 0x12n)); // not processed
  // flags == 3 and index ≥ NPTE are parameter errors too.
  assert.equal(hcallBig(k, w.vcpu, H_BULK_REMOVE, [req(1n, 3n, 0x1n)]).out[0], 0xa300000000000001n);
  assert.equal(hcallBig(k, w.vcpu, H_BULK_REMOVE, [req(1n, 0n, BigInt(k.mmu.npte))]).out[0], 0xa000000000000000n | BigInt(k.mmu.npte));
  ok(w);
});

test('H_BULK_REMOVE: the same index twice ends the batch; the second request finds nothing', () => {
  const w = makeWorld({ order: 18 });
  const k = w.kvm;
  hostMap(w, 0x60, 0x900);
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x20n, 0x111000001n, 0x60012n]);
  const req = (idx: bigint) => (1n << 62n) | idx;
  // An end marker (type 3) is needed: a zero word is request type 0, a parameter error.
  const r = hcallBig(k, w.vcpu, H_BULK_REMOVE, [req(0x20n), 0n, req(0x20n), 0n, 3n << 62n]);
  // First: removed (no R/C anywhere → 0x80); second: batch flushed first, then dword 0 = 0 → 0x90.
  assert.deepEqual([r.ret, r.out[0], r.out[2]], [H_SUCCESS, 0x8000000000000020n, 0x9000000000000020n]);
  ok(w);
});

test('H_BULK_REMOVE: an AVPN request whose AVPN differs from dword 0 >> 7 finds nothing', () => {
  const w = makeWorld({ order: 18 });
  const k = w.kvm;
  hostMap(w, 0x60, 0x900);
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x30n, 0x111000001n, 0x60012n]);
  const req = (fl: bigint, idx: bigint) => (1n << 62n) | (fl << 56n) | idx;
  // PAPR: AVPN (flags 2) matches when the avpn equals dword 0 with its low 7 bits cleared;
  // 0x111000080 differs (bit 7) → 0x90 | 2; absolute (flags 0) on the same entry then removes it.
  const r = hcallBig(k, w.vcpu, H_BULK_REMOVE, [req(2n, 0x30n), 0x111000080n, req(0n, 0x30n), 0n, 3n << 62n]);
  assert.deepEqual([r.ret, r.out[0], r.out[2]], [H_SUCCESS, 0x9200000000000030n, 0x8000000000000030n]);
  ok(w);
});

test('H_CLEAR_REF / H_CLEAR_MOD: to userspace with 3.4, 4.20 semantics with 4.20', () => {
  const w34 = makeWorld({ order: 18 });
  const c = hcallBig(w34.kvm, w34.vcpu, H_CLEAR_REF, [0n, 0n]);
  assert.equal(c.ret, H_TOO_HARD);
  const exit = w34.events().filter((e) => e.kind === 'hcall_exit').pop()!;
  assert.equal(fieldNum(exit, 'path'), E.hcall_path.user);
  assert.equal(hcallBig(w34.kvm, w34.vcpu, H_CLEAR_MOD, [0n, 0n]).ret, H_TOO_HARD);

  const w = makeWorld({ order: 18, kernel: '4.20' });
  const k = w.kvm;
  hostMap(w, 0x60, 0x900);
  assert.equal(hcallBig(k, w.vcpu, H_CLEAR_REF, [0n, BigInt(k.mmu.npte)]).ret, H_PARAMETER);
  assert.equal(hcallBig(k, w.vcpu, H_CLEAR_REF, [0n, 0x30n]).ret, H_NOT_FOUND);
  // 4.20 kvmppc_add_revmap_chain sets no REFERENCED, so the R/C filter (rmap >> 32 = 0x1) strips
  // the guest's R from the hardware word: hw r = 0x900012. The hardware then sets R and C.
  hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, 0x30n, 0x111000001n, 0x60112n]);
  assert.deepEqual(k.mmu.hpteBig(0x30), [0x111000001n, 0x900012n]);
  k.mmu.hpt[0x30 * 4 + 3] |= 0x180; // hardware R and C
  // CLEAR_REF: r4 = guest_rpte | hw R/C = 0x60112 | 0x180 = 0x60192; guest R cleared → 0x60012;
  // hw R cleared (tlbie global) → 0x900092; rmap REFERENCED set by CLEAR_REF.
  const cr = hcallBig(k, w.vcpu, H_CLEAR_REF, [0n, 0x30n]);
  assert.deepEqual([cr.ret, cr.out[0]], [H_SUCCESS, 0x60192n]);
  assert.equal(k.mmu.guestRBig(0x30), 0x60012n);
  assert.deepEqual(k.mmu.hpteBig(0x30), [0x111000001n, 0x900092n]);
  // CLEAR_MOD: r4 = guest 0x60012 | hw R/C (0x80) = 0x60092; hw C cleared → 0x900012, VALID restored.
  const cm = hcallBig(k, w.vcpu, H_CLEAR_MOD, [0n, 0x30n]);
  assert.deepEqual([cm.ret, cm.out[0]], [H_SUCCESS, 0x60092n]);
  assert.deepEqual(k.mmu.hpteBig(0x30), [0x111000001n, 0x900012n]);
  const tl = w.events().filter((e) => e.kind === 'tlbie');
  assert.equal(tl.length, 2);
  assert.ok(tl.every((e) => fieldNum(e, 'scope') === E.tlb_scope.global));
  ok(w);
});

test('kvmppc_hv_find_lock_hpte finds the TV11 entry from (slb_v, EA) of TV1/TV2', () => {
  const w = makeWorld();
  hostMap(w, 0x1234, 0x7e5a1);
  hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, IDX, PTEH, PTEL]);
  const key = new HpteSearchKey();
  // TV1: VSID 0x123456 (slb_v 0x123456000), EA 0x10005000 → primary PTEG 0x3453 → slot 0 = 0x1a298.
  assert.equal(kvmppc_hv_find_lock_hpte(w.kvm, 0, 0x10005000, 0x1, 0x23456000, 0x1, key), 0x1a298);
  // Another page of the segment (EA 0x10006000) has no HPTE.
  assert.equal(kvmppc_hv_find_lock_hpte(w.kvm, 0, 0x10006000, 0x1, 0x23456000, 0x1, key), -1);
});
