// The hash MMU of a partition (Book3S HV with an HPT): everything the kernel keeps in kvm->arch
// for a hash guest — the HPT, its revmap, SDR1, the VRMA segment — held by Kvm as `kvm.mmu`, the
// way Linux 4.20 chooses per VM between the hash and the radix MMU (kvm->arch.radix). A radix MMU
// (partition-scoped page table, no HPT, no revmap) would be a second class beside this one, in
// kvm/radix/; the hash paths (this folder) reach their state through kvm.mmu.
//
// HashMmu is also the hardware's HashPageTableVhyp (hw/vhyp.ts, QEMU's cpu->vhyp): the machine
// hands `kvm.mmu` to the core's MmuContext at every partition switch, so the hardware reads this
// HPT in place and stores R/C back through hpteSetRC, which records it. The hash-only recorded
// primitives (one HPTE write, one tlbie of an HPTE, one rmap change) live here, next to the state
// they change; what they need of the VM (LPID, recorder, recording context, TLB port, observer) is
// the narrow HashMmuOwner below, which Kvm implements (no import of kvm.ts: no cycle).
//
// Storage (all typed arrays, allocated once):
//   hpt        Uint32Array, 4 words per HPTE: [v_hi, v_lo, r_hi, r_lo] (kernel: big-endian u64 pair)
//   revGuestR  Uint32Array, 2 words per HPTE: revmap[i].guest_rpte as [hi, lo]
//   revForw    Uint32Array, revmap[i].forw
//   revBack    Uint32Array, revmap[i].back

import {
  compute_tlbie_rb,
  hpt_geometry,
  type HptGeometry,
  HPTE_V_VALID_LO,
  hpte_page_size,
  hpte_rpn,
  SLB_VSID_B_1T_HI,
  VRMA_VSID_LO,
} from '../../arch/index.js';
import type { Clock } from '../../arch/timing.js';
import { HostPage } from '../../host/gup.js';
import type { TlbPort } from '../../hw/tlb.js';
import type { HashPageTableVhyp } from '../../hw/vhyp.js';
import { E, K } from '../../trace/kinds.js';
import type { Recorder } from '../../trace/recorder.js';
import { recordTlbie } from '../../trace/writers.js';
import type { Memslot } from '../types.js';

/**
 * What the hash MMU's observer sees (the hash part of KvmObserver, kvm.ts): `owner` is the VM
 * (the Kvm that owns this MMU).
 */
export interface HashMmuObserver {
  hpteWrite(owner: HashMmuOwner, i: number, ov_hi: number, ov_lo: number, or_hi: number, or_lo: number): void;
  tlbie(owner: HashMmuOwner, rb_hi: number, rb_lo: number, local: boolean): void;
}

/**
 * What the hash MMU needs of the VM that owns it (Kvm implements this). lpid, rec, arch206 and
 * pageShift are set before the VM creates its MMU and never change.
 */
export interface HashMmuOwner {
  readonly lpid: number;
  readonly rec: Recorder;
  /** cpu_has_feature(CPU_FTR_ARCH_206): page-size and RB forms. */
  readonly arch206: boolean;
  /** Host PAGE_SHIFT (guest frames in the guest view are in these units). */
  readonly pageShift: number;
  /** The hardware TLBs KVM's tlbies reach. */
  readonly tlb: TlbPort;
  /** The run's clock (arch/timing.ts): a tlbie charges its cost. */
  readonly clock: Clock;
  /** Recording context of the operation in progress. */
  readonly ctxVcpu: number;
  readonly ctxCore: number;
  readonly ctxCause: number;
  readonly observer: HashMmuObserver | null;
}

export class HashMmu implements HashPageTableVhyp {
  /** kvm->arch.radix = 0: this is the hash MMU. */
  readonly radix = false;
  readonly geom: HptGeometry;
  readonly npte: number;
  readonly hpt: Uint32Array;
  readonly revGuestR: Uint32Array;
  readonly revForw: Uint32Array;
  readonly revBack: Uint32Array;
  /** SDR1 as (hi, lo) = __pa(hpt) | (order - 18). */
  readonly sdr1Hi: number;
  readonly sdr1Lo: number;
  /**
   * kvm->arch.vrma_slb_v as (hi, lo): kvmppc_core_init_vm gives a POWER7 VM B_1T | VRMA_VSID << 24
   * (senc 0); kvmppc_hv_setup_rma puts the VRMA page-size encoding in (vrma.ts).
   */
  vrma_slb_vHi: number;
  vrma_slb_vLo: number;
  /** Result of the VRMA set-up: HPTEs created, and the index at which H_ENTER failed (-1 none). */
  vrma_hptes = 0;
  vrma_failed_index = -1;
  vrma_failed_ret = 0;
  /** get_user_pages_fast result of the virtual-mode page fault in progress (reused, page_fault.ts). */
  readonly faultPage = new HostPage();

  /**
   * HashPageTableVhyp.lpid / arch206 / rec: the owner's, copied at creation (fixed for the VM's
   * lifetime) so that the hardware's translation reads plain fields.
   */
  readonly lpid: number;
  readonly arch206: boolean;
  readonly rec: Recorder;
  /** The VM this MMU belongs to (recording context, TLB port, observer: read at each call). */
  private readonly owner: HashMmuOwner;
  /** Scratch for the tlbie RB: never escapes a call. */
  private readonly rb = new Uint32Array(2);

  // Mirrors the HPT part of kvmppc_alloc_hpt() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
  constructor(owner: HashMmuOwner, order: number, base: number) {
    this.owner = owner;
    this.lpid = owner.lpid;
    this.arch206 = owner.arch206;
    this.rec = owner.rec;
    this.geom = hpt_geometry(order);
    this.npte = this.geom.npte;
    // HPT (zeroed: __GFP_ZERO) and revmap (vmalloc'd, not zeroed, in the kernel; zero here).
    this.hpt = new Uint32Array(this.npte * 4);
    this.revGuestR = new Uint32Array(this.npte * 2);
    this.revForw = new Uint32Array(this.npte);
    this.revBack = new Uint32Array(this.npte);
    // SDR1 = __pa(hpt) | (order - 18).
    if (base % this.geom.bytes !== 0) throw new RangeError('hptBase must be aligned to the HPT size');
    this.sdr1Hi = Math.floor(base / 0x1_0000_0000) >>> 0;
    this.sdr1Lo = ((base >>> 0) | this.geom.htabsize) >>> 0;
    this.vrma_slb_vHi = (SLB_VSID_B_1T_HI | (VRMA_VSID_LO >>> 8)) >>> 0;
    this.vrma_slb_vLo = ((VRMA_VSID_LO & 0xff) << 24) >>> 0;
  }

  // -------------------------------------------------------------------------------------------
  // HashPageTableVhyp (the hardware's view)
  // -------------------------------------------------------------------------------------------

  /** PTEG index mask (HashPageTableVhyp.hashMask). */
  get hashMask(): number {
    return this.geom.hashMask;
  }

  /**
   * The hardware's R/C store into dword 1 of HPTE `index` (HashPageTableVhyp.hpteSetRC): recorded
   * as an hpte_write exactly like setHpte, but *not* reported to the observer — it is not a KVM
   * operation (the checker's per-operation rules, e.g. "a changed VALID HPTE needs a tlbie", are
   * about KVM's writes; the hardware's R/C writes never need one).
   */
  // Mirrors ppc_hash64_store_hpte() of step 6 of ppc_hash64_handle_mmu_fault() (target/ppc/mmu-hash64.c, QEMU)
  hpteSetRC(index: number, r_lo: number, vcpu: number, core: number, cause: number): void {
    const h = this.hpt;
    const p = index * 4;
    const orl = h[p + 3];
    h[p + 3] = r_lo >>> 0;
    this.recordHpteWrite(index, h[p], h[p + 1], h[p + 2], orl, vcpu, core, cause);
  }

  /** Guest frame of HPTE `index` in the revmap guest view (HashPageTableVhyp.guestGfnOf), -1 if none. */
  guestGfnOf(index: number): number {
    const gr_lo = this.revGuestR[index * 2 + 1];
    const psize = hpte_page_size(this.hpt[index * 4 + 1], gr_lo, this.owner.arch206);
    return psize === 0 ? -1 : hpte_rpn(this.revGuestR[index * 2], gr_lo, psize, this.owner.pageShift);
  }

  // -------------------------------------------------------------------------------------------
  // Recorded primitives (KVM's changes to the hash state)
  // -------------------------------------------------------------------------------------------

  /**
   * Write HPTE i = (v, r), record hpte_write (old, new, guest_rpte now) and tell the observer.
   * Callers update guest_rpte first, so the event carries the guest view after the operation.
   */
  setHpte(i: number, v_hi: number, v_lo: number, r_hi: number, r_lo: number): void {
    const h = this.hpt;
    const p = i * 4;
    const ovh = h[p];
    const ovl = h[p + 1];
    const orh = h[p + 2];
    const orl = h[p + 3];
    h[p] = v_hi;
    h[p + 1] = v_lo;
    h[p + 2] = r_hi;
    h[p + 3] = r_lo;
    const owner = this.owner;
    this.recordHpteWrite(i, ovh, ovl, orh, orl, owner.ctxVcpu, owner.ctxCore, owner.ctxCause);
    const o = owner.observer;
    if (o !== null) o.hpteWrite(owner, i, ovh, ovl, orh, orl);
  }

  /** The one writer of hpte_write events: HPTE i was (ov, or) and now holds what the HPT holds. */
  private recordHpteWrite(i: number, ovh: number, ovl: number, orh: number, orl: number, vcpu: number, core: number, cause: number): void {
    const owner = this.owner;
    const rec = owner.rec;
    if (!rec.enabled) return;
    const h = this.hpt;
    const p = i * 4;
    rec
      .emit(K.hpte_write, owner.lpid, vcpu, core, cause)
      .hpte_index(i)
      .old_v(ovh, ovl)
      .old_r(orh, orl)
      .new_v(h[p], h[p + 1])
      .new_r(h[p + 2], h[p + 3])
      .guest_r(this.revGuestR[i * 2], this.revGuestR[i * 2 + 1]);
  }

  /**
   * tlbie (global, under tlbie_lock) or tlbiel (local) of HPTE i whose dword 0 was (v) and dword 1
   * (r): RB = compute_tlbie_rb(v, r, i). Records a `tlbie` event.
   */
  tlbie(v_hi: number, v_lo: number, r_lo: number, i: number, local: boolean): void {
    const owner = this.owner;
    const t = this.rb;
    compute_tlbie_rb(v_hi, v_lo, r_lo, i, owner.arch206, t, 0);
    const rec = owner.rec;
    if (rec.enabled) {
      recordTlbie(rec, owner.lpid, owner.ctxVcpu, owner.ctxCore, owner.ctxCause, t[0], t[1], local ? E.tlb_scope.local : E.tlb_scope.global, 0);
    }
    owner.tlb.tlbie(owner.lpid, owner.ctxCore, t[0], t[1], local);
    // tlbie; eieio; tlbsync; ptesync (global) or tlbiel; ptesync (local), after its event.
    const clock = owner.clock;
    clock.charge(local ? clock.t.tlbielEntry : clock.t.tlbieGlobal);
    const o = owner.observer;
    if (o !== null) o.tlbie(owner, t[0], t[1], local);
  }

  /** Record an rmap_change for slot page `off` (gfn = base + off). index/forw/back -1 for none. */
  recRmap(op: number, slot: Memslot, off: number, index: number, forw: number, back: number): void {
    const owner = this.owner;
    const rec = owner.rec;
    if (!rec.enabled) return;
    rec.emit(K.rmap_change, owner.lpid, owner.ctxVcpu, owner.ctxCore, owner.ctxCause)
      .op(op)
      .gfn(slot.base_gfn + off)
      .hpte_index(index)
      .rmap(slot.rmap[off * 2], slot.rmap[off * 2 + 1])
      .forw(forw)
      .back(back);
  }

  // -------------------------------------------------------------------------------------------
  // Plain accessors (tests, checkers, scenario code)
  // -------------------------------------------------------------------------------------------

  /** HPTE i as bigints [v, r] (edge use). */
  hpteBig(i: number): [bigint, bigint] {
    const h = this.hpt;
    const p = i * 4;
    return [(BigInt(h[p]) << 32n) | BigInt(h[p + 1]), (BigInt(h[p + 2]) << 32n) | BigInt(h[p + 3])];
  }

  guestRBig(i: number): bigint {
    return (BigInt(this.revGuestR[i * 2]) << 32n) | BigInt(this.revGuestR[i * 2 + 1]);
  }

  isValid(i: number): boolean {
    return (this.hpt[i * 4 + 1] & HPTE_V_VALID_LO) !== 0;
  }
}
