// struct kvm for Book3S HV: the LPID, the hashed page table, the revmap, the memslots with their
// rmap words, and the MMU-notifier counters; plus the recorded primitives every modelled path uses
// to change them (one HPTE write, one tlbie, one rmap change), so that recording, and the optional
// observer used by the invariant checker, cannot be forgotten on any path.
//
// Storage (all typed arrays, allocated once):
//   hpt        Uint32Array, 4 words per HPTE: [v_hi, v_lo, r_hi, r_lo] (kernel: big-endian u64 pair)
//   revGuestR  Uint32Array, 2 words per HPTE: revmap[i].guest_rpte as [hi, lo]
//   revForw    Uint32Array, revmap[i].forw
//   revBack    Uint32Array, revmap[i].back
//   slot.rmap  Uint32Array, 2 words per host page of the slot: [hi, lo] of the rmap word
//              (hi: LOCK 0x80000000, REFERENCED 0x100, CHANGED 0x80, PRESENT 0x1; lo: INDEX)
// HVLOCK and the rmap lock bit are never left set: the model runs one path at a time, so every
// lock the kernel takes is released before the modelled function returns (kernel-model §J.2).
//
// Versions and CPUs: `kernel` selects Linux 3.4 or 4.20 behaviour where this model implements the
// difference (today: H_CLEAR_REF / H_CLEAR_MOD, see rm_mmu.ts), or the Linux 3.1–3.3 "seed 1"
// memory model ('3.3', POWER7 only: 16 MiB chunks pinned into ram_pginfo at region registration,
// no ABSENT, no revmap/rmap, no notifiers; see seed1.ts); `cpu` selects POWER7 (ARCH_206,
// using_mmu_notifiers = 1) or PPC970 (ARCH_201, using_mmu_notifiers = 0: 6-bit LPIDs, HID4 instead
// of the LPCR, guest pages pinned through slot_phys, see slot_phys.ts; kernel-model §G.5).

import {
  compute_tlbie_rb,
  hpt_geometry,
  type HptGeometry,
  HPTE_V_VALID_LO,
  hpte_page_size,
  hpte_rpn,
  LPCR_HDICE_LO,
  LPCR_LPES_LO,
  LPCR_PECE_LO,
  LPCR_VPM0_HI,
  LPCR_VPM1_HI,
  LPCR_VRMA_L_HI,
  LPCR_DPFD_SH,
  hid4_set_lpid,
  LPID_RSVD,
  MAX_LPID_970,
  NR_LPIDS,
  PPC_MIN_HPT_ORDER,
} from '../arch/index.js';
import type { HostMm } from '../host/mm.js';
import type { HashPageTableVhyp } from '../hw/vhyp.js';
import { E, K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import { recordTlbie } from '../trace/writers.js';
import { KvmppcPginfo, kvmppc_core_destroy_vm_33 } from './seed1.js';
import { type SlotPhys, unpin_slot } from './slot_phys.js';

/** Largest HPT order this model allocates: 2^28 bytes of HPT plus as much again of revmap. */
export const KVM_MAX_MODEL_HPT_ORDER = 28;

// include/linux/kvm.h and include/linux/kvm_host.h (Linux 3.4): memslot flags.
/** Userspace asked for dirty logging on this slot. */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
/** Slot being deleted or moved: every lookup treats it as "no slot". */
export const KVM_MEMSLOT_INVALID = 1 << 16;
/** KVM_MEM_SLOTS_NUM as kvm->arch.slot_phys[] is sized (= KVM_MEMORY_SLOTS in memslot.ts; no private slots on ppc). */
export const KVM_MEM_SLOTS_NUM = 32;

/** '3.3' = the seed-1 model (Linux 3.1–3.3, kernel-model §C.5); '3.4' and '4.20' as documented there. */
export type KernelVersion = '3.3' | '3.4' | '4.20';
export type CpuModel = 'power7' | 'ppc970';

/** What hcalls and notifiers record as the vcpu/core of their events. */
export interface KvmVcpuRef {
  readonly vcpu_id: number;
  /** Physical core the vcpu runs on (event `core` column); -1 if none. */
  readonly core: number;
}

/**
 * Sees every state change of the VM as it happens (the invariant checker's operation-level checks
 * use this; a TLB model could too). All values are 32-bit halves; nothing is allocated per call.
 */
export interface KvmObserver {
  /**
   * An hcall (nr > 0), a notifier callback (nr = -1 - notifier_kind) or a KVM-internal HPT update
   * that is neither (nr = 0: kvmppc_map_vrma of seed 1) begins; regs = r4..r11 in (null if none).
   */
  opBegin(kvm: Kvm, nr: number, regs: Uint32Array | null): void;
  /** HPTE i changed from (ov, or) to the values now in kvm.hpt; guest_rpte is already final. */
  hpteWrite(kvm: Kvm, i: number, ov_hi: number, ov_lo: number, or_hi: number, or_lo: number): void;
  /** A tlbie (local = tlbiel) for the given RB was issued on kvm.lpid. */
  tlbie(kvm: Kvm, rb_hi: number, rb_lo: number, local: boolean): void;
  /** The operation finished; ret = H_* for hcalls (0 for notifiers), regs = r4..r11 out. */
  opEnd(kvm: Kvm, nr: number, ret: number, regs: Uint32Array | null): void;
  /**
   * For a virtual-mode page fault path (kvmppc_book3s_hv_page_fault, not modelled in this
   * directory yet): called at its commit point, before it writes, with its snapshot
   * snap = [v_hi, v_lo, r_hi, r_lo, gr_hi, gr_lo] of HPTE `index` and whether it commits.
   */
  faultCommit?(kvm: Kvm, index: number, snap: Uint32Array, committed: boolean): void;
}

/** The guest-physical memory slot (struct kvm_memory_slot, Linux 3.4) with its rmap words. */
export class Memslot {
  readonly id: number;
  readonly base_gfn: number;
  /** Host pages (PAGE_SIZE units). */
  readonly npages: number;
  flags: number;
  readonly userspace_addr: number;
  /** rmap word per page: [hi, lo] pairs. */
  readonly rmap: Uint32Array;
  /** Dirty bitmap (one byte per page here), only with KVM_MEM_LOG_DIRTY_PAGES. */
  readonly dirty: Uint8Array | null;

  constructor(id: number, base_gfn: number, npages: number, flags: number, userspace_addr: number) {
    this.id = id;
    this.base_gfn = base_gfn;
    this.npages = npages;
    this.flags = flags;
    this.userspace_addr = userspace_addr;
    this.rmap = new Uint32Array(npages * 2);
    this.dirty = (flags & KVM_MEM_LOG_DIRTY_PAGES) !== 0 ? new Uint8Array(npages) : null;
  }
}

/**
 * The LPID bitmap (lpid_inuse in book3s_64_mmu_hv.c). One per simulated host: VMs created against
 * the same allocator get distinct LPIDs. The host LPID (0) and the reserved one are pre-set.
 */
// Mirrors lpid_inuse / kvmppc_mmu_hv_init() (book3s_64_mmu_hv.c, Linux 3.4)
export class LpidAllocator {
  private readonly inuse = new Uint8Array(NR_LPIDS);
  constructor(hostLpid = 0, rsvdLpid = LPID_RSVD) {
    this.inuse[hostLpid] = 1;
    this.inuse[rsvdLpid] = 1;
  }

  /**
   * The allocator a host of this CPU sets up (kvmppc_mmu_hv_init): POWER7 pre-sets the host LPID
   * (0 in the model) and LPID_RSVD 0x3ff; PPC970 pre-sets 0 and MAX_LPID_970 (63).
   */
  static forCpu(cpu: CpuModel, hostLpid = 0): LpidAllocator {
    return new LpidAllocator(cpu === 'ppc970' ? 0 : hostLpid, cpu === 'ppc970' ? MAX_LPID_970 : LPID_RSVD);
  }

  /**
   * find_first_zero_bit + test_and_set_bit. `maxLpid` bounds the search (inclusive); Kvm passes
   * MAX_LPID_970 - 1 = 62 on PPC970. Linux 3.4 itself searches all NR_LPIDS bits on both CPUs, so
   * a 63rd concurrent PPC970 guest would get LPID 64, which does not fit HID4's 6-bit LPID field
   * (kernel-model §J 24 requires ≤ 62; the model enforces it and throws "No LPIDs free" instead).
   */
  alloc(maxLpid: number = NR_LPIDS - 1): number {
    const inuse = this.inuse;
    for (let i = 0; i <= maxLpid && i < inuse.length; i++) {
      if (inuse[i] === 0) {
        inuse[i] = 1;
        return i;
      }
    }
    throw new Error('kvm_alloc_hpt: No LPIDs free');
  }

  /** Is lpid allocated (or pre-set)? */
  inUse(lpid: number): boolean {
    return this.inuse[lpid] === 1;
  }
  free(lpid: number): void {
    this.inuse[lpid] = 0;
  }
}

export interface KvmOptions {
  /** The VMM process (current->mm at VM creation): host page tables + notifier chain. */
  readonly mm: HostMm;
  readonly rec: Recorder;
  /** log2 HPT bytes, 18..KVM_MAX_MODEL_HPT_ORDER. Linux 3.4 itself only has 24 (HPT_ORDER). */
  readonly hptOrder?: number;
  readonly kernel?: KernelVersion;
  readonly cpu?: CpuModel;
  readonly lpids?: LpidAllocator;
  /** Emulator VM number (vm_create.vm_id). */
  readonly vmId?: number;
  /** Host LPCR, whose PECE and LPES bits the guest LPCR inherits. */
  readonly hostLpcrLo?: number;
  /** Physical address of the HPT for SDR1 (aligned to its size). Default: 2^order * (vmId + 1). */
  readonly hptBase?: number;
  /**
   * PPC970: the host's HID4 (mfspr(SPRN_HID4) in kvmppc_core_init_vm), into which the guest LPID is
   * inserted. Default 0 [UNVERIFIED: a real 970 host's HID4 value is not in the spec].
   */
  readonly hostHid4?: bigint;
}

export class Kvm implements HashPageTableVhyp {
  readonly mm: HostMm;
  readonly rec: Recorder;
  readonly kernel: KernelVersion;
  readonly cpu: CpuModel;
  /** cpu_has_feature(CPU_FTR_ARCH_206). */
  readonly arch206: boolean;
  /** kvm->arch.using_mmu_notifiers (false for '3.3', which has no MMU-notifier support at all). */
  readonly usingMmuNotifiers: boolean;
  /**
   * Seed 1 ('3.3') only: kvm->arch.ram_pginfo[] with ram_npages etc. (seed1.ts); null otherwise.
   */
  readonly ram_pginfo: KvmppcPginfo | null;
  /** Host PAGE_SHIFT (rmap and memslots are in these units; HPTE RPNs are always 4K units). */
  readonly pageShift: number;
  readonly lpid: number;
  readonly vmId: number;
  readonly geom: HptGeometry;
  readonly npte: number;
  /** SDR1 as (hi, lo). */
  readonly sdr1Hi: number;
  readonly sdr1Lo: number;
  /**
   * kvm->arch.lpcr as (hi, lo): the guest LPCR on POWER7 (K34: host PECE|LPES, DPFD 4, HDICE, VPM0,
   * VPM1), the guest HID4 on PPC970 (host HID4 with the LPID split field; RMLS/RMOR are added by
   * kvmppc_hv_setup_rma_970 at first run, which is why these are not readonly).
   */
  lpcrHi: number;
  lpcrLo: number;

  readonly hpt: Uint32Array;
  readonly revGuestR: Uint32Array;
  readonly revForw: Uint32Array;
  readonly revBack: Uint32Array;

  /** Memslots in lookup order. */
  readonly memslots: Memslot[] = [];
  mmu_notifier_seq = 0;
  mmu_notifier_count = 0;
  /** atomic_read(&kvm->online_vcpus): decides tlbie vs tlbiel. */
  online_vcpus = 1;
  /**
   * kvm->arch.slot_phys[slot id] (PPC970 / notifiers off only; all null on POWER7). Allocated by
   * kvmppc_core_prepare_memory_region, emptied by unpin_slot at destroy (slot_phys.ts).
   */
  readonly slot_phys: (SlotPhys | null)[] = new Array<SlotPhys | null>(KVM_MEM_SLOTS_NUM).fill(null);
  /**
   * seq of the hcall_enter of the last kvmppc_hcall that returned H_TOO_HARD to be finished in
   * host virtual mode (kvmppc_hcall_virtmode takes it as its cause), else NO_CAUSE.
   */
  pendingHcallEnter = NO_CAUSE;
  /** hcall number left for kvmppc_hcall_virtmode by the last kvmppc_hcall, or 0. */
  pendingHcallNr = 0;
  /** destroy() ran. */
  destroyed = false;

  observer: KvmObserver | null = null;

  // Recording context of the operation in progress.
  ctxVcpu = -1;
  ctxCore = -1;
  ctxCause = NO_CAUSE;

  /** Scratch for 64-bit temporaries (rb, readonly r, ...): never escapes a call. */
  readonly tmp = new Uint32Array(8);
  /** H_BULK_REMOVE batch scratch (at most H_BULK_REMOVE_MAX_BATCH = 4 entries). */
  readonly bulkIndex = new Int32Array(4);
  readonly bulkReg = new Int32Array(4);
  readonly bulkV = new Uint32Array(8);
  readonly bulkR = new Uint32Array(8);
  readonly bulkRc = new Uint32Array(4);

  private readonly lpids: LpidAllocator;

  // Mirrors kvmppc_alloc_hpt() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
  constructor(opts: KvmOptions) {
    const order = opts.hptOrder ?? 24;
    // 1. Geometry. The model keeps the HPT and revmap in JS typed arrays, so cap the order.
    if (!Number.isInteger(order) || order < PPC_MIN_HPT_ORDER || order > KVM_MAX_MODEL_HPT_ORDER) {
      throw new RangeError(
        `HPT order ${order} not supported: the model allocates the HPT (2^order bytes) and revmap in memory; ` +
          `use ${PPC_MIN_HPT_ORDER}..${KVM_MAX_MODEL_HPT_ORDER}`,
      );
    }
    this.cpu = opts.cpu ?? 'power7';
    if (this.cpu !== 'power7' && this.cpu !== 'ppc970') throw new Error(`cpu '${String(this.cpu)}' is not modelled`);
    this.kernel = opts.kernel ?? '3.4';
    if (this.kernel !== '3.3' && this.kernel !== '3.4' && this.kernel !== '4.20') throw new Error(`kernel '${String(this.kernel)}' is not modelled`);
    if (this.cpu === 'ppc970' && this.kernel === '4.20') throw new Error('PPC970 support was removed before Linux 4.20: use kernel 3.4');
    if (this.cpu === 'ppc970' && this.kernel === '3.3') {
      throw new Error('PPC970 under Linux 3.3 (RMA from a kvm_rma_fops mapping at region registration) is not modelled: use kernel 3.4');
    }
    // kvm->arch.using_mmu_notifiers = !!cpu_has_feature(CPU_FTR_ARCH_206) (K34); seed 1 has none.
    this.arch206 = this.cpu === 'power7';
    this.usingMmuNotifiers = this.arch206 && this.kernel !== '3.3';
    // Seed 1: kvmppc_core_init_vm kzalloc's ram_pginfo[1 << (MAX_MEM_ORDER - LARGE_PAGE_ORDER)].
    this.ram_pginfo = this.kernel === '3.3' ? new KvmppcPginfo() : null;
    this.mm = opts.mm;
    this.rec = opts.rec;
    this.pageShift = opts.mm.pageShift;
    this.geom = hpt_geometry(order);
    this.npte = this.geom.npte;
    // 2. HPT (zeroed: __GFP_ZERO) and revmap (vmalloc'd, not zeroed, in the kernel; zero here).
    this.hpt = new Uint32Array(this.npte * 4);
    this.revGuestR = new Uint32Array(this.npte * 2);
    this.revForw = new Uint32Array(this.npte);
    this.revBack = new Uint32Array(this.npte);
    // 3. LPID (6 bits on PPC970, 63 reserved: at most 62).
    this.lpids = opts.lpids ?? LpidAllocator.forCpu(this.cpu);
    this.lpid = this.lpids.alloc(this.arch206 ? NR_LPIDS - 1 : MAX_LPID_970 - 1);
    this.vmId = opts.vmId ?? 0;
    // 4. SDR1 = __pa(hpt) | (order - 18).
    const base = opts.hptBase ?? this.geom.bytes * (this.vmId + 1);
    if (base % this.geom.bytes !== 0) throw new RangeError('hptBase must be aligned to the HPT size');
    this.sdr1Hi = Math.floor(base / 0x1_0000_0000) >>> 0;
    this.sdr1Lo = ((base >>> 0) | this.geom.htabsize) >>> 0;
    // 5. kvm->arch.lpcr (kvmppc_core_init_vm, K34): POWER7 guest LPCR; PPC970 host HID4 with the
    //    guest LPID in its split field (lpid >> 4 at LPID1, lpid & 0xf at LPID5).
    if (this.arch206 && this.kernel === '3.3') {
      // Seed 1 (kvmppc_core_init_vm, Linux 3.3): VRMA with 16 MiB pages (VRMA_L), no VPM1, so
      // guest storage faults go to the guest (all its pages are pinned).
      const host = opts.hostLpcrLo ?? 0;
      this.lpcrHi = (LPCR_VPM0_HI | LPCR_VRMA_L_HI | (4 << (LPCR_DPFD_SH - 32))) >>> 0;
      this.lpcrLo = ((host & (LPCR_PECE_LO | LPCR_LPES_LO)) | LPCR_HDICE_LO) >>> 0;
    } else if (this.arch206) {
      const host = opts.hostLpcrLo ?? 0;
      this.lpcrHi = (LPCR_VPM0_HI | LPCR_VPM1_HI | (4 << (LPCR_DPFD_SH - 32))) >>> 0;
      this.lpcrLo = ((host & (LPCR_PECE_LO | LPCR_LPES_LO)) | LPCR_HDICE_LO) >>> 0;
    } else {
      const hid4 = hid4_set_lpid(BigInt.asUintN(64, opts.hostHid4 ?? 0n), this.lpid);
      this.lpcrHi = Number(hid4 >> 32n) >>> 0;
      this.lpcrLo = Number(hid4 & 0xffffffffn) >>> 0;
    }

    const rec = this.rec;
    rec.emit(K.vm_create, this.lpid, -1, -1, NO_CAUSE)
      .hpt_order(order)
      .sdr1(this.sdr1Hi, this.sdr1Lo)
      .lpcr(this.lpcrHi, this.lpcrLo)
      .vm_id(this.vmId);
  }

  /**
   * VM destroy: without notifiers, unpin_slot() for every slot (SetPageDirty + put_page of each
   * GOT_PAGE entry, recorded as host_page unpin); seed 1 ('3.3') instead puts every ram_pginfo
   * page (kvmppc_core_destroy_vm_33). Then kvmppc_free_hpt() releases the LPID.
   * A second call does nothing.
   */
  // Mirrors kvmppc_core_destroy_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.kernel === '3.3') kvmppc_core_destroy_vm_33(this);
    else if (!this.usingMmuNotifiers) for (let i = 0; i < KVM_MEM_SLOTS_NUM; i++) unpin_slot(this, i);
    this.lpids.free(this.lpid);
  }

  /** PAGE_SIZE of the host. */
  get pageSize(): number {
    return 2 ** this.pageShift;
  }

  // -------------------------------------------------------------------------------------------
  // Memslot lookups
  // -------------------------------------------------------------------------------------------

  /** __gfn_to_memslot(): the slot containing gfn (including INVALID ones), or null. */
  // Mirrors __gfn_to_memslot() (include/linux/kvm_host.h / kvm_main.c, Linux 3.4)
  gfn_to_memslot(gfn: number): Memslot | null {
    const slots = this.memslots;
    for (let k = 0; k < slots.length; k++) {
      const s = slots[k];
      if (gfn >= s.base_gfn && gfn < s.base_gfn + s.npages) return s;
    }
    return null;
  }

  /** The slot containing gfn if it is usable (not KVM_MEMSLOT_INVALID), else null. */
  valid_memslot(gfn: number): Memslot | null {
    const s = this.gfn_to_memslot(gfn);
    return s !== null && (s.flags & KVM_MEMSLOT_INVALID) === 0 ? s : null;
  }

  /** gfn_to_hva_memslot(). */
  gfn_to_hva_memslot(slot: Memslot, gfn: number): number {
    return slot.userspace_addr + (gfn - slot.base_gfn) * this.pageSize;
  }

  // -------------------------------------------------------------------------------------------
  // Recorded primitives
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
    this.recordHpteWrite(i, ovh, ovl, orh, orl, this.ctxVcpu, this.ctxCore, this.ctxCause);
    const o = this.observer;
    if (o !== null) o.hpteWrite(this, i, ovh, ovl, orh, orl);
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

  /** The one writer of hpte_write events: HPTE i was (ov, or) and now holds what the HPT holds. */
  private recordHpteWrite(i: number, ovh: number, ovl: number, orh: number, orl: number, vcpu: number, core: number, cause: number): void {
    const rec = this.rec;
    if (!rec.enabled) return;
    const h = this.hpt;
    const p = i * 4;
    rec
      .emit(K.hpte_write, this.lpid, vcpu, core, cause)
      .hpte_index(i)
      .old_v(ovh, ovl)
      .old_r(orh, orl)
      .new_v(h[p], h[p + 1])
      .new_r(h[p + 2], h[p + 3])
      .guest_r(this.revGuestR[i * 2], this.revGuestR[i * 2 + 1]);
  }

  /** PTEG index mask (HashPageTableVhyp.hashMask). */
  get hashMask(): number {
    return this.geom.hashMask;
  }

  /** Guest frame of HPTE `index` in the revmap guest view (HashPageTableVhyp.guestGfnOf), -1 if none. */
  guestGfnOf(index: number): number {
    const gr_lo = this.revGuestR[index * 2 + 1];
    const psize = hpte_page_size(this.hpt[index * 4 + 1], gr_lo, this.arch206);
    return psize === 0 ? -1 : hpte_rpn(this.revGuestR[index * 2], gr_lo, psize, this.pageShift);
  }

  /**
   * tlbie (global, under tlbie_lock) or tlbiel (local) of HPTE i whose dword 0 was (v) and dword 1
   * (r): RB = compute_tlbie_rb(v, r, i). Records a `tlbie` event.
   */
  tlbie(v_hi: number, v_lo: number, r_lo: number, i: number, local: boolean): void {
    const t = this.tmp;
    compute_tlbie_rb(v_hi, v_lo, r_lo, i, this.arch206, t, 0);
    const rec = this.rec;
    if (rec.enabled) {
      recordTlbie(rec, this.lpid, this.ctxVcpu, this.ctxCore, this.ctxCause, t[0], t[1], local ? E.tlb_scope.local : E.tlb_scope.global, 0);
    }
    const o = this.observer;
    if (o !== null) o.tlbie(this, t[0], t[1], local);
  }

  /** Record an rmap_change for slot page `off` (gfn = base + off). index/forw/back -1 for none. */
  recRmap(op: number, slot: Memslot, off: number, index: number, forw: number, back: number): void {
    const rec = this.rec;
    if (!rec.enabled) return;
    rec.emit(K.rmap_change, this.lpid, this.ctxVcpu, this.ctxCore, this.ctxCause)
      .op(op)
      .gfn(slot.base_gfn + off)
      .hpte_index(index)
      .rmap(slot.rmap[off * 2], slot.rmap[off * 2 + 1])
      .forw(forw)
      .back(back);
  }

  /** Set the recording context; returns nothing (callers restore with clearCtx). */
  setCtx(vcpu: number, core: number, cause: number): void {
    this.ctxVcpu = vcpu;
    this.ctxCore = core;
    this.ctxCause = cause;
  }

  clearCtx(): void {
    this.ctxVcpu = -1;
    this.ctxCore = -1;
    this.ctxCause = NO_CAUSE;
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

  /** The rmap word of gfn as a bigint, or undefined if gfn is in no slot (edge use). */
  rmapBig(gfn: number): bigint | undefined {
    const s = this.gfn_to_memslot(gfn);
    if (s === null) return undefined;
    const off = gfn - s.base_gfn;
    return (BigInt(s.rmap[off * 2]) << 32n) | BigInt(s.rmap[off * 2 + 1]);
  }

  isValid(i: number): boolean {
    return (this.hpt[i * 4 + 1] & HPTE_V_VALID_LO) !== 0;
  }
}
