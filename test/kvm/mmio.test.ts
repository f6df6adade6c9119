// Emulated MMIO round trips (src/kvm/mmio.ts; kernel-model §E.3 step 9, Linux 3.4 emulate.c /
// powerpc.c): an ABSENT key-31 HPTE for a gpa outside every memslot, an access through the MMU,
// the triage's -2, the virtual-mode fault's MMIO branch, the instruction emulation, KVM_EXIT_MMIO
// completed by the register-file device, and the GPR / device state afterwards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVM_EXIT_MMIO, KVM_INST_FETCH_FAILED, RESUME_GUEST, RESUME_HOST, RESUME_HOST_NV } from '../../src/arch/index.js';
import { ACCESS_LOAD, ACCESS_STORE, ppc_hash64_handle_mmu_fault } from '../../src/hw/mmu.js';
import { kvmppc_hdsi, TRIAGE_MMIO } from '../../src/kvm/hash/hv_fault.js';
import { GUEST_ACCESS_EMULATED, guest_access } from '../../src/machine/guest-access.js';
import { MmioRegisterFile } from '../../src/kvm/mmio.js';
import { kvmppc_book3s_hv_page_fault } from '../../src/kvm/hash/page_fault.js';
import { E } from '../../src/trace/kinds.js';
import { field, fieldNum } from '../../src/trace/event.js';
import { hEnter, hwWorld, TV1_PRIMARY_INDEX, type HwWorld } from '../hw/hwworld.js';

const H_EXACT = 0x0000008000000000n;
const PC = 0x700000;

/** D-form instruction word: opcode << 26 | rt << 21 | ra << 16 | d. */
const dform = (op: number, rt: number, ra: number, d: number): number => ((op << 26) | (rt << 21) | (ra << 16) | (d & 0xffff)) >>> 0;

/** EA page 0x10005000 → gpa page 0x80000000 (outside slot 0's 1 GiB): ABSENT + key 31. */
function mmioWorld(): HwWorld {
  const w = hwWorld();
  hEnter(w, H_EXACT, TV1_PRIMARY_INDEX, 0x123456001n, 0x80000192n);
  return w;
}

test('lwz from an MMIO page returns the device value (r5), PC advances, mmio_exit recorded', () => {
  const w = mmioWorld();
  const dev = new MmioRegisterFile();
  dev.preset(0x80000010, 4, 0xdeadbeef);
  // lwz r5, 0x10(r4) = 32 << 26 | 5 << 21 | 4 << 16 | 0x10 = 0x80a40010.
  w.v.cur_inst = dform(32, 5, 4, 0x10);
  assert.equal(w.v.cur_inst, 0x80a40010);
  const n = w.events().length;
  assert.equal(guest_access(w.kvm, w.ctx, w.v, 0, 0x10005010, ACCESS_LOAD, { mmio: dev }), GUEST_ACCESS_EMULATED);
  assert.equal(w.v.gprLo(5), 0xdeadbeef);
  assert.equal(w.v.gprHi(5), 0);
  assert.equal(w.v.pcLo, PC + 4);
  assert.equal(w.v.mmio_needed, false);
  const ev = w.events().slice(n);
  const ft = ev.find((e) => e.kind === 'fault_triage')!;
  assert.equal(fieldNum(ft, 'decision'), E.fault_decision.mmio);
  const pf = ev.find((e) => e.kind === 'page_fault_exit')!;
  assert.equal(fieldNum(pf, 'outcome'), E.page_fault_outcome.mmio);
  assert.equal(fieldNum(pf, 'ret'), RESUME_HOST_NV);
  const mx = ev.filter((e) => e.kind === 'mmio_exit');
  assert.equal(mx.length, 1);
  // gpa = gfn << 12 | (EA & 0xfff) = 0x80000000 | 0x010.
  assert.equal(field(mx[0], 'gpa'), 0x80000010n);
  assert.equal(field(mx[0], 'len'), 4n);
  assert.equal(field(mx[0], 'is_write'), 0n);
  assert.equal(field(mx[0], 'data'), 0xdeadbeefn);
  assert.equal(field(mx[0], 'inst'), 0x80a40010n);
  // The HPTE is untouched by MMIO emulation: still ABSENT with key 31.
  assert.equal(w.kvm.mmu.hpteBig(TV1_PRIMARY_INDEX)[0], 0x123456020n);
});

test('stw to an MMIO page reaches the device (big-endian bytes); lha sign-extends', () => {
  const w = mmioWorld();
  const dev = new MmioRegisterFile();
  w.v.setGpr(6, 0xaaaaaaaa, 0x12345678);
  // stw r6, 0x18(r4) = 36 << 26 | 6 << 21 | 4 << 16 | 0x18 = 0x90c40018; stores the low word.
  w.v.cur_inst = dform(36, 6, 4, 0x18);
  assert.equal(w.v.cur_inst, 0x90c40018);
  assert.equal(guest_access(w.kvm, w.ctx, w.v, 0, 0x10005018, ACCESS_STORE, { mmio: dev }), GUEST_ACCESS_EMULATED);
  assert.equal(dev.writes, 1);
  assert.equal(dev.read(0x80000018, 4), 0x12345678);
  assert.equal(dev.read(0x8000001b, 1), 0x78);
  assert.equal(w.v.pcLo, PC + 4);
  // lha r7, 0x20(r4): halfword 0x8001 sign-extended to 0xffffffff_ffff8001.
  dev.preset(0x80000020, 2, 0x8001);
  w.v.cur_inst = dform(42, 7, 4, 0x20);
  assert.equal(guest_access(w.kvm, w.ctx, w.v, 0, 0x10005020, ACCESS_LOAD, { mmio: dev }), GUEST_ACCESS_EMULATED);
  assert.equal(w.v.gprHi(7), 0xffffffff);
  assert.equal(w.v.gprLo(7), 0xffff8001);
});

test('direction mismatch (store fault, load instruction) → RESUME_GUEST, nothing emulated', () => {
  const w = mmioWorld();
  w.v.cur_inst = dform(32, 5, 4, 0x10); // lwz: instruction_is_store = (inst & 0x10000000) = 0
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, 0x10005010, ACCESS_STORE), 0xe00);
  assert.equal(kvmppc_hdsi(w.kvm, w.v), TRIAGE_MMIO);
  const n = w.events().length;
  const ret = kvmppc_book3s_hv_page_fault(w.kvm, w.v, w.v.fault_darHi, w.v.fault_darLo, w.v.fault_dsisr);
  assert.equal(ret, RESUME_GUEST);
  assert.equal(w.v.mmio_needed, false);
  assert.equal(w.v.pcLo, PC);
  assert.equal(w.events().slice(n).filter((e) => e.kind === 'mmio_exit').length, 0);
});

test('instruction fetch failure → RESUME_GUEST; unsupported opcode (ld) → program interrupt, RESUME_HOST', () => {
  const w = mmioWorld();
  w.v.cur_inst = KVM_INST_FETCH_FAILED;
  assert.equal(ppc_hash64_handle_mmu_fault(w.ctx, w.v, 0, 0x10005010, ACCESS_LOAD), 0xe00);
  assert.equal(kvmppc_hdsi(w.kvm, w.v), TRIAGE_MMIO);
  assert.equal(kvmppc_book3s_hv_page_fault(w.kvm, w.v, w.v.fault_darHi, w.v.fault_darLo, w.v.fault_dsisr), RESUME_GUEST);
  // ld r5, 0x10(r4) (opcode 58, DS-form): Linux 3.4 emulate.c has no ld → EMULATE_FAIL.
  const x = mmioWorld();
  x.v.cur_inst = dform(58, 5, 4, 0x10);
  assert.equal(ppc_hash64_handle_mmu_fault(x.ctx, x.v, 0, 0x10005010, ACCESS_LOAD), 0xe00);
  assert.equal(kvmppc_hdsi(x.kvm, x.v), TRIAGE_MMIO);
  assert.equal(kvmppc_book3s_hv_page_fault(x.kvm, x.v, x.v.fault_darHi, x.v.fault_darLo, x.v.fault_dsisr), RESUME_HOST);
  assert.equal(x.v.pending_program, true);
  assert.equal(x.v.pcLo, PC);
  // A supported load leaves exit_reason = KVM_EXIT_MMIO until the VMM completes it.
  const y = mmioWorld();
  y.v.cur_inst = dform(34, 5, 4, 0x10); // lbz
  assert.equal(ppc_hash64_handle_mmu_fault(y.ctx, y.v, 0, 0x10005010, ACCESS_LOAD), 0xe00);
  kvmppc_hdsi(y.kvm, y.v);
  assert.equal(kvmppc_book3s_hv_page_fault(y.kvm, y.v, y.v.fault_darHi, y.v.fault_darLo, y.v.fault_dsisr), RESUME_HOST_NV);
  assert.equal(y.v.exit_reason, KVM_EXIT_MMIO);
  assert.equal(y.v.mmio_len, 1);
  assert.equal(y.v.mmio_phys_addr, 0x80000010);
});
