// MMU notifiers: the generic KVM plumbing (mmu_notifier_seq / mmu_notifier_count, kvm_main.c) and
// the Book3S HV callbacks that act on rmap chains (book3s_64_mmu_hv.c), Linux 3.4.
//
// Each callback records one `notifier` event (kind, hva range, first gfn, effect, number of HPTEs
// invalidated or aged, seq/count after) *before* doing its work, so that the hpte_write / tlbie /
// rmap_change events it causes can name it as their cause. The effect and count are computed by a
// read-only pre-pass over the same chains (the model is single-threaded, so the pre-pass and the
// work see the same state). Without notifiers (PPC970) every callback is recorded with effect
// noop_pinned and hptes 0: kvm_unmap_hva / kvm_set_spte_hva do nothing and age / test_age return 0.

import {
  HPTE_R_C_LO,
  HPTE_R_R_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_VALID_LO,
  hpte_page_size,
  hpte_rpn,
  KVMPPC_RMAP_PRESENT_HI,
  KVMPPC_RMAP_REFERENCED_HI,
} from '../../arch/index.js';
import type { HostMm, MmuNotifier } from '../../host/mm.js';
import { E, K } from '../../trace/kinds.js';
import { NO_CAUSE } from '../../trace/recorder.js';
import type { Kvm } from '../kvm.js';
import type { Memslot } from '../types.js';
import { kvmppc_clear_ref_hpte, kvmppc_invalidate_hpte } from './rm_mmu.js';

type RmapHandler = (kvm: Kvm, slot: Memslot, off: number, gfn: number) => number;

/**
 * Call `handler` on the rmap word of every memslot page that hva falls in; OR the results.
 */
// Mirrors kvm_handle_hva() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_handle_hva(kvm: Kvm, hva: number, handler: RmapHandler): number {
  let ret = 0;
  const ps = kvm.pageSize;
  const slots = kvm.memslots;
  for (let k = 0; k < slots.length; k++) {
    const s = slots[k];
    const start = s.userspace_addr;
    if (hva >= start && hva < start + s.npages * ps) {
      const off = Math.floor((hva - start) / ps);
      ret |= handler(kvm, s, off, s.base_gfn + off);
    }
  }
  return ret;
}

/**
 * Empty the chain of one rmap word: every HPTE on it is unlinked, and each VALID one that maps
 * this gfn is made ABSENT, invalidated (global tlbie) and its R/C harvested into the rmap word and
 * guest_rpte. The guest view stays intact, so the next access faults and re-instantiates.
 */
// Mirrors kvm_unmap_rmapp() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_unmap_rmapp(kvm: Kvm, slot: Memslot, off: number, gfn: number): number {
  const rmap = slot.rmap;
  const forw = kvm.mmu.revForw;
  const back = kvm.mmu.revBack;
  const hpt = kvm.mmu.hpt;
  const grw = kvm.mmu.revGuestR;
  for (;;) {
    // 1. Chain empty → done.
    if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) break;
    // 2. Take the head (the kernel try-locks it; nothing else runs here, so it always succeeds).
    const i = rmap[off * 2 + 1];
    // 3. Unlink i.
    const j = forw[i];
    if (j === i) {
      rmap[off * 2] = (rmap[off * 2] & ~KVMPPC_RMAP_PRESENT_HI) >>> 0;
      rmap[off * 2 + 1] = 0;
    } else {
      const h = back[i];
      forw[h] = j;
      back[j] = h;
      forw[i] = i;
      back[i] = i;
      rmap[off * 2 + 1] = j;
    }
    // 4. A VALID HPTE of this page: ABSENT + invalidate, harvest R/C.
    const p = i * 4;
    const v_lo = hpt[p + 1];
    const gr_hi = grw[i * 2];
    const gr_lo = grw[i * 2 + 1];
    const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
    if ((v_lo & HPTE_V_VALID_LO) !== 0 && psize !== 0 && hpte_rpn(gr_hi, gr_lo, psize, kvm.pageShift) === gfn) {
      const rc = hpt[p + 3] & (HPTE_R_R_LO | HPTE_R_C_LO);
      rmap[off * 2] = (rmap[off * 2] | rc) >>> 0;
      grw[i * 2 + 1] = (gr_lo | rc) >>> 0;
      kvmppc_invalidate_hpte(kvm, i, hpt[p], (v_lo | HPTE_V_ABSENT_LO) >>> 0, hpt[p + 2], hpt[p + 3]);
    }
    // 5. Unlock rmap and HPTE; record the unlink with the word as it now is.
    kvm.mmu.recRmap(E.rmap_op.unlink, slot, off, i, -1, -1);
    kvm.clock.charge(kvm.clock.t.notifierHpte);
  }
  return 0;
}

/**
 * Aging: clear REFERENCED in the rmap word, and hardware R of every VALID chained HPTE that has it
 * (moving R into guest_rpte). Returns 1 if the page was referenced.
 */
// Mirrors kvm_age_rmapp() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_age_rmapp(kvm: Kvm, slot: Memslot, off: number, _gfn: number): number {
  const rmap = slot.rmap;
  let ret = 0;
  // 1. REFERENCED → young; clear it.
  if ((rmap[off * 2] & KVMPPC_RMAP_REFERENCED_HI) !== 0) {
    rmap[off * 2] = (rmap[off * 2] & ~KVMPPC_RMAP_REFERENCED_HI) >>> 0;
    ret = 1;
    kvm.mmu.recRmap(E.rmap_op.update, slot, off, -1, -1, -1);
  }
  if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) return ret;
  // 2. Walk the ring once from the head.
  const hpt = kvm.mmu.hpt;
  const forw = kvm.mmu.revForw;
  const grw = kvm.mmu.revGuestR;
  const head = rmap[off * 2 + 1];
  let i = head;
  do {
    const j = forw[i];
    const p = i * 4;
    if ((hpt[p + 3] & HPTE_R_R_LO) !== 0 && (hpt[p + 1] & HPTE_V_VALID_LO) !== 0) {
      grw[i * 2 + 1] = (grw[i * 2 + 1] | HPTE_R_R_LO) >>> 0;
      kvmppc_clear_ref_hpte(kvm, i);
      ret = 1;
    }
    i = j;
  } while (i !== head);
  return ret;
}

/** Is the page young (rmap REFERENCED, or hardware R on any chained HPTE)? No state change. */
// Mirrors kvm_test_age_rmapp() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_test_age_rmapp(kvm: Kvm, slot: Memslot, off: number, _gfn: number): number {
  const rmap = slot.rmap;
  if ((rmap[off * 2] & KVMPPC_RMAP_REFERENCED_HI) !== 0) return 1;
  if ((rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) return 0;
  const head = rmap[off * 2 + 1];
  let i = head;
  do {
    if ((kvm.mmu.hpt[i * 4 + 3] & HPTE_R_R_LO) !== 0) return 1;
    i = kvm.mmu.revForw[i];
  } while (i !== head);
  return 0;
}

// Mirrors kvm_unmap_hva() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_unmap_hva(kvm: Kvm, hva: number): number {
  if (kvm.usingMmuNotifiers) kvm_handle_hva(kvm, hva, kvm.ops.hash.unmapRmapp);
  return 0;
}

// Mirrors kvm_set_spte_hva() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_set_spte_hva(kvm: Kvm, hva: number): void {
  if (kvm.usingMmuNotifiers) kvm_handle_hva(kvm, hva, kvm.ops.hash.unmapRmapp);
}

// Mirrors kvm_age_hva() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_age_hva(kvm: Kvm, hva: number): number {
  if (!kvm.usingMmuNotifiers) return 0;
  return kvm_handle_hva(kvm, hva, kvm_age_rmapp);
}

// Mirrors kvm_test_age_hva() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
export function kvm_test_age_hva(kvm: Kvm, hva: number): number {
  if (!kvm.usingMmuNotifiers) return 0;
  return kvm_handle_hva(kvm, hva, kvm_test_age_rmapp);
}

// ---------------------------------------------------------------------------------------------
// Pre-pass: what a callback will do (for its notifier event).
// ---------------------------------------------------------------------------------------------

/** Scratch result of a pre-pass: first gfn hit (-1 if none), HPTE count, young. */
class Prepass {
  gfn = -1;
  hptes = 0;
  young = 0;
  reset(): void {
    this.gfn = -1;
    this.hptes = 0;
    this.young = 0;
  }
}

function prepassPage(kvm: Kvm, hva: number, aging: boolean, out: Prepass): void {
  const ps = kvm.pageSize;
  for (const s of kvm.memslots) {
    const start = s.userspace_addr;
    if (hva < start || hva >= start + s.npages * ps) continue;
    const off = Math.floor((hva - start) / ps);
    const gfn = s.base_gfn + off;
    if (out.gfn < 0) out.gfn = gfn;
    const w = s.rmap[off * 2];
    if (aging && (w & KVMPPC_RMAP_REFERENCED_HI) !== 0) out.young = 1;
    if ((w & KVMPPC_RMAP_PRESENT_HI) === 0) continue;
    const head = s.rmap[off * 2 + 1];
    let i = head;
    do {
      const v_lo = kvm.mmu.hpt[i * 4 + 1];
      const r_lo = kvm.mmu.hpt[i * 4 + 3];
      if (aging) {
        if ((r_lo & HPTE_R_R_LO) !== 0) {
          out.young = 1;
          if ((v_lo & HPTE_V_VALID_LO) !== 0) out.hptes++;
        }
      } else if ((v_lo & HPTE_V_VALID_LO) !== 0) {
        const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
        const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
        if (psize !== 0 && hpte_rpn(kvm.mmu.revGuestR[i * 2], gr_lo, psize, kvm.pageShift) === gfn) out.hptes++;
      }
      i = kvm.mmu.revForw[i];
    } while (i !== head);
  }
}

// ---------------------------------------------------------------------------------------------
// Generic plumbing (virt/kvm/kvm_main.c, Linux 3.4)
// ---------------------------------------------------------------------------------------------

const NK = E.notifier_kind;
const NE = E.notifier_effect;

/**
 * KVM's registration on the VMM's mm: every callback updates seq/count as kvm_main.c does and
 * calls the Book3S HV handler. The functions are also usable directly (scenarios that split an
 * invalidation to interleave an H_ENTER: invalidate_range_start, hcall, invalidate_range_end).
 */
export class KvmMmuNotifier implements MmuNotifier {
  readonly kvm: Kvm;
  /** On kvm.mm's notifier chain? (false for a seed-1 '3.3' VM, see register). */
  registered = false;
  private readonly pre = new Prepass();

  constructor(kvm: Kvm) {
    this.kvm = kvm;
  }

  /**
   * kvm_init_mmu_notifier(): register on kvm.mm. Seed 1 ('3.3'): powerpc does not define
   * KVM_ARCH_WANT_MMU_NOTIFIER before 3.4, so no notifier is registered and the VMM's page-table
   * changes never reach KVM (its pages are pinned instead); the object is returned unregistered
   * (`registered` false) so callers need no special case. Calling its callbacks directly on a 3.3
   * VM models something that kernel cannot do (the invariant audit reports it).
   */
  static register(kvm: Kvm): KvmMmuNotifier {
    const n = new KvmMmuNotifier(kvm);
    if (!kvm.ops.registersMmuNotifier) return n;
    kvm.mm.register(n);
    n.registered = true;
    return n;
  }

  // Mirrors kvm_mmu_notifier_invalidate_page() (virt/kvm/kvm_main.c, Linux 3.4)
  invalidate_page(_mm: HostMm | null, address: number, cause: number = NO_CAUSE): void {
    const kvm = this.kvm;
    const ps = kvm.pageSize;
    const n = this.begin(NK.invalidate_page, address, address + ps, 1, 0, false, cause);
    kvm.mmu_notifier_seq++;
    kvm_unmap_hva(kvm, address);
    this.end(NK.invalidate_page, n);
  }

  // Mirrors kvm_mmu_notifier_change_pte() (virt/kvm/kvm_main.c, Linux 3.4)
  change_pte(_mm: HostMm | null, address: number, cause: number = NO_CAUSE): void {
    const kvm = this.kvm;
    const n = this.begin(NK.change_pte, address, address + kvm.pageSize, 1, 0, false, cause);
    kvm.mmu_notifier_seq++;
    kvm_set_spte_hva(kvm, address);
    this.end(NK.change_pte, n);
  }

  // Mirrors kvm_mmu_notifier_invalidate_range_start() (virt/kvm/kvm_main.c, Linux 3.4)
  invalidate_range_start(_mm: HostMm | null, start: number, end: number, cause: number = NO_CAUSE): void {
    const kvm = this.kvm;
    const n = this.begin(NK.range_start, start, end, 0, 1, false, cause);
    kvm.mmu_notifier_count++;
    for (let a = start; a < end; a += kvm.pageSize) kvm_unmap_hva(kvm, a);
    this.end(NK.range_start, n);
  }

  // Mirrors kvm_mmu_notifier_invalidate_range_end() (virt/kvm/kvm_main.c, Linux 3.4)
  invalidate_range_end(_mm: HostMm | null, start: number, end: number, cause: number = NO_CAUSE): void {
    const kvm = this.kvm;
    if (kvm.mmu_notifier_count <= 0) throw new Error('kvm_mmu_notifier_invalidate_range_end: mmu_notifier_count would go negative (BUG_ON)');
    const n = this.begin(NK.range_end, start, end, 1, -1, null, cause);
    kvm.mmu_notifier_seq++;
    kvm.mmu_notifier_count--;
    this.end(NK.range_end, n);
  }

  // Mirrors kvm_mmu_notifier_clear_flush_young() (virt/kvm/kvm_main.c, Linux 3.4)
  clear_flush_young(_mm: HostMm | null, address: number, cause: number = NO_CAUSE): number {
    const kvm = this.kvm;
    const n = this.begin(NK.clear_flush_young, address, address + kvm.pageSize, 0, 0, true, cause);
    const young = kvm_age_hva(kvm, address);
    this.end(NK.clear_flush_young, n);
    return young;
  }

  // Mirrors kvm_mmu_notifier_test_young() (virt/kvm/kvm_main.c, Linux 3.4)
  test_young(_mm: HostMm | null, address: number, cause: number = NO_CAUSE): number {
    const kvm = this.kvm;
    const n = this.begin(NK.test_young, address, address + kvm.pageSize, 0, 0, true, cause, true);
    const young = kvm_test_age_hva(kvm, address);
    this.end(NK.test_young, n);
    return young;
  }

  /** kvm_arch_flush_shadow() is empty on powerpc in 3.4: nothing happens. */
  // Mirrors kvm_mmu_notifier_release() (virt/kvm/kvm_main.c, Linux 3.4)
  release(_mm: HostMm | null, cause: number = NO_CAUSE): void {
    const n = this.begin(NK.release, 0, 0, 0, 0, null, cause);
    this.end(NK.release, n);
  }

  /**
   * Record the notifier event (after values of seq/count given as deltas) and open the operation.
   * `aging`: true = age pre-pass, false = unmap pre-pass, null = none. Returns the event seq.
   */
  private begin(
    kind: number,
    start: number,
    end: number,
    dSeq: number,
    dCount: number,
    aging: boolean | null,
    cause: number,
    testOnly = false,
  ): number {
    const kvm = this.kvm;
    const pre = this.pre;
    pre.reset();
    const rec = kvm.rec;
    let seq = NO_CAUSE;
    if (rec.enabled) {
      if (aging !== null && kvm.usingMmuNotifiers) {
        for (let a = start; a < end; a += kvm.pageSize) prepassPage(kvm, a, aging, pre);
      } else {
        // Still report the first gfn of the range.
        for (const s of kvm.memslots) {
          const ua = s.userspace_addr;
          if (start < ua + s.npages * kvm.pageSize && end > ua) {
            const first = Math.max(start, ua);
            pre.gfn = s.base_gfn + Math.floor((first - ua) / kvm.pageSize);
            break;
          }
        }
      }
      let effect: number;
      // Notifiers off (PPC970, §F.2 / §J 12): the generic seq/count bookkeeping still runs, but every
      // Book3S callback is a no-op on pinned pages: recorded as noop_pinned with no HPTEs touched.
      if (!kvm.usingMmuNotifiers) effect = NE.noop_pinned;
      else if (aging === null) effect = NE.none;
      else if (aging) effect = testOnly ? (pre.young ? NE.young : NE.not_young) : pre.young ? NE.aged : NE.not_young;
      else effect = pre.hptes > 0 ? NE.invalidated : NE.none;
      seq = rec.emit(K.notifier, kvm.lpid, -1, -1, cause)
        .callback(kind)
        .hva_start(start)
        .hva_end(end)
        .gfn(pre.gfn)
        .effect(effect)
        .hptes(testOnly ? 0 : pre.hptes)
        .mmu_seq(kvm.mmu_notifier_seq + dSeq)
        .mmu_count(kvm.mmu_notifier_count + dCount).seq;
    }
    kvm.setCtx(-1, -1, seq);
    // The callback's own work (SRCU, mmu_lock, the memslot walk) follows its event.
    kvm.clock.charge(kvm.clock.t.notifier);
    const obs = kvm.observer;
    if (obs !== null) obs.opBegin(kvm, -1 - kind, null);
    return seq;
  }

  private end(kind: number, _seq: number): void {
    const kvm = this.kvm;
    kvm.clearCtx();
    const obs = kvm.observer;
    if (obs !== null) obs.opEnd(kvm, -1 - kind, 0, null);
  }
}
