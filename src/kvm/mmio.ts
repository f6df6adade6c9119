// Emulated MMIO on Book3S HV, Linux 3.4: kvmppc_hv_emulate_mmio (fetch + direction check), the
// generic load/store emulation it hands over to (kvmppc_emulate_mmio → kvmppc_emulate_instruction
// → kvmppc_handle_load / kvmppc_handle_store), the KVM_EXIT_MMIO the VMM completes, and the
// completion of a load on the next KVM_RUN (kvmppc_complete_mmio_load). The VMM side is a tiny
// deterministic device model: a byte-addressed register file keyed by gpa.
//
// Linux 3.4's emulate.c handles byte, halfword and word accesses only (no ld/std), plus the
// byte-reversed and update forms; anything else is an emulation failure (program interrupt queued,
// RESUME_HOST). Its update forms write the *guest physical* address (paddr_accessed) to RA, not the
// EA — modelled as the code does it.

import {
  instruction_is_store,
  KVM_EXIT_MMIO,
  KVM_INST_FETCH_FAILED,
  RESUME_GUEST,
  RESUME_GUEST_NV,
  RESUME_HOST,
  RESUME_HOST_NV,
} from '../arch/index.js';
import type { Vcpu } from '../hw/vcpu.js';
import { K } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';
import type { Kvm } from './kvm.js';

/** enum emulation_result, as used here (model values). */
export const EMULATE_DONE = 0;
export const EMULATE_DO_MMIO = 1;
export const EMULATE_FAIL = 2;

// arch/powerpc/kvm/emulate.c (Linux 3.4) opcodes.
const OP_31_XOP_LWZX = 23;
const OP_31_XOP_LBZX = 87;
const OP_31_XOP_STWX = 151;
const OP_31_XOP_STBX = 215;
const OP_31_XOP_LBZUX = 119;
const OP_31_XOP_STBUX = 247;
const OP_31_XOP_LHZX = 279;
const OP_31_XOP_LHZUX = 311;
const OP_31_XOP_LHAX = 343;
const OP_31_XOP_STHX = 407;
const OP_31_XOP_STHUX = 439;
const OP_31_XOP_LWBRX = 534;
const OP_31_XOP_STWBRX = 662;
const OP_31_XOP_LHBRX = 790;
const OP_31_XOP_STHBRX = 918;
const OP_LWZ = 32;
const OP_LWZU = 33;
const OP_LBZ = 34;
const OP_LBZU = 35;
const OP_STW = 36;
const OP_STWU = 37;
const OP_STB = 38;
const OP_STBU = 39;
const OP_LHZ = 40;
const OP_LHZU = 41;
const OP_LHA = 42;
const OP_LHAU = 43;
const OP_STH = 44;
const OP_STHU = 45;

const get_op = (i: number): number => i >>> 26;
const get_xop = (i: number): number => (i >>> 1) & 0x3ff;
const get_rt = (i: number): number => (i >>> 21) & 0x1f;
const get_ra = (i: number): number => (i >>> 16) & 0x1f;

/** The VMM's view of an MMIO region: what completes a KVM_EXIT_MMIO. */
export interface MmioDevice {
  /** Big-endian value of `len` bytes at gpa. */
  read(gpa: number, len: number): number;
  write(gpa: number, len: number, value: number): void;
}

/**
 * A register file keyed by gpa, byte-addressed and big-endian: a 4-byte store at A followed by a
 * 1-byte load at A + 3 returns the low byte. Unwritten bytes read as `fill` (default 0).
 */
export class MmioRegisterFile implements MmioDevice {
  readonly bytes = new Map<number, number>();
  readonly fill: number;
  reads = 0;
  writes = 0;
  constructor(fill = 0) {
    this.fill = fill & 0xff;
  }
  read(gpa: number, len: number): number {
    this.reads++;
    let v = 0;
    for (let k = 0; k < len; k++) v = v * 256 + (this.bytes.get(gpa + k) ?? this.fill);
    return v >>> 0;
  }
  write(gpa: number, len: number, value: number): void {
    this.writes++;
    for (let k = len - 1; k >= 0; k--) {
      this.bytes.set(gpa + k, value & 0xff);
      value = Math.floor(value / 256);
    }
  }
  /** Pre-load a register (as a store would, without counting). */
  preset(gpa: number, len: number, value: number): void {
    this.write(gpa, len, value);
    this.writes--;
  }
}

/** Byte-swap the low `len` bytes. */
function swab(v: number, len: number): number {
  if (len === 4) return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
  if (len === 2) return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
  return v & 0xff;
}

/**
 * Emulate the MMIO access that faulted at `gpa`:
 * 1. last_inst not loaded (KVM_INST_FETCH_FAILED) → fetch it at PC (kvmppc_ld; here vcpu.cur_inst);
 *    failure → RESUME_GUEST (the guest re-executes).
 * 2. instruction_is_store(last_inst) must equal the fault's direction, else RESUME_GUEST: the
 *    word read may not be the instruction that faulted, and permissions were checked for the
 *    fault's direction.
 * 3. paddr_accessed = gpa; kvmppc_emulate_mmio.
 */
// Mirrors kvmppc_hv_emulate_mmio() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_hv_emulate_mmio(kvm: Kvm, vcpu: Vcpu, gpa: number, is_store: boolean, cause: number = NO_CAUSE): number {
  // 1.
  if (vcpu.last_inst >>> 0 === KVM_INST_FETCH_FAILED) {
    const inst = vcpu.cur_inst >>> 0;
    if (inst === KVM_INST_FETCH_FAILED) return RESUME_GUEST;
    vcpu.last_inst = inst;
  }
  // 2.
  if (instruction_is_store(vcpu.last_inst) !== is_store) return RESUME_GUEST;
  // 3.
  vcpu.paddr_accessedHi = Math.floor(gpa / 0x1_0000_0000) >>> 0;
  vcpu.paddr_accessedLo = gpa >>> 0;
  void kvm;
  void cause;
  return kvmppc_emulate_mmio(vcpu);
}

/** EMULATE_DONE → RESUME_GUEST_NV; EMULATE_DO_MMIO → KVM_EXIT_MMIO, RESUME_HOST_NV; FAIL → RESUME_HOST. */
// Mirrors kvmppc_emulate_mmio() (arch/powerpc/kvm/powerpc.c, Linux 3.4)
export function kvmppc_emulate_mmio(vcpu: Vcpu): number {
  const er = kvmppc_emulate_instruction(vcpu);
  if (er === EMULATE_DONE) return RESUME_GUEST_NV;
  if (er === EMULATE_DO_MMIO) {
    vcpu.exit_reason = KVM_EXIT_MMIO;
    return RESUME_HOST_NV;
  }
  return RESUME_HOST;
}

/**
 * Decode last_inst and start the MMIO access (the load/store subset of emulate.c, Linux 3.4);
 * advance the PC by 4 unless the emulation failed (then a program interrupt is queued).
 */
// Mirrors kvmppc_emulate_instruction() (arch/powerpc/kvm/emulate.c, Linux 3.4), load/store cases
export function kvmppc_emulate_instruction(vcpu: Vcpu): number {
  const inst = vcpu.last_inst >>> 0;
  const rt = get_rt(inst); // also rs
  const ra = get_ra(inst);
  let em = EMULATE_DO_MMIO;
  let update = false;
  switch (get_op(inst)) {
    case 31:
      switch (get_xop(inst)) {
        case OP_31_XOP_LWZX: kvmppc_handle_load(vcpu, rt, 4, true, false); break;
        case OP_31_XOP_LBZX: kvmppc_handle_load(vcpu, rt, 1, true, false); break;
        case OP_31_XOP_LHZX: kvmppc_handle_load(vcpu, rt, 2, true, false); break;
        case OP_31_XOP_LHAX: kvmppc_handle_load(vcpu, rt, 2, true, true); break;
        case OP_31_XOP_LWBRX: kvmppc_handle_load(vcpu, rt, 4, false, false); break;
        case OP_31_XOP_LHBRX: kvmppc_handle_load(vcpu, rt, 2, false, false); break;
        case OP_31_XOP_STWX: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 4, true); break;
        case OP_31_XOP_STBX: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 1, true); break;
        case OP_31_XOP_STHX: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 2, true); break;
        case OP_31_XOP_STWBRX: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 4, false); break;
        case OP_31_XOP_STHBRX: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 2, false); break;
        // The indexed update forms: emulate.c sets RA (LBZUX, LHZUX) or, for STBUX, RS (sic) to
        // the EA = (RA|0) + RB. Modelled with the EA's low word as the kernel's u32 `ea`.
        case OP_31_XOP_LBZUX:
        case OP_31_XOP_LHZUX:
        case OP_31_XOP_STBUX:
        case OP_31_XOP_STHUX: {
          const rb = (inst >>> 11) & 0x1f;
          let ea = vcpu.gprLo(rb);
          if (ra !== 0) ea = (ea + vcpu.gprLo(ra)) >>> 0;
          const xop = get_xop(inst);
          if (xop === OP_31_XOP_LBZUX || xop === OP_31_XOP_LHZUX) {
            kvmppc_handle_load(vcpu, rt, xop === OP_31_XOP_LBZUX ? 1 : 2, true, false);
            vcpu.setGpr(ra, 0, ea);
          } else {
            kvmppc_handle_store(vcpu, vcpu.gprLo(rt), xop === OP_31_XOP_STBUX ? 1 : 2, true);
            vcpu.setGpr(xop === OP_31_XOP_STBUX ? rt : ra, 0, ea);
          }
          break;
        }
        default:
          em = EMULATE_FAIL;
      }
      break;
    case OP_LWZ: case OP_LWZU: kvmppc_handle_load(vcpu, rt, 4, true, false); update = get_op(inst) === OP_LWZU; break;
    case OP_LBZ: case OP_LBZU: kvmppc_handle_load(vcpu, rt, 1, true, false); update = get_op(inst) === OP_LBZU; break;
    case OP_LHZ: case OP_LHZU: kvmppc_handle_load(vcpu, rt, 2, true, false); update = get_op(inst) === OP_LHZU; break;
    case OP_LHA: case OP_LHAU: kvmppc_handle_load(vcpu, rt, 2, true, true); update = get_op(inst) === OP_LHAU; break;
    case OP_STW: case OP_STWU: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 4, true); update = get_op(inst) === OP_STWU; break;
    case OP_STB: case OP_STBU: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 1, true); update = get_op(inst) === OP_STBU; break;
    case OP_STH: case OP_STHU: kvmppc_handle_store(vcpu, vcpu.gprLo(rt), 2, true); update = get_op(inst) === OP_STHU; break;
    default:
      em = EMULATE_FAIL;
  }
  // D-form update: RA = vcpu->arch.paddr_accessed (the kernel's choice, not the EA).
  if (update) vcpu.setGpr(ra, vcpu.paddr_accessedHi, vcpu.paddr_accessedLo);
  if (em === EMULATE_FAIL) {
    // kvmppc_core_emulate_op() has nothing for HV: program interrupt, no advance.
    vcpu.pending_program = true;
    vcpu.mmio_needed = false;
    return EMULATE_FAIL;
  }
  vcpu.advancePc();
  return em;
}

/** Start an MMIO load of `bytes` into GPR rt: kvm_run->mmio = {paddr_accessed, bytes, read}. */
// Mirrors kvmppc_handle_load() / kvmppc_handle_loads() (arch/powerpc/kvm/powerpc.c, Linux 3.4)
export function kvmppc_handle_load(vcpu: Vcpu, rt: number, bytes: number, is_bigendian: boolean, sign_extend: boolean): number {
  vcpu.mmio_phys_addr = vcpu.paddr_accessedHi * 0x1_0000_0000 + vcpu.paddr_accessedLo;
  vcpu.mmio_len = bytes;
  vcpu.mmio_is_write = false;
  vcpu.mmio_data = 0;
  vcpu.io_gpr = rt;
  vcpu.mmio_is_bigendian = is_bigendian;
  vcpu.mmio_sign_extend = sign_extend;
  vcpu.mmio_needed = true;
  return EMULATE_DO_MMIO;
}

/** Start an MMIO store of the low `bytes` of val (byte-reversed if !is_bigendian). */
// Mirrors kvmppc_handle_store() (arch/powerpc/kvm/powerpc.c, Linux 3.4)
export function kvmppc_handle_store(vcpu: Vcpu, val: number, bytes: number, is_bigendian: boolean): number {
  vcpu.mmio_phys_addr = vcpu.paddr_accessedHi * 0x1_0000_0000 + vcpu.paddr_accessedLo;
  vcpu.mmio_len = bytes;
  vcpu.mmio_is_write = true;
  const masked = bytes === 4 ? val >>> 0 : val & ((1 << (bytes * 8)) - 1);
  vcpu.mmio_data = is_bigendian ? masked : swab(masked, bytes);
  vcpu.io_gpr = -1;
  vcpu.mmio_is_bigendian = is_bigendian;
  vcpu.mmio_sign_extend = false;
  vcpu.mmio_needed = true;
  return EMULATE_DO_MMIO;
}

/**
 * The VMM's half of KVM_EXIT_MMIO and the next KVM_RUN: the device performs the access; a load is
 * completed into io_gpr (kvmppc_complete_mmio_load: byte-swap if !is_bigendian, sign-extend for
 * lha). Records mmio_exit (gpa, len, is_write, data, inst). No-op if no MMIO is pending.
 */
// Mirrors the KVM_EXIT_MMIO round trip + kvmppc_complete_mmio_load() (arch/powerpc/kvm/powerpc.c, Linux 3.4)
export function kvm_vmm_complete_mmio(kvm: Kvm, vcpu: Vcpu, dev: MmioDevice, cause: number = NO_CAUSE): void {
  if (!vcpu.mmio_needed) return;
  const gpa = vcpu.mmio_phys_addr;
  const len = vcpu.mmio_len;
  let data: number;
  if (vcpu.mmio_is_write) {
    data = vcpu.mmio_data;
    dev.write(gpa, len, data);
  } else {
    data = dev.read(gpa, len) >>> 0;
    vcpu.mmio_data = data;
    let gpr = vcpu.mmio_is_bigendian ? data : swab(data, len);
    let hi = 0;
    if (vcpu.mmio_sign_extend) {
      const bits = len * 8;
      if (bits < 32 && (gpr & (1 << (bits - 1))) !== 0) gpr = (gpr | ~((1 << bits) - 1)) >>> 0;
      if ((gpr & 0x80000000) !== 0) hi = 0xffffffff;
    }
    if (vcpu.io_gpr >= 0) vcpu.setGpr(vcpu.io_gpr, hi, gpr);
  }
  vcpu.mmio_needed = false;
  vcpu.exit_reason = 0;
  const rec = kvm.rec;
  if (rec.enabled) {
    rec.emit(K.mmio_exit, kvm.lpid, vcpu.vcpu_id, vcpu.core, cause)
      .gpa(gpa)
      .len(len)
      .is_write(vcpu.mmio_is_write ? 1 : 0)
      .data(data)
      .inst(vcpu.last_inst >>> 0);
  }
}
