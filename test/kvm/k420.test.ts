// Linux 3.4 vs 4.20 on POWER7 HPT guests: each test runs the same inputs on both kernels and checks
// the words each one leaves, derived in the comments from the two kernels' code (3.4:
// holyangel/M7-GPE_L book3s_hv_rm_mmu.c / book3s_64_mmu_hv.c / book3s_hv_rmhandlers.S; 4.20:
// sjitindarsingh/linux, same files). traces/README.md "Linux 3.4 vs 4.20 (HPT guests)" lists them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H_ENTER, H_PROTECT, H_REMOVE, H_SUCCESS } from '../../src/arch/index.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import type { KernelVersion } from '../../src/kvm/kvm.js';
import { makeWorld, UA, type World } from './helpers.js';
import { hwWorld } from '../hw/hwworld.js';
import { DSISR_NOHPTE, SRR1_ISI_NOPT } from '../../src/arch/index.js';
import { kvmppc_hdsi, kvmppc_hdsi_420, kvmppc_hisi, kvmppc_hisi_420 } from '../../src/kvm/hash/hv_fault.js';

const H_EXACT = 0x0000008000000000n;
const PTEH = 0x123456001n; // VSID 0x123456, VALID (TV11)
const IDX = 0x1a298n;

function ok(w: World): void {
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
}

function world(kernel: KernelVersion): World {
  return makeWorld({ kernel });
}

test('kvmppc_add_revmap_chain: unmap, store, re-enter leaves REF|PRESENT on 3.4 but keeps C on 4.20', () => {
  const words: Record<string, bigint[]> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const w = world(kernel);
    const k = w.kvm;
    w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX, PTEH, 0x1234012n]).ret, H_SUCCESS);
    const afterLink = k.rmapBig(0x1234)!;
    k.mmu.hpt[Number(IDX) * 4 + 3] |= 0x180; // the guest's store: hardware R and C
    w.mm.unmap(UA + 0x1234 * 4096); // invalidate_page → kvm_unmap_rmapp harvests R|C into the rmap word
    const afterUnmap = k.rmapBig(0x1234)!;
    w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a2 });
    // Re-enter at the next slot with guest R|C set (ptel 0x1234192).
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX + 1n, PTEH, 0x1234192n]).ret, H_SUCCESS);
    words[kernel] = [afterLink, afterUnmap, k.rmapBig(0x1234)!, k.mmu.hpteBig(Number(IDX) + 1)[1]];
    ok(w);
  }
  // 3.4: link writes i | REFERENCED | PRESENT = 0x1_0100000000 | 0x1a298; unlink (alone) clears
  // PRESENT|INDEX and ORs (R|C) << 32 = 0x180 << 32: 0x180_00000000. Re-link: i | REF | PRESENT,
  // C gone: 0x101_0001a299. The R/C filter (rmap >> 32 = 0x101) keeps R, strips C:
  // hw r = 0x7e5a2000 | 0x192 & ~0x80 = 0x7e5a2112.
  assert.deepEqual(words['3.4'], [0x1010001a298n, 0x18000000000n, 0x1010001a299n, 0x7e5a2112n]);
  // 4.20: link of an empty chain: (0 & ~INDEX) | i | PRESENT = 0x1_0001a298; unlink: 0x180_00000000;
  // re-link keeps the word's bits: 0x181_0001a299. Filter rmap >> 32 = 0x181: R and C both kept,
  // hw r = 0x7e5a2192.
  assert.deepEqual(words['4.20'], [0x10001a298n, 0x18000000000n, 0x1810001a299n, 0x7e5a2192n]);
});

test('kvmppc_do_h_remove on an ABSENT (MMIO) entry: r4 keeps ABSENT on 3.4, reads VALID on 4.20', () => {
  const out: Record<string, bigint[]> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const w = world(kernel);
    const k = w.kvm;
    // gpa 0x80000000 is outside the 1 GiB slot: emulated MMIO, ABSENT with key 31.
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX, PTEH, 0x80000012n]).ret, H_SUCCESS);
    const r = hcallBig(k, w.vcpu, H_REMOVE, [0n, IDX, 0n]);
    assert.equal(r.ret, H_SUCCESS);
    out[kernel] = [r.out[0], r.out[1], ...k.mmu.hpteBig(Number(IDX))];
    ok(w);
  }
  // dword 0 of the MMIO entry: (0x123456001 & ~VALID) | ABSENT = 0x123456020. 3.4 returns it as is;
  // 4.20: (v & ~ABSENT) | VALID = 0x123456001. r5 = guest_rpte = 0x80000012 on both. Both leave
  // dword 0 = 0 and dword 1 = the MMIO word (guest ptel | KEY_HI | KEY_LO = 0x3000000080000e12).
  assert.deepEqual(out['3.4'], [0x123456020n, 0x80000012n, 0n, 0x3000000080000e12n]);
  assert.deepEqual(out['4.20'], [0x123456001n, 0x80000012n, 0n, 0x3000000080000e12n]);
});

test('kvmppc_do_h_enter: key bits and WIMG of an entry without a host page, KEY_HI of one with a page', () => {
  const hw: Record<string, bigint[]> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const w = world(kernel);
    const k = w.kvm;
    // No host page for gfn 0x2000 (in the slot and the VMA): ABSENT. Guest ptel: key 31
    // (KEY_HI 0x3000000000000000, KEY_LO 0xe00), WIMG = I|G (0x28), PP = 2.
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX, PTEH, 0x3000000002000e2an]).ret, H_SUCCESS);
    // A present page (gfn 0x1234 → pfn 0x7e5a1) with guest key KEY_HI only (key 24), WIMG M.
    w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX + 1n, PTEH, 0x3000000001234012n]).ret, H_SUCCESS);
    hw[kernel] = [...k.mmu.hpteBig(Number(IDX)), k.mmu.hpteBig(Number(IDX) + 1)[1]];
    ok(w);
  }
  // 3.4, no page: ptel &= ~(PP0 - 4K) keeps PP0 and the low 12 bits: 0xe2a (KEY_HI cleared, KEY_LO
  // and the guest WIMG kept: no WIMG check without a present page); ABSENT: 0x123456020.
  // Page: 0x7e5a1000 | 0x012 = 0x7e5a1012 (KEY_HI cleared).
  assert.deepEqual(hw['3.4'], [0x123456020n, 0xe2an, 0x7e5a1012n]);
  // 4.20, no page: ptel &= KEY | PP0 | 0xfff = 0x3000000000000e2a; no pa → key bits cleared: 0x2a;
  // a PTE slot exists, so the WIMG check runs: RAM wants M → (0x2a & ~(W|I|G)) | M = 0x12.
  // Page: KEY_HI kept: 0x3000000000000000 | 0x7e5a1000 | 0x012.
  assert.deepEqual(hw['4.20'], [0x123456020n, 0x12n, 0x300000007e5a1012n]);
});

test('kvmppc_do_h_protect: an ABSENT MMIO entry keeps key 31 on 4.20; an unchanged VALID entry needs no tlbie', () => {
  const res: Record<string, bigint[]> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const w = world(kernel);
    const k = w.kvm;
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX, PTEH, 0x80000012n]).ret, H_SUCCESS); // MMIO
    w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX + 1n, PTEH, 0x1234012n]).ret, H_SUCCESS);
    const before = w.events().filter((e) => e.kind === 'tlbie').length;
    // flags = PP 2 only: new bits PP0 0, KEY 0, N 0, PP 2.
    assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [2n, IDX, 0n]).ret, H_SUCCESS);
    assert.equal(hcallBig(k, w.vcpu, H_PROTECT, [2n, IDX + 1n, 0n]).ret, H_SUCCESS);
    const tlbies = w.events().filter((e) => e.kind === 'tlbie').length - before;
    res[kernel] = [k.mmu.hpteBig(Number(IDX))[1], k.mmu.guestRBig(Number(IDX)), BigInt(tlbies)];
    ok(w);
  }
  // 3.4 rewrites the hardware word of the ABSENT entry too: (0x3000000080000e12 & ~mask) | 2 =
  // 0x80000012 (key 0); the VALID entry (PP already 2) is invalidated anyway: 1 tlbie.
  assert.deepEqual(res['3.4'], [0x80000012n, 0x80000012n, 1n]);
  // 4.20 updates only the guest view of an ABSENT entry: hardware keeps 0x3000000080000e12; the
  // VALID entry's r does not change, so no tlbie.
  assert.deepEqual(res['4.20'], [0x3000000080000e12n, 0x80000012n, 0n]);
});

test('kvm_unmap_rmapp: 4.20 clears the hardware key bits of the unmapped HPTE', () => {
  const r: Record<string, bigint> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const w = world(kernel);
    const k = w.kvm;
    w.mm.map(UA + 0x1234 * 4096, { pfn: 0x7e5a1 });
    // Guest key KEY_LO 0x200 (key 1), PP 2, M.
    assert.equal(hcallBig(k, w.vcpu, H_ENTER, [H_EXACT, IDX, PTEH, 0x1234212n]).ret, H_SUCCESS);
    w.mm.unmap(UA + 0x1234 * 4096);
    r[kernel] = k.mmu.hpteBig(Number(IDX))[1];
    ok(w);
  }
  // Both: hw r after H_ENTER = 0x7e5a1000 | 0x212 & R/C filter (no guest R/C) = 0x7e5a1212.
  // 3.4 leaves it as is after the unmap; 4.20: hptep[1] &= ~(KEY_HI | KEY_LO) → 0x7e5a1012.
  assert.equal(r['3.4'], 0x7e5a1212n);
  assert.equal(r['4.20'], 0x7e5a1012n);
});

test('kvmppc_hdsi / kvmppc_hisi: no SLB entry → DSI / ISI on 3.4, segment interrupt on 4.20', () => {
  const got: Record<string, number[]> = {};
  for (const kernel of ['3.4', '4.20'] as const) {
    const hdsi = kernel === '3.4' ? kvmppc_hdsi : kvmppc_hdsi_420;
    const hisi = kernel === '3.4' ? kvmppc_hisi : kvmppc_hisi_420;
    const w = hwWorld({ kernel });
    w.v.hdarHi = 0;
    w.v.hdarLo = 0x50000000; // ESID 5: no SLB entry; MSR has DR and IR (relocated)
    w.v.hdsisr = DSISR_NOHPTE;
    w.v.dsisr = 0;
    w.v.hsrr1Hi = w.v.msrHi;
    w.v.hsrr1Lo = w.v.msrLo;
    hdsi(w.kvm, w.v);
    const dvec = w.v.pcLo;
    const ddsisr = w.v.dsisr;
    const ddar = w.v.darLo;
    const w2 = hwWorld({ kernel });
    w2.v.pcHi = 0;
    w2.v.pcLo = 0x50000000;
    w2.v.hsrr0Hi = 0;
    w2.v.hsrr0Lo = 0x50000000;
    w2.v.hsrr1Hi = w2.v.msrHi;
    w2.v.hsrr1Lo = (w2.v.msrLo | SRR1_ISI_NOPT) >>> 0;
    hisi(w2.kvm, w2.v);
    got[kernel] = [dvec, ddsisr, ddar, w2.v.pcLo, (w2.v.srr1Lo & SRR1_ISI_NOPT) >>> 0];
  }
  // 3.4: slbfee. fails → "bne 1f": DSI 0x300 with DSISR = HDSISR (NOHPTE), DAR = HDAR; HISI → ISI 0x400,
  // SRR1 = HSRR1 (NOPT kept).
  assert.deepEqual(got['3.4'], [0x300, DSISR_NOHPTE, 0x50000000, 0x400, SRR1_ISI_NOPT]);
  // 4.20: "li r0, BOOK3S_INTERRUPT_DATA_SEGMENT; bne 7f": 0x380, DAR = HDAR, DSISR not written (0);
  // HISI: "li r0, BOOK3S_INTERRUPT_INST_SEGMENT; bne 7f": 0x480, SRR1 = HSRR1.
  assert.deepEqual(got['4.20'], [0x380, 0, 0x50000000, 0x480, SRR1_ISI_NOPT]);
});
