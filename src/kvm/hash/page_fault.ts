// The virtual-mode HPT page fault of Book3S HV (POWER7, MMU notifiers): re-check the HPTE the
// real-mode triage found, get the host page (faulting it in through the host model), build the
// hardware dword 1, re-validate under the HPTE and rmap locks and mmu_notifier_retry, then install
// (chain insertion) or upgrade (invalidate + tlbie, keep the chain) — kernel-model §E.3.

import {
  hpte_cache_flags_ok,
  hpte_is_writable,
  hpte_make_readonly,
  hpte_page_size,
  hpte_rpn,
  hpte_set_rpn,
  HPTE_R_C_LO,
  HPTE_R_G_LO,
  HPTE_R_I_LO,
  HPTE_R_M_LO,
  HPTE_R_R_LO,
  HPTE_R_W_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
  DSISR_ISSTORE,
  RESUME_GUEST,
  rmap_rc_filter,
} from '../../arch/index.js';
import { host_get_user_page } from '../../host/gup.js';
import { PTE_DIRTY, PTE_PRESENT, PTE_RW, PTE_YOUNG } from '../../host/mm.js';
import type { Vcpu } from '../../hw/vcpu.js';
import { E, K } from '../../trace/kinds.js';
import { NO_CAUSE } from '../../trace/recorder.js';
import type { Kvm } from '../kvm.js';
import { KVM_MEMSLOT_INVALID, type Memslot } from '../types.js';
import { kvmppc_hv_emulate_mmio } from '../mmio.js';
import { kvmppc_invalidate_hpte, mmu_notifier_retry } from './rm_mmu.js';

export const EFAULT = -14;
const TWO32 = 0x1_0000_0000;
const RC_LO = HPTE_R_R_LO | HPTE_R_C_LO;

/**
 * KvmObserver.opBegin/opEnd `nr` used for a virtual-mode page fault: negative like the notifier
 * codes (-1 - notifier_kind), and distinct from them.
 */
export const KVM_OP_PAGE_FAULT = -0xe00;

/**
 * Virtual-mode page fault for `vcpu` at EA (ea) with `dsisr` (fault_dsisr for an HDSI, 0 for an
 * HISI). Returns RESUME_GUEST (0), RESUME_HOST_NV (3, a KVM_EXIT_MMIO is pending in vcpu), another
 * RESUME_* from MMIO emulation, or -EFAULT. `interleave`, if given, runs where the kernel may sleep
 * (after the host page lookup, before the locks are retaken): tests and machines use it to model a
 * concurrent notifier or hcall. Steps (kernel-model §E.3, Linux 3.4):
 * 1. ea ≠ pgfault_addr → RESUME_GUEST ('stale_addr'). Snapshot v (no HVLOCK), hw r, gr of
 *    pgfault_index; (v, r) ≠ pgfault_hpte → RESUME_GUEST ('changed').
 * 2. psize, gfn = hpte_rpn(gr, psize), memslot; none (or INVALID) → MMIO (step 9).
 * 3. mmu_seq = mmu_notifier_seq.
 * 4. writing = dsisr & ISSTORE; write_ok = writing; get_user_pages_fast(hva, writing):
 *    fails → VM_PFNMAP VMA covering [hva, hva+psize): pfn from its PTE, pte_size = psize,
 *    is_io = cache bits, write_ok = VM_WRITE; else -EFAULT. Succeeds → pte_size = backing page
 *    size; !writing && guest view writable → young+dirty the host PTE, write_ok = host writable.
 * 5. psize > pte_size → -EFAULT. WIMG not ok: I/O → -EFAULT; RAM → W, I, G cleared, M set.
 * 6. r = (r & ~(PP0 - pte_size)) | pfn << PAGE_SHIFT; writable && !write_ok → hpte_make_readonly.
 * 7. Re-read under the HPTE lock: v, hw r or gr changed → RESUME_GUEST ('changed', untouched).
 *    new_v = (v & ~ABSENT) | VALID.
 * 8. Under the rmap lock: mmu_notifier_retry → RESUME_GUEST ('notifier_retry'). r &= rmap R/C.
 *    Hardware entry VALID → set ABSENT, invalidate + tlbie, r |= old hw R/C, stays chained
 *    ('upgraded'); else link into the chain ('installed'). Write dword 1, then dword 0.
 * 9. MMIO: gpa = gfn << PAGE_SHIFT | (ea & (psize - 1)); kvmppc_hv_emulate_mmio ('mmio').
 * Records page_fault_enter and page_fault_exit (cause = enter) around the HPT/rmap/tlbie events.
 */
// Mirrors kvmppc_book3s_hv_page_fault() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvmppc_book3s_hv_page_fault(
  kvm: Kvm,
  vcpu: Vcpu,
  ea_hi: number,
  ea_lo: number,
  dsisr: number,
  cause: number = NO_CAUSE,
  interleave?: () => void,
): number {
  const hpt = kvm.mmu.hpt;
  const snap = vcpu.fault_snap;
  const t = vcpu.fault_tmp;
  const index = vcpu.pgfault_index;
  const obs = kvm.observer;
  if (obs !== null) obs.opBegin(kvm, KVM_OP_PAGE_FAULT, null);

  // 1.
  if (ea_hi >>> 0 !== vcpu.pgfault_addrHi || ea_lo >>> 0 !== vcpu.pgfault_addrLo || index < 0) {
    snap.fill(0);
    const enter = recEnter(kvm, vcpu, cause, snap, ea_hi, ea_lo, null, dsisr, Math.max(index, 0), -1);
    return finish(kvm, vcpu, enter, snap[0], snap[1], 0, 0, RESUME_GUEST, E.page_fault_outcome.stale_addr, Math.max(index, 0), -1);
  }
  const p = index * 4;
  snap[0] = hpt[p];
  snap[1] = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  snap[2] = hpt[p + 2];
  snap[3] = hpt[p + 3];
  snap[4] = kvm.mmu.revGuestR[index * 2];
  snap[5] = kvm.mmu.revGuestR[index * 2 + 1];
  // 2. (computed before the step-1 comparison only so that page_fault_enter can carry them)
  const psize = hpte_page_size(snap[1], snap[5], kvm.arch206);
  const gfn = psize === 0 ? -1 : hpte_rpn(snap[4], snap[5], psize, kvm.pageShift);
  const found = gfn < 0 ? null : kvm.gfn_to_memslot(gfn);
  const slot = found !== null && (found.flags & KVM_MEMSLOT_INVALID) === 0 ? found : null;
  const enter = recEnter(kvm, vcpu, cause, snap, ea_hi, ea_lo, slot, dsisr, index, gfn);
  const ph = vcpu.pgfault_hpte;
  if (snap[0] !== ph[0] || snap[1] !== ph[1] || snap[2] !== ph[2] || snap[3] !== ph[3]) {
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], RESUME_GUEST, E.page_fault_outcome.changed, index, gfn);
  }
  if (psize === 0) {
    // hpte_page_size() = 0 cannot come out of H_ENTER; the kernel would divide by it. Refuse.
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], EFAULT, E.page_fault_outcome.efault, index, gfn);
  }
  if (slot === null) {
    // 9. Emulated MMIO.
    // (psize ≤ 16M here: hpte_page_size() only yields 4K, 64K, 16M.)
    const gpa = gfn * kvm.pageSize + ((ea_lo & (psize - 1)) >>> 0);
    kvm.setCtx(vcpu.vcpu_id, vcpu.core, enter);
    const ret = kvmppc_hv_emulate_mmio(kvm, vcpu, gpa, (dsisr & DSISR_ISSTORE) !== 0, enter);
    kvm.clearCtx();
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], ret, E.page_fault_outcome.mmio, index, -1);
  }

  // 3. Without MMU notifiers (PPC970) this path "should never get here".
  if (!kvm.usingMmuNotifiers) {
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], EFAULT, E.page_fault_outcome.efault, index, gfn);
  }
  const mmu_seq = kvm.mmu_notifier_seq;

  // 4.
  let r_hi = snap[4];
  let r_lo = snap[5];
  const writing = (dsisr & DSISR_ISSTORE) !== 0;
  let write_ok = writing;
  let is_io = 0;
  let pfn = 0;
  let pte_size = kvm.pageSize;
  const hva = kvm.gfn_to_hva_memslot(slot, gfn);
  const page = kvm.mmu.faultPage;
  const mm = kvm.mm;
  if (!host_get_user_page(mm, hva, writing, page)) {
    const vma = mm.find_vma(hva);
    if (vma !== null && vma.start <= hva && hva + psize <= vma.end && vma.cacheBits !== 0) {
      const i = vma.index(hva);
      if ((vma.flags[i] & PTE_PRESENT) !== 0) {
        pfn = vma.pfn[i];
        pte_size = psize;
        is_io = vma.cacheBits;
        write_ok = (vma.flags[i] & PTE_RW) !== 0;
      }
    }
    if (pfn === 0) return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], EFAULT, E.page_fault_outcome.efault, index, gfn);
  } else {
    pte_size = page.size;
    pfn = page.pfn;
    if (!writing && hpte_is_writable(r_hi, r_lo)) {
      // kvmppc_read_update_linux_pte(ptep, 1): young, dirty if writable; then pte_write().
      const vma = mm.find_vma(hva);
      if (vma !== null) {
        const i = vma.index(hva);
        const f = vma.flags[i];
        if ((f & PTE_PRESENT) !== 0) {
          vma.flags[i] = f | PTE_YOUNG | ((f & PTE_RW) !== 0 ? PTE_DIRTY : 0);
          if ((f & PTE_RW) !== 0) write_ok = true;
        }
      }
    }
  }
  if (interleave) interleave();

  // 5.
  if (psize > pte_size) return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], EFAULT, E.page_fault_outcome.efault, index, gfn);
  // WIMG vs the host mapping (3.4 / 4.20 rule: kvm.ops.hash); I/O mismatch → -EFAULT, RAM → made M.
  const wimg = kvm.ops.hash.cacheFlagsOk(r_lo, is_io, kvm.arch206);
  if (wimg < 0) return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], EFAULT, E.page_fault_outcome.efault, index, gfn);
  r_lo = wimg;

  // 6.
  const pa = pfn * kvm.pageSize;
  kvm.ops.hash.faultSetRpn(r_hi, r_lo, psize, pte_size, Math.floor(pa / TWO32) >>> 0, pa >>> 0, kvm.pageSize, t);
  r_hi = t[0];
  r_lo = t[1];
  if (hpte_is_writable(r_hi, r_lo) && !write_ok) {
    hpte_make_readonly(r_hi, r_lo, t, 0);
    r_hi = t[0];
    r_lo = t[1];
  }

  // 7.
  const unchanged =
    hpt[p] === snap[0] &&
    ((hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0) === snap[1] &&
    hpt[p + 2] === snap[2] &&
    hpt[p + 3] === snap[3] &&
    kvm.mmu.revGuestR[index * 2] === snap[4] &&
    kvm.mmu.revGuestR[index * 2 + 1] === snap[5];
  if (!unchanged) {
    if (obs !== null) obs.faultCommit?.(kvm, index, snap, false);
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], RESUME_GUEST, E.page_fault_outcome.changed, index, gfn);
  }
  const nv_hi = snap[0];
  const nv_lo = ((snap[1] & ~HPTE_V_ABSENT_LO) | HPTE_V_VALID_LO) >>> 0;

  // 8.
  const off = gfn - slot.base_gfn;
  if (mmu_notifier_retry(kvm, mmu_seq)) {
    if (obs !== null) obs.faultCommit?.(kvm, index, snap, false);
    return finish(kvm, vcpu, enter, snap[0], snap[1], snap[2], snap[3], RESUME_GUEST, E.page_fault_outcome.notifier_retry, index, gfn);
  }
  if (obs !== null) obs.faultCommit?.(kvm, index, snap, true);
  r_lo = rmap_rc_filter(r_lo, slot.rmap[off * 2]);
  kvm.setCtx(vcpu.vcpu_id, vcpu.core, enter);
  let outcome: number;
  const cur_v_lo = hpt[p + 1];
  if ((cur_v_lo & HPTE_V_VALID_LO) !== 0) {
    // Previously valid: invalidate it (ABSENT while the tlbie is issued), keep its R/C.
    const old_r_lo = hpt[p + 3];
    kvmppc_invalidate_hpte(kvm, index, hpt[p], (cur_v_lo | HPTE_V_ABSENT_LO) >>> 0, hpt[p + 2], old_r_lo);
    r_lo = (r_lo | (old_r_lo & RC_LO)) >>> 0;
    outcome = E.page_fault_outcome.upgraded;
  } else {
    kvm.ops.hash.addRevmapChain(kvm, slot as Memslot, off, index);
    outcome = E.page_fault_outcome.installed;
  }
  kvm.mmu.setHpte(index, nv_hi, nv_lo, r_hi, r_lo);
  kvm.clearCtx();
  return finish(kvm, vcpu, enter, nv_hi, nv_lo, snap[2], snap[3], RESUME_GUEST, outcome, index, gfn);
}

function recEnter(
  kvm: Kvm,
  vcpu: Vcpu,
  cause: number,
  snap: Uint32Array,
  ea_hi: number,
  ea_lo: number,
  slot: Memslot | null,
  dsisr: number,
  index: number,
  gfn: number,
): number {
  const rec = kvm.rec;
  // The fault's own work (re-read, lookups, locks, install) lies between enter and exit, whichever
  // way it ends; the host work it waits for (get_user_pages, a swap-in) and any tlbie charge theirs.
  // Charged after the enter event is stamped, recorded or not (time must not depend on recording).
  const clock = kvm.clock;
  if (!rec.enabled) {
    clock.charge(clock.t.pageFault);
    return NO_CAUSE;
  }
  const seq = rec.emit(K.page_fault_enter, kvm.lpid, vcpu.vcpu_id, vcpu.core, cause)
    .hpte_v(snap[0], snap[1])
    .hpte_r(snap[2], snap[3])
    .gpte_r(snap[4], snap[5])
    .ea(ea_hi >>> 0, ea_lo >>> 0)
    .base_gfn(slot === null ? -1 : slot.base_gfn)
    .slot_flags(slot === null ? 0 : slot.flags)
    .dsisr(dsisr >>> 0)
    .hpte_index(index)
    .gfn(gfn).seq;
  clock.charge(clock.t.pageFault);
  return seq;
}

function finish(
  kvm: Kvm,
  vcpu: Vcpu,
  enter: number,
  v_hi: number,
  v_lo: number,
  r_hi: number,
  r_lo: number,
  ret: number,
  outcome: number,
  index: number,
  gfn: number,
): number {
  const rec = kvm.rec;
  if (rec.enabled) {
    rec.emit(K.page_fault_exit, kvm.lpid, vcpu.vcpu_id, vcpu.core, enter)
      .hpte_v(v_hi >>> 0, v_lo >>> 0)
      .hpte_r(r_hi >>> 0, r_lo >>> 0)
      .ret(ret)
      .outcome(outcome)
      .hpte_index(index)
      .gfn(gfn);
  }
  const obs = kvm.observer;
  if (obs !== null) obs.opEnd(kvm, KVM_OP_PAGE_FAULT, ret, null);
  vcpu.fault_outcome = outcome;
  return ret;
}

/**
 * The page fault's WIMG step: hpte_cache_flags_ok(r, is_io) with is_io = the host cache bits
 * (0 = RAM); not ok → I/O: refuse (-1), RAM: W, I, G cleared and M set. Returns the low word of
 * dword 1, or -1. (HashVariantOps.cacheFlagsOk for 3.4; k420.ts has 4.20's rule.)
 */
// Mirrors the "Check WIMG" step of kvmppc_book3s_hv_page_fault() (book3s_64_mmu_hv.c, Linux 3.4)
export function wimg_fixup_34(r_lo: number, is_io: number, arch206: boolean): number {
  if (hpte_cache_flags_ok(r_lo, is_io, arch206)) return r_lo;
  if (is_io !== 0) return -1;
  return ((r_lo & ~(HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_G_LO)) | HPTE_R_M_LO) >>> 0;
}

/** r = (r & ~(HPTE_R_PP0 - pte_size)) | (pfn << PAGE_SHIFT): KEY_HI and the RPN above pte_size go. */
// Mirrors the "Set the HPTE to point to pfn" step of kvmppc_book3s_hv_page_fault() (book3s_64_mmu_hv.c, Linux 3.4)
export function fault_set_rpn_34(r_hi: number, r_lo: number, _psize: number, pteSize: number, pa_hi: number, pa_lo: number, _pageSize: number, out: Uint32Array): void {
  hpte_set_rpn(r_hi, r_lo, pteSize, pa_hi, pa_lo, out, 0);
}
