// The hcall entry point for guest models and scenario interpreters: dispatch an `sc 1` from guest
// supervisor state to the modelled handler and record hcall_enter / hcall_exit around it.
//
//   const regs = newHcallRegs();            // once per vcpu: r4..r11 as (hi, lo) pairs
//   regs[2] = 0; regs[3] = pte_index; ...   // r(4+k) = regs[2k] (hi), regs[2k+1] (lo)
//   const ret = kvmppc_hcall(kvm, vcpu, H_ENTER, regs);   // r3; outputs now in regs
//
// Where a call ends (kernel-model §D.2, Linux 3.4): H_ENTER, H_REMOVE, H_READ, H_PROTECT and
// H_BULK_REMOVE are completed by their real-mode handlers (path 'real'; no partition switch).
// H_CLEAR_REF / H_CLEAR_MOD are real-mode handlers only with kernel '4.20'; with '3.4' their table
// slot is empty. Every call this model does not complete returns H_TOO_HARD with path 'user':
// the caller turns it into a full exit (trap 0xc00) and KVM_EXIT_PAPR_HCALL for the VMM, or hands
// it to its own model (H_CEDE, H_PROD, ... are not MMU calls and are not modelled here).

import {
  H_BULK_REMOVE,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_ENTER,
  H_PROTECT,
  H_READ,
  H_REMOVE,
  H_TOO_HARD,
} from '../arch/index.js';
import { E, K } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';
import type { Kvm, KvmVcpuRef } from './kvm.js';
import {
  kvmppc_h_bulk_remove,
  kvmppc_h_clear_mod,
  kvmppc_h_clear_ref,
  kvmppc_h_enter,
  kvmppc_h_protect,
  kvmppc_h_read,
  kvmppc_h_remove,
} from './rm_mmu.js';

/** Words in a register block: r4..r11, two u32 halves each. */
export const HCALL_REGS_WORDS = 16;

/** A register block for kvmppc_hcall (allocate once per vcpu and reuse). */
export function newHcallRegs(): Uint32Array {
  return new Uint32Array(HCALL_REGS_WORDS);
}

/** Put a 64-bit value, given as a number < 2^53 (an index, an address), into r(4+k). */
export function setRegNum(regs: Uint32Array, k: number, x: number): void {
  regs[k * 2] = Math.floor(x / 0x1_0000_0000) >>> 0;
  regs[k * 2 + 1] = x >>> 0;
}

/**
 * The handler that completes `nr` in the kernel without leaving real mode, or null if the call
 * leaves to virtual mode / userspace in this kernel version.
 */
// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.4 / 4.20 for CLEAR_*)
export function realModeHandler(kvm: Kvm, nr: number): ((kvm: Kvm, regs: Uint32Array) => number) | null {
  switch (nr) {
    case H_ENTER:
      return kvmppc_h_enter;
    case H_REMOVE:
      return kvmppc_h_remove;
    case H_READ:
      return kvmppc_h_read;
    case H_PROTECT:
      return kvmppc_h_protect;
    case H_BULK_REMOVE:
      return kvmppc_h_bulk_remove;
    case H_CLEAR_REF:
      return kvm.kernel === '4.20' ? kvmppc_h_clear_ref : null;
    case H_CLEAR_MOD:
      return kvm.kernel === '4.20' ? kvmppc_h_clear_mod : null;
    default:
      return null;
  }
}

/**
 * Execute hcall `nr` for `vcpu` with arguments r4..r11 in `regs`; outputs replace them in place.
 * Returns r3: an H_* code, or H_TOO_HARD for "not completed here, exit to the VMM". Records
 * hcall_enter, the handler's hpte_write / rmap_change / tlbie events (cause = hcall_enter), and
 * hcall_exit (path real or user). `cause` lets a caller chain the call to an earlier event.
 */
export function kvmppc_hcall(kvm: Kvm, vcpu: KvmVcpuRef, nr: number, regs: Uint32Array, cause: number = NO_CAUSE): number {
  const rec = kvm.rec;
  const vid = vcpu.vcpu_id;
  const core = vcpu.core;
  let enter = NO_CAUSE;
  if (rec.enabled) {
    enter = rec.ev(K.hcall_enter, kvm.lpid, vid, core, cause);
    rec.u(nr);
    for (let k = 0; k < HCALL_REGS_WORDS; k += 2) rec.w(regs[k], regs[k + 1]);
  }
  const obs = kvm.observer;
  if (obs !== null) obs.opBegin(kvm, nr, regs);
  const handler = realModeHandler(kvm, nr);
  let ret: number;
  let path: number;
  if (handler !== null) {
    kvm.setCtx(vid, core, enter);
    ret = handler(kvm, regs);
    kvm.clearCtx();
    path = E.hcall_path.real;
  } else {
    ret = H_TOO_HARD;
    path = E.hcall_path.user;
  }
  if (rec.enabled) {
    rec.ev(K.hcall_exit, kvm.lpid, vid, core, enter);
    rec.u(nr);
    rec.u(ret);
    rec.u(path);
    for (let k = 0; k < HCALL_REGS_WORDS; k += 2) rec.w(regs[k], regs[k + 1]);
  }
  if (obs !== null) obs.opEnd(kvm, nr, ret, regs);
  return ret;
}

/** Result of hcallBig: r3 and r4..r11 after the call. */
export interface HcallResult {
  ret: number;
  out: bigint[];
}

/**
 * BigInt convenience for tests and scenarios: args are r4, r5, ... (missing ones are 0; each taken
 * modulo 2^64, so negative values give their two's complement).
 */
export function hcallBig(kvm: Kvm, vcpu: KvmVcpuRef, nr: number, args: readonly bigint[], cause: number = NO_CAUSE): HcallResult {
  const regs = newHcallRegs();
  for (let k = 0; k < 8 && k < args.length; k++) {
    const u = BigInt.asUintN(64, args[k]);
    regs[k * 2] = Number(u >> 32n);
    regs[k * 2 + 1] = Number(u & 0xffffffffn);
  }
  const ret = kvmppc_hcall(kvm, vcpu, nr, regs, cause);
  const out: bigint[] = [];
  for (let k = 0; k < 8; k++) out.push((BigInt(regs[k * 2]) << 32n) | BigInt(regs[k * 2 + 1]));
  return { ret, out };
}

/**
 * H_ENTER issued by KVM itself from host virtual mode (VRMA set-up, K34 kvmppc_hv_setup_rma);
 * with notifiers on it is kvmppc_h_enter. Returns [ret, index]. Not recorded as an hcall.
 */
// Mirrors kvmppc_virtmode_h_enter() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_virtmode_h_enter(kvm: Kvm, flags: bigint, pte_index: bigint, pteh: bigint, ptel: bigint): [number, number] {
  const regs = newHcallRegs();
  const vals = [flags, pte_index, pteh, ptel];
  for (let k = 0; k < 4; k++) {
    const u = BigInt.asUintN(64, vals[k]);
    regs[k * 2] = Number(u >> 32n);
    regs[k * 2 + 1] = Number(u & 0xffffffffn);
  }
  const obs = kvm.observer;
  if (obs !== null) obs.opBegin(kvm, H_ENTER, regs);
  const ret = kvmppc_h_enter(kvm, regs);
  if (obs !== null) obs.opEnd(kvm, H_ENTER, ret, regs);
  return [ret, regs[1]];
}
