// Hardware translation (src/hw/mmu.ts): SLB → hash → PTEG search → permission → R/C → TLB.
// Expected values are derived from the rules in the comments (kernel-model §A.4, §B, §K TV1/TV2/
// TV6/TV11, QEMU ppc_hash64_handle_mmu_fault), never copied from program output.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOK3S_INTERRUPT_DATA_SEGMENT,
  BOOK3S_INTERRUPT_DATA_STORAGE,
  BOOK3S_INTERRUPT_H_DATA_STORAGE,
  BOOK3S_INTERRUPT_INST_SEGMENT,
  DSISR_ISSTORE,
  DSISR_NOHPTE,
  DSISR_PROTFAULT,
  H_SUCCESS,
  MSR_ME_LO,
  MSR_SF_HI,
} from '../../src/arch/index.js';
import { ACCESS_IFETCH, ACCESS_LOAD, ACCESS_STORE, MmuContext, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import { Tlb } from '../../src/hw/tlb.js';
import { Vcpu } from '../../src/hw/vcpu.js';
import { HostMm } from '../../src/host/mm.js';
import { PhysMem } from '../../src/host/physmem.js';
import { kvm_create_vm } from '../../src/kvm/ops.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { kvm_alloc_rma, kvmppc_hv_setup_rma_970 } from '../../src/kvm/hash/slot_phys.js';
import { Recorder } from '../../src/trace/recorder.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { E } from '../../src/trace/kinds.js';
import { field, fieldNum } from '../../src/trace/event.js';
import { hEnter, hvaOf, hwWorld, TV1_EA, TV1_PRIMARY_INDEX, TV1_SECONDARY_INDEX } from './hwworld.js';

const H_EXACT = 0x0000008000000000n;

test('TV1/TV2: a VALID HPTE in the primary PTEG translates EA 0x10005000', () => {
  const w = hwWorld();
  // TV11 host page: gpa 0x1234000 → pfn 0x7e5a1.
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  // TV2: dword 0 = VSID 0x123456 AVPN (0x123456000) | VALID; TV1: primary index 0x1a298.
  const [ret, idx] = hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(ret, H_SUCCESS);
  assert.equal(idx, TV1_PRIMARY_INDEX);
  const irq = ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD);
  assert.equal(irq, 0);
  assert.equal(w.ctx.index, TV1_PRIMARY_INDEX);
  // RA = RPN 0x7e5a1000 | (EA & 0xfff = 0) = 0x7e5a1000.
  assert.equal(w.ctx.raHi, 0);
  assert.equal(w.ctx.raLo, 0x7e5a1000);
  assert.equal(w.ctx.pshift, 12);
  // EA 0x10005abc: same page, offset 0xabc.
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, 0x10005abc, ACCESS_LOAD), 0);
  assert.equal(w.ctx.raLo, 0x7e5a1abc);
});

test('secondary PTEG: an entry with H = 1 is found; the same entry without H is not', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  // Secondary PTEG = 0x03453 ^ 0x1ffff = 0x1cbac → index 0xe5d60; dword 0 must carry H (0x2).
  const [ret] = hEnter(w, H_EXACT, TV1_SECONDARY_INDEX + 3, 0x123456003n, 0x1234192n);
  assert.equal(ret, H_SUCCESS);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(w.ctx.index, TV1_SECONDARY_INDEX + 3);
  assert.equal(w.ctx.raLo, 0x7e5a1000);

  // Without H the secondary-PTEG entry does not match (the search wants val | SECONDARY there),
  // so the hardware misses: NOHPTE → HDSI under LPCR.VPM1 (K34 guest LPCR has VPM1).
  const w2 = hwWorld();
  w2.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  assert.equal(hEnter(w2, H_EXACT, TV1_SECONDARY_INDEX, 0x123456001n, 0x1234192n)[0], H_SUCCESS);
  assert.equal(ppc_hash64_handle_mmu_fault(w2.ctx, w2.v, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w2.v.hdsisr, DSISR_NOHPTE);
  assert.equal(w2.v.hdarLo, TV1_EA);
});

test('R then C: a load sets R, a store sets C, each recorded once', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  // Guest ptel without R/C: 0x1234012 (M | PP 2) → hardware r = 0x7e5a1012 (no R/C to filter).
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234012n);
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[1], 0x7e5a1012n);
  const before = w.events().length;
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  // R (0x100) set: 0x7e5a1112.
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[1], 0x7e5a1112n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA + 8, ACCESS_LOAD), 0); // no change
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), 0);
  // C (0x80) set: 0x7e5a1192.
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[1], 0x7e5a1192n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), 0); // no change
  const writes = w.events().slice(before).filter((e) => e.kind === 'hpte_write');
  assert.equal(writes.length, 2);
  assert.equal(field(writes[0], 'new_r'), 0x7e5a1112n);
  assert.equal(field(writes[1], 'old_r'), 0x7e5a1112n);
  assert.equal(field(writes[1], 'new_r'), 0x7e5a1192n);
  // Second and later accesses hit the TLB (one fill, three hits).
  assert.equal(w.tlbs[0].counters.fills, 1);
  assert.equal(w.tlbs[0].counters.hits, 3);
  assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
});

test('segment miss: data → 0x380 with DAR, instruction → 0x480, straight to the guest', () => {
  const w = hwWorld();
  const msrLo = w.v.msrLo;
  // EA 0x20000000 has ESID 0x2: no SLB entry (only ESID 0x1 is loaded).
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, 0x20000010, ACCESS_LOAD), BOOK3S_INTERRUPT_DATA_SEGMENT);
  assert.equal(w.v.darLo, 0x20000010);
  assert.equal(w.v.srr0Lo, 0x700000);
  assert.equal(w.v.srr1Lo, msrLo);
  assert.equal(w.v.pcLo, 0x380);
  // New MSR = SF | ME.
  assert.equal(w.v.msrHi, MSR_SF_HI);
  assert.equal(w.v.msrLo, MSR_ME_LO);
  const w2 = hwWorld();
  assert.equal(ppc_hash64_handle_mmu_fault(w2.ctx, w2.v, 0, 0x20000010, ACCESS_IFETCH), BOOK3S_INTERRUPT_INST_SEGMENT);
  assert.equal(w2.v.pcLo, 0x480);
});

test('protection: store to a PP=3 page raises HDSI PROTFAULT|ISSTORE with VPM1, DSI without', () => {
  // Guest ptel PP = 3 (PP_RXRX): architectural key-0 row "3 → RX" (TV6), so a store is denied.
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234193n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.v.hdsisr, DSISR_PROTFAULT | DSISR_ISSTORE);
  // Without VPM1 (LPCR hi word cleared) the same fault is a DSI delivered to the guest, recorded
  // as fault_triage(dsi, decision guest).
  w.ctx.loadLpcr(0, w.ctx.lpcrLo);
  const n = w.events().length;
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), BOOK3S_INTERRUPT_DATA_STORAGE);
  assert.equal(w.v.dsisr, DSISR_PROTFAULT | DSISR_ISSTORE);
  assert.equal(w.v.darLo, TV1_EA);
  assert.equal(w.v.pcLo, 0x300);
  const ft = w.events().slice(n).filter((e) => e.kind === 'fault_triage');
  assert.equal(ft.length, 1);
  assert.equal(fieldNum(ft[0], 'interrupt'), E.fault_kind.dsi);
  assert.equal(fieldNum(ft[0], 'decision'), E.fault_decision.guest);
  assert.equal(fieldNum(ft[0], 'hpte_index'), TV1_PRIMARY_INDEX);
  assert.equal(fieldNum(ft[0], 'access'), ACCESS_STORE);
});

test('an ABSENT entry is invisible to the hardware: NOHPTE', () => {
  const w = hwWorld();
  // No host page for gpa 0x1234000 → H_ENTER writes ABSENT (0x123456020).
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[0], 0x123456020n);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  assert.equal(w.v.hdsisr, DSISR_NOHPTE | DSISR_ISSTORE);
});

test('AMR class key: key 0 pair (AMR bits 63:62) denies stores → KEYFAULT', () => {
  const w = hwWorld();
  w.mm.map(hvaOf(0x1234000), { pfn: 0x7e5a1 });
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x1234192n);
  // Storage key 0 → AMR pair (AMR >> 62) & 3; 0b10 denies stores only.
  w.v.amrHi = 0x80000000;
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_LOAD), 0);
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, TV1_EA, ACCESS_STORE), BOOK3S_INTERRUPT_H_DATA_STORAGE);
  // DSISR_AMR (0x00200000, same bit as KEYFAULT) | ISSTORE; PP 2 allows the store, so no PROTFAULT.
  assert.equal(w.v.hdsisr, 0x00200000 | DSISR_ISSTORE);
});

test('PPC970: no VPM — a miss is a DSI to the guest; real mode uses the RMA from HID4', () => {
  const rec = Recorder.disabled();
  const phys = new PhysMem({ pageShift: 12, npages: 0x100000, seed: 3 });
  const mm = new HostMm({ phys, rec });
  mm.mmap(0x3fff80000000, 0x8000000);
  const kvm = kvm_create_vm({ mm, rec, hptOrder: 18, cpu: 'ppc970' });
  assert.equal(kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: 0x8000000, userspace_addr: 0x3fff80000000 }), 0);
  const ri = kvm_alloc_rma(kvm, 0x4000000)!; // 64 MiB → RMLS 3
  assert.equal(kvmppc_hv_setup_rma_970(kvm, ri), 0);
  const ctx = new MmuContext(kvm.mmu, new Tlb(0), 0, kvm.lpcrHi, kvm.lpcrLo);
  assert.equal(ctx.vpm0 || ctx.vpm1, false);
  assert.equal(ctx.rmaSize, 0x4000000);
  const v = new Vcpu(0, { rec, lpid: kvm.lpid, slb_nr: 64 });
  v.setMsr(MSR_SF_HI, MSR_ME_LO); // real mode
  // RA = EA | RMOR, RMOR = RMA base (base_pfn << 12, 64 MiB aligned).
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, v, 0, 0x1234, ACCESS_LOAD), 0);
  assert.equal(ctx.raHi * 2 ** 32 + ctx.raLo, ri.base_pfn * 4096 + 0x1234);
  // Beyond the RMA (80 MiB ≥ 64 MiB): storage interrupt straight to the guest (DSI PROTFAULT).
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, v, 0, 0x5000000, ACCESS_LOAD), BOOK3S_INTERRUPT_DATA_STORAGE);
  assert.equal(v.dsisr, DSISR_PROTFAULT);
  // Relocated miss (no HPTE): DSI NOHPTE to the guest, never HDSI (§J 13).
  const v2 = new Vcpu(1, { rec, lpid: kvm.lpid, slb_nr: 64 });
  v2.setMsr(MSR_SF_HI, MSR_ME_LO | 0x30);
  v2.slbmte(1, 0x23456000, 0, 0x18000000);
  assert.equal(ppc_hash64_handle_mmu_fault(ctx, v2, 0, TV1_EA, ACCESS_LOAD), BOOK3S_INTERRUPT_DATA_STORAGE);
  assert.equal(v2.dsisr, DSISR_NOHPTE);
  assert.equal(v2.pcLo, 0x300);
});
