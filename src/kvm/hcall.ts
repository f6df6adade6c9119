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
// slot is empty. Kernel '3.3' (seed 1) has the same five real-mode MMU calls with the seed-1
// handlers of seed1.ts, and none of them ever leaves real mode. Every call this model does not complete returns H_TOO_HARD with path 'user':
// the caller turns it into a full exit (trap 0xc00) and KVM_EXIT_PAPR_HCALL for the VMM, or hands
// it to its own model (H_CEDE, H_PROD, ... are not MMU calls and are not modelled here).
//
// Calls finished in host virtual mode (PPC970 H_ENTER of a page slot_phys has not pinned yet):
// the real-mode handler returns H_TOO_HARD, and kvmppc_hcall returns H_TOO_HARD *without*
// recording hcall_exit, leaving the hcall_enter seq in kvm.pendingHcallEnter. The caller models the
// full exit (trap 0xc00, partition switch) and then calls
//
//   kvmppc_hcall_virtmode(kvm, vcpu, nr, regs)   // kvmppc_pseries_do_hcall → kvmppc_virtmode_h_enter
//
// which pins the page (host_page pin events), re-runs H_ENTER, puts r3/r4 in place and records
// hcall_exit with path 'virtual' (cause = the hcall_enter). kvmppc_hcall_complete() does both steps
// for callers that do not model the exit (tests, simple scenarios). With isVirtmodePending(kvm)
// a caller can tell this case from a call that goes to userspace (path 'user', already recorded).

import { H_ENTER, H_TOO_HARD } from '../arch/index.js';
import { E, K } from '../trace/kinds.js';
import { NO_CAUSE } from '../trace/recorder.js';
import type { Kvm } from './kvm.js';
import type { KvmVcpuRef } from './types.js';

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
 * leaves to virtual mode / userspace in this kernel version: the VM's hcall_real_table (ops.ts).
 */
// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.3 / 3.4 / 4.20 for CLEAR_*)
export function realModeHandler(kvm: Kvm, nr: number): ((kvm: Kvm, regs: Uint32Array) => number) | null {
  const table = kvm.ops.hcallReal;
  const k = nr >>> 2;
  return (nr & 3) === 0 && k < table.length ? table[k] : null;
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
    enter = rec
      .emit(K.hcall_enter, kvm.lpid, vid, core, cause)
      .nr(nr)
      .r4(regs[0], regs[1])
      .r5(regs[2], regs[3])
      .r6(regs[4], regs[5])
      .r7(regs[6], regs[7])
      .r8(regs[8], regs[9])
      .r9(regs[10], regs[11])
      .r10(regs[12], regs[13])
      .r11(regs[14], regs[15]).seq;
  }
  // Real mode runs first for every sc 1 (the handler, or the table lookup that passes the call on).
  kvm.clock.charge(kvm.clock.t.hcallReal);
  const obs = kvm.observer;
  if (obs !== null) obs.opBegin(kvm, nr, regs);
  const handler = realModeHandler(kvm, nr);
  let ret: number;
  let path: number;
  kvm.pendingHcallEnter = NO_CAUSE;
  kvm.pendingHcallNr = 0;
  if (handler !== null) {
    kvm.setCtx(vid, core, enter);
    ret = handler(kvm, regs);
    kvm.clearCtx();
    path = E.hcall_path.real;
    if (ret === H_TOO_HARD && virtualModeHandles(kvm, nr)) {
      // Finished later by kvmppc_hcall_virtmode (after the caller's full exit): no hcall_exit yet.
      kvm.pendingHcallEnter = enter;
      kvm.pendingHcallNr = nr;
      if (obs !== null) obs.opEnd(kvm, nr, ret, regs);
      return ret;
    }
  } else {
    ret = H_TOO_HARD;
    path = E.hcall_path.user;
  }
  recordHcallExit(kvm, vid, core, enter, nr, ret, path, regs);
  if (obs !== null) obs.opEnd(kvm, nr, ret, regs);
  return ret;
}

/** The hcall_exit event: r3 = ret, how the call completed, r4..r11 as the guest sees them. */
function recordHcallExit(kvm: Kvm, vid: number, core: number, cause: number, nr: number, ret: number, path: number, regs: Uint32Array): void {
  const rec = kvm.rec;
  if (!rec.enabled) return;
  // regs: r4..r11 as (hi, lo) pairs, HCALL_REGS_WORDS words.
  rec
    .emit(K.hcall_exit, kvm.lpid, vid, core, cause)
    .nr(nr)
    .ret(ret)
    .path(path)
    .out_r4(regs[0], regs[1])
    .out_r5(regs[2], regs[3])
    .out_r6(regs[4], regs[5])
    .out_r7(regs[6], regs[7])
    .out_r8(regs[8], regs[9])
    .out_r9(regs[10], regs[11])
    .out_r10(regs[12], regs[13])
    .out_r11(regs[14], regs[15]);
}

/** Does host virtual mode (kvmppc_pseries_do_hcall, K34) complete `nr` after a real-mode H_TOO_HARD? */
// Mirrors the case list of kvmppc_pseries_do_hcall() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4), MMU part
export function virtualModeHandles(kvm: Kvm, nr: number): boolean {
  // H_ENTER reaches virtual mode only without notifiers (real mode never says H_TOO_HARD otherwise),
  // and never in seed 1 (3.3 has no virtual-mode H_ENTER): ops.hEnterInVirtmode. H_CEDE, H_PROD,
  // H_CONFER and H_REGISTER_VPA are handled there too but are not MMU calls.
  return nr === H_ENTER && kvm.ops.hEnterInVirtmode;
}

/** Did the last kvmppc_hcall leave a call for kvmppc_hcall_virtmode? */
export function isVirtmodePending(kvm: Kvm): boolean {
  return kvm.pendingHcallNr !== 0;
}

/**
 * Finish in host virtual mode an hcall whose real-mode handler returned H_TOO_HARD (after the
 * caller has modelled the full exit). H_ENTER → kvmppc_virtmode_do_h_enter (pin with
 * kvmppc_get_guest_page, then H_ENTER again); r3 is returned and r4.. are in `regs` as the guest
 * will see them on re-entry. Records hcall_exit with path 'virtual' and cause `enterSeq` (default:
 * the pending hcall_enter). Any other call is not completed here: H_TOO_HARD, path 'user'.
 */
// Mirrors kvmppc_pseries_do_hcall() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4), H_ENTER case
export function kvmppc_hcall_virtmode(
  kvm: Kvm,
  vcpu: KvmVcpuRef,
  nr: number,
  regs: Uint32Array,
  enterSeq: number = kvm.pendingHcallEnter,
): number {
  const vid = vcpu.vcpu_id;
  const core = vcpu.core;
  kvm.pendingHcallEnter = NO_CAUSE;
  kvm.pendingHcallNr = 0;
  const obs = kvm.observer;
  let ret: number;
  let path: number;
  if (nr === H_ENTER) {
    if (obs !== null) obs.opBegin(kvm, nr, regs);
    kvm.setCtx(vid, core, enterSeq);
    ret = kvm.ops.hEnterVirtmode(kvm, regs);
    kvm.clearCtx();
    path = E.hcall_path.virtual;
  } else {
    ret = H_TOO_HARD;
    path = E.hcall_path.user;
  }
  recordHcallExit(kvm, vid, core, enterSeq, nr, ret, path, regs);
  if (obs !== null && nr === H_ENTER) obs.opEnd(kvm, nr, ret, regs);
  return ret;
}

/**
 * kvmppc_hcall, then, if the call was left for host virtual mode, kvmppc_hcall_virtmode at once
 * (no exit modelled in between). Returns the final r3.
 */
export function kvmppc_hcall_complete(kvm: Kvm, vcpu: KvmVcpuRef, nr: number, regs: Uint32Array, cause: number = NO_CAUSE): number {
  const ret = kvmppc_hcall(kvm, vcpu, nr, regs, cause);
  if (ret === H_TOO_HARD && isVirtmodePending(kvm)) return kvmppc_hcall_virtmode(kvm, vcpu, nr, regs);
  return ret;
}

/** Result of hcallBig: r3 and r4..r11 after the call. */
export interface HcallResult {
  ret: number;
  out: bigint[];
}

/**
 * BigInt convenience for tests and scenarios: args are r4, r5, ... (missing ones are 0; each taken
 * modulo 2^64, so negative values give their two's complement). A call left for host virtual mode
 * (PPC970 H_ENTER) is finished there at once (kvmppc_hcall_complete).
 */
export function hcallBig(kvm: Kvm, vcpu: KvmVcpuRef, nr: number, args: readonly bigint[], cause: number = NO_CAUSE): HcallResult {
  const regs = newHcallRegs();
  for (let k = 0; k < 8 && k < args.length; k++) {
    const u = BigInt.asUintN(64, args[k]);
    regs[k * 2] = Number(u >> 32n);
    regs[k * 2 + 1] = Number(u & 0xffffffffn);
  }
  const ret = kvmppc_hcall_complete(kvm, vcpu, nr, regs, cause);
  const out: bigint[] = [];
  for (let k = 0; k < 8; k++) out.push((BigInt(regs[k * 2]) << 32n) | BigInt(regs[k * 2 + 1]));
  return { ret, out };
}
