// H_ENTER from host virtual mode (book3s_64_mmu_hv.c): the continuation of a PPC970 H_ENTER
// that real mode gave up on (pin the page into slot_phys, then the real-mode algorithm again), and
// the H_ENTER KVM itself issues for the VRMA. Hash-only: it writes HPTEs. Reached through
// kvm.ops.hEnterVirtmode (ops.ts) and from vrma.ts.

import {
  H_ENTER,
  H_PARAMETER,
  H_RESOURCE,
  H_TOO_HARD,
  hpte_page_size,
  hpte_rpn,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
} from '../../arch/index.js';
import { newHcallRegs } from '../hcall.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID } from '../types.js';
import { kvmppc_h_enter, slot_is_aligned } from './rm_mmu.js';
import { kvmppc_get_guest_page } from './slot_phys.js';

/**
 * H_ENTER in host virtual mode on registers r4..r7 in `regs` (outputs in place, r3 returned).
 * Without notifiers the page is first pinned into slot_phys (kvmppc_get_guest_page, which may
 * fault it in); a page that cannot be had, or a large page in an unaligned slot, is H_PARAMETER.
 * Then kvmppc_h_enter runs again; an H_TOO_HARD from it "can't happen" and becomes H_RESOURCE.
 * No memslot (MMIO) goes straight to kvmppc_h_enter, which says H_PARAMETER on PPC970.
 * Events are recorded with the current kvm context (cause).
 * Seed 1 ('3.3') has no virtual-mode H_ENTER: its ops.hEnterVirtmode is kvmppc_h_enter_33.
 */
// Mirrors kvmppc_virtmode_h_enter() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_virtmode_do_h_enter(kvm: Kvm, regs: Uint32Array): number {
  if (!kvm.usingMmuNotifiers) {
    const pteh_lo = (regs[5] & ~(HPTE_V_HVLOCK_LO | HPTE_V_ABSENT_LO | HPTE_V_VALID_LO)) >>> 0;
    const ptel_hi = regs[6];
    const ptel_lo = regs[7];
    // 1. psize; 2. memslot of gpa = (ptel & RPN) & ~(psize - 1).
    const psize = hpte_page_size(pteh_lo, ptel_lo, kvm.arch206);
    if (psize === 0) return H_PARAMETER;
    const gfn = hpte_rpn(ptel_hi, ptel_lo, psize, kvm.pageShift);
    const memslot = kvm.gfn_to_memslot(gfn);
    if (memslot !== null && (memslot.flags & KVM_MEMSLOT_INVALID) === 0) {
      // 3. Aligned slot, then pin the page.
      if (!slot_is_aligned(memslot, psize, kvm.pageSize)) return H_PARAMETER;
      if (kvmppc_get_guest_page(kvm, gfn, memslot, psize) < 0) return H_PARAMETER;
    }
  }
  // 4. do_insert: the real-mode algorithm, now that the page is pinned.
  const ret = kvmppc_h_enter(kvm, regs);
  return ret === H_TOO_HARD ? H_RESOURCE : ret;
}

/**
 * H_ENTER issued by KVM itself from host virtual mode (VRMA set-up, K34 kvmppc_hv_setup_rma), or
 * the virtual-mode H_ENTER of a PPC970 guest for callers using BigInts. Returns [ret, index].
 * Not recorded as an hcall (kvmppc_hcall_virtmode is the recorded form).
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
  const ret = kvm.ops.hEnterVirtmode(kvm, regs);
  if (obs !== null) obs.opEnd(kvm, H_ENTER, ret, regs);
  return [ret, regs[1]];
}
