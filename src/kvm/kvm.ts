// struct kvm for Book3S HV: what every VM has whatever its MMU — the LPID, the memslots with their
// rmap words, the MMU-notifier counters, the recorder and recording context, the operations table
// and the MMU (kvm.mmu, the kernel's kvm->arch.radix choice: a HashMmu today, hash/mmu.ts, which
// holds the HPT and revmap and the hash MMU's recorded primitives: one HPTE write, one tlbie of an
// HPTE, one rmap change; so recording, and the optional observer used by the invariant checker,
// cannot be forgotten on any path).
//
// Storage: the HPT and revmap are in kvm.mmu (hash/mmu.ts);
//   slot.rmap  Uint32Array, 2 words per host page of the slot: [hi, lo] of the rmap word
//              (hi: LOCK 0x80000000, REFERENCED 0x100, CHANGED 0x80, PRESENT 0x1; lo: INDEX)
// HVLOCK and the rmap lock bit are never left set: the model runs one path at a time, so every
// lock the kernel takes is released before the modelled function returns (kernel-model §J.2).
//
// Versions and CPUs: `ops` (ops.ts), chosen once from `kernel` and `cpu` at creation, holds what
// differs. `kernel` selects Linux 3.4 or 4.20 behaviour where this model implements the
// difference (today: H_CLEAR_REF / H_CLEAR_MOD, see hash/rm_mmu.ts), or the Linux 3.1–3.3 "seed 1"
// memory model ('3.3', POWER7 only: 16 MiB chunks pinned into ram_pginfo at region registration,
// no ABSENT, no revmap/rmap, no notifiers; see hash/seed1.ts); `cpu` selects POWER7 (ARCH_206,
// using_mmu_notifiers = 1) or PPC970 (ARCH_201, using_mmu_notifiers = 0: 6-bit LPIDs, HID4 instead
// of the LPCR, guest pages pinned through slot_phys, see hash/slot_phys.ts; kernel-model §G.5).

import {
  LPID_RSVD,
  MAX_LPID_970,
  NR_LPIDS,
  PPC_MIN_HPT_ORDER,
} from '../arch/index.js';
import type { Clock } from '../arch/timing.js';
import type { HostMm, MmuNotifier } from '../host/mm.js';
import { NO_TLB, type TlbPort } from '../hw/tlb.js';
import type { Vcpu } from '../hw/vcpu.js';
import { HashMmu, type HashMmuOwner } from './hash/mmu.js';
import { K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import {
  type CpuModel,
  type KernelVersion,
  KVM_MEM_SLOTS_NUM,
  KVM_MEMSLOT_INVALID,
  KvmppcPginfo,
  type KvmChecker,
  type KvmVcpuRef,
  type Memslot,
  type SlotPhys,
  type UserspaceMemoryRegion,
} from './types.js';

export * from './types.js';

/** Largest HPT order this model allocates: 2^28 bytes of HPT plus as much again of revmap. */
export const KVM_MAX_MODEL_HPT_ORDER = 28;

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
  /** HPTE i changed from (ov, or) to the values now in kvm.mmu.hpt; guest_rpte is already final. */
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

/** A real-mode (or virtual-mode) hcall handler on r4..r11 in `regs` (outputs in place); returns r3. */
export type HcallHandler = (kvm: Kvm, regs: Uint32Array) => number;

/**
 * How guest memory is held (kernel-model §C.4, C.5):
 * - 'rmap': pages faulted in on demand, tracked by rmap chains, invalidated by MMU notifiers (POWER7, 3.4/4.20);
 * - 'slot_phys': every page pinned into kvm->arch.slot_phys by H_ENTER in virtual mode (PPC970, 3.4);
 * - 'ram_pginfo': 16 MiB chunks pinned into kvm->arch.ram_pginfo at region registration (seed 1, 3.3).
 */
export type KvmMemoryModel = 'rmap' | 'slot_phys' | 'ram_pginfo';

/**
 * Guest real mode at first KVM_RUN (kvmppc_hv_setup_rma): 'vrma' = VRMA HPTEs (POWER7, 3.4);
 * 'rma' = a preallocated RMA in HID4 (PPC970); 'at_registration' = nothing at first run, the VRMA
 * was written when the region at gpa 0 was registered (3.3 kvmppc_map_vrma).
 */
export type KvmRmaSetup = 'vrma' | 'rma' | 'at_registration';

/** The model keeps the HPT and revmap in JS typed arrays, so it caps the order: throws outside 18..28. */
export function kvm_check_hpt_order(order: number): void {
  if (!Number.isInteger(order) || order < PPC_MIN_HPT_ORDER || order > KVM_MAX_MODEL_HPT_ORDER) {
    throw new RangeError(
      `HPT order ${order} not supported: the model allocates the HPT (2^order bytes) and revmap in memory; ` +
        `use ${PPC_MIN_HPT_ORDER}..${KVM_MAX_MODEL_HPT_ORDER}`,
    );
  }
}

/**
 * Steps of the hash MMU's rmap / fault code whose effects differ between Linux 3.4 and 4.20
 * (kvm/hash/rmap.ts for 3.4, kvm/hash/k420.ts for 4.20); the shared paths call them through
 * kvm.ops.hash. See traces/README.md "Linux 3.4 vs 4.20 (HPT guests)".
 */
export interface HashVariantOps {
  /** kvmppc_add_revmap_chain: link HPTE i into the chain of rmap word `off` of `slot`. */
  addRevmapChain(kvm: Kvm, slot: Memslot, off: number, i: number): void;
  /** remove_revmap_chain after the harvest: unlink HPTE i (dword 0 `v_lo`, R/C `rc`, hardware dword 1 low `r_lo`). */
  unlinkRevmapChain(kvm: Kvm, i: number, v_lo: number, rc: number, r_lo: number): void;
  /** kvm_unmap_rmapp: empty the chain of one rmap word (the MMU-notifier unmap). */
  unmapRmapp(kvm: Kvm, slot: Memslot, off: number, gfn: number): number;
  /**
   * The page fault's WIMG step (hpte_cache_flags_ok): guest WIMG in r_lo vs the host mapping's cache
   * bits (PTE_NO_CACHE | PTE_WRITETHRU, 0 = RAM); the low word to use (RAM: made M), or -1 to refuse.
   */
  cacheFlagsOk(r_lo: number, hostCacheBits: number, arch206: boolean): number;
  /** The page fault's new dword 1 from the guest view r, guest page size psize, backing size pteSize and host pa; to out[0..1]. */
  faultSetRpn(r_hi: number, r_lo: number, psize: number, pteSize: number, pa_hi: number, pa_lo: number, pageSize: number, out: Uint32Array): void;
}

/**
 * What differs between the modelled kernel versions and CPUs, picked once per VM (the tables are
 * in ops.ts; kvm_create_vm picks one). Declared here, beside struct kvm, so that kvm.ts depends on
 * no handler module (like struct kvmppc_ops in kvm_ppc.h).
 */
export interface KvmOps {
  readonly kernel: KernelVersion;
  readonly cpu: CpuModel;
  /** cpu_has_feature(CPU_FTR_ARCH_206). */
  readonly arch206: boolean;
  /** kvm->arch.using_mmu_notifiers (none at all in 3.3). */
  readonly usingMmuNotifiers: boolean;
  /** KVM_ARCH_WANT_MMU_NOTIFIER: kvm_init_mmu_notifier registers on the VMM's mm (not before 3.4). */
  readonly registersMmuNotifier: boolean;
  readonly memory: KvmMemoryModel;
  /** Highest LPID kvm_alloc_hpt may take (6-bit LPIDs with 63 reserved on PPC970, kernel-model §J 24). */
  readonly maxLpid: number;
  /** hcall_real_table, indexed by nr >> 2: the handler that completes the call in real mode, or null. */
  readonly hcallReal: readonly (HcallHandler | null)[];
  /** Does an H_ENTER that real mode gave up on (H_TOO_HARD) continue in host virtual mode? */
  readonly hEnterInVirtmode: boolean;
  /** H_ENTER issued from host virtual mode (the VRMA set-up, or the continuation above). */
  readonly hEnterVirtmode: HcallHandler;
  /**
   * The MMU's hypervisor-fault paths (the hash MMU's today: kvmppc_hdsi / kvmppc_hisi, hash/hv_fault.ts;
   * a radix VM would plug in its own, as Linux 4.20's kvmppc_book3s_radix_page_fault): the machine's
   * run loop reaches them only through these. hdsi / hisi: the real-mode triage of an HDSI (0xe00)
   * / HISI (0xe20) the hardware left in `vcpu`; returns a fault_decision (E.fault_decision).
   */
  hdsi(kvm: Kvm, vcpu: Vcpu, core: number, cause: number): number;
  hisi(kvm: Kvm, vcpu: Vcpu, core: number, cause: number): number;
  /**
   * The storage-fault arm of kvmppc_handle_exit_hv in host virtual mode after a full exit (hash:
   * kvmppc_book3s_hv_page_fault / MMIO emulation); RESUME_* flags, or a negative errno.
   */
  handleExitHvFault(kvm: Kvm, vcpu: Vcpu, cause: number): number;
  /**
   * kvmppc_hv_setup_rma at the first KVM_RUN (guest real mode, per rmaSetup): 0 or a negative
   * errno; sets kvm.rma_setup_done. `rmaBytes` is the RMA the VMM allocates (PPC970 only), unless
   * the host reserved one at boot (`rma`: kvm_linear_init's pool entry, which is then used).
   */
  setupRma(kvm: Kvm, vcpu: KvmVcpuRef, rmaBytes: number, rma?: { readonly base_pfn: number; readonly npages: number } | null): number;
  /**
   * kvm_init_mmu_notifier(): the VM's MMU notifier, registered on kvm.mm if registersMmuNotifier
   * (returned unregistered otherwise, so callers need no special case).
   */
  mmuNotifier(kvm: Kvm): MmuNotifier;
  /**
   * The MMU's invariant checks for `--check`: attaches an operation-level audit as kvm.observer
   * (hashing the HPT every `digestEvery` operations) and returns it with the state checker.
   */
  checker(kvm: Kvm, digestEvery: number): KvmChecker;
  /** kvm->arch.lpcr at VM creation (kvmppc_core_init_vm): the guest LPCR, or HID4 on PPC970. */
  initLpcr(kvm: Kvm, hostLpcrLo: number, hostHid4: bigint): void;
  /** kvm_arch_prepare_memory_region: 0 or a negative errno. */
  prepareMemoryRegion(kvm: Kvm, mem: UserspaceMemoryRegion, npages: number): number;
  /** kvm_arch_commit_memory_region; `cause` = the memslot event. */
  commitMemoryRegion(kvm: Kvm, mem: UserspaceMemoryRegion, cause: number): void;
  /** The version-specific part of kvmppc_core_destroy_vm (before the LPID is freed). */
  destroyVm(kvm: Kvm): void;
  readonly rmaSetup: KvmRmaSetup;
  /** Backing page shift the VMM must give guest RAM (3.3: 16 MiB hugetlbfs), or 0 for any. */
  readonly ramPageShift: number;
  /** SLB entries of the CPU (POWER7 32, PPC970 64). */
  readonly slbEntries: number;
  /** TLB congruence classes (POWER7 128, PPC970 256). */
  readonly tlbSets: number;
  /**
   * TLB flush rule of the partition switch (kernel-model §G.2): 'lpid_on_new_pairing' = POWER7's
   * LPID-tagged TLB, flushed for the LPID on entry when the vcpu/pcpu pairing changed;
   * 'all_on_switch' = PPC970's untagged TLB, flushed whole on every entry and exit.
   */
  readonly tlbFlush: 'lpid_on_new_pairing' | 'all_on_switch';
  /** The hash-MMU steps that differ between kernels (HashVariantOps). */
  readonly hash: HashVariantOps;
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
  /**
   * The hardware TLBs KVM's tlbies reach (the machine's TlbShootdown); NO_TLB when the VM runs
   * without a hardware model. Correctness never depends on an observer being attached.
   */
  readonly tlb?: TlbPort;
  /**
   * The run's clock (arch/timing.ts) its paths charge (hcalls, faults, tlbies, notifiers).
   * Default: the clock of `mm`, so KVM and its host share one timeline.
   */
  readonly clock?: Clock;
  /** The VM's operations (kvm_create_vm picks them from kernel and cpu). */
  readonly ops: KvmOps;
}

export class Kvm implements HashMmuOwner {
  readonly mm: HostMm;
  readonly rec: Recorder;
  /** What differs between kernel versions and CPUs, picked once at creation (ops.ts). */
  readonly ops: KvmOps;
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
  /**
   * The partition's MMU: kvm->arch.radix = 0, a hash MMU (HPT, revmap, SDR1; hash/mmu.ts), which
   * is also the hardware's HashPageTableVhyp for this partition. A radix MMU (kvm/radix/, not
   * modelled) would widen this to `HashMmu | RadixMmu`, discriminated by `mmu.radix`, with its own
   * KvmOps table; code outside kvm/hash/ that needs the HPT narrows on `mmu.radix` first.
   */
  readonly mmu: HashMmu;
  /**
   * kvm->arch.lpcr as (hi, lo): the guest LPCR on POWER7 (K34: host PECE|LPES, DPFD 4, HDICE, VPM0,
   * VPM1), the guest HID4 on PPC970 (host HID4 with the LPID split field; RMLS/RMOR are added by
   * kvmppc_hv_setup_rma_970 at first run, which is why these are not readonly).
   */
  lpcrHi: number;
  lpcrLo: number;

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
  /** kvm->arch.rma_setup_done: guest real mode (VRMA or RMA) set up at first KVM_RUN. */
  rma_setup_done = false;
  /** destroy() ran. */
  destroyed = false;

  /** The hardware TLB port given at creation: every tlbie goes there first. */
  readonly tlb: TlbPort;
  /** The run's clock: every modelled path charges its timing-table entry here. */
  readonly clock: Clock;
  /** A checker watching the VM (HvAudit), or null: never needed for correct behaviour. */
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
    // 1. Geometry.
    kvm_check_hpt_order(order);
    // 2. The operations of this kernel on this CPU, chosen once for the VM's lifetime.
    const ops = opts.ops;
    this.ops = ops;
    this.cpu = ops.cpu;
    this.kernel = ops.kernel;
    this.arch206 = ops.arch206;
    this.usingMmuNotifiers = ops.usingMmuNotifiers;
    // Seed 1: kvmppc_core_init_vm kzalloc's ram_pginfo[1 << (MAX_MEM_ORDER - LARGE_PAGE_ORDER)].
    this.ram_pginfo = ops.memory === 'ram_pginfo' ? new KvmppcPginfo() : null;
    this.mm = opts.mm;
    this.rec = opts.rec;
    this.tlb = opts.tlb ?? NO_TLB;
    this.clock = opts.clock ?? opts.mm.clock;
    this.pageShift = opts.mm.pageShift;
    // 3. LPID (6 bits on PPC970, 63 reserved: at most 62).
    this.lpids = opts.lpids ?? LpidAllocator.forCpu(this.cpu);
    this.lpid = this.lpids.alloc(ops.maxLpid);
    this.vmId = opts.vmId ?? 0;
    // 4. The MMU: a hash MMU (HPT, revmap, SDR1 at 2^order * (vmId + 1) by default).
    const mmu = new HashMmu(this, order, opts.hptBase ?? 2 ** order * (this.vmId + 1));
    this.mmu = mmu;
    // 5. kvm->arch.lpcr (kvmppc_core_init_vm): the guest LPCR on POWER7, the guest HID4 on PPC970.
    this.lpcrHi = 0;
    this.lpcrLo = 0;
    ops.initLpcr(this, opts.hostLpcrLo ?? 0, opts.hostHid4 ?? 0n);
    const rec = this.rec;
    rec.emit(K.vm_create, this.lpid, -1, -1, NO_CAUSE)
      .hpt_order(order)
      .sdr1(mmu.sdr1Hi, mmu.sdr1Lo)
      .lpcr(this.lpcrHi, this.lpcrLo)
      .vm_id(this.vmId);
  }

  /**
   * VM destroy: the version's teardown (ops.destroyVm: without notifiers, unpin_slot() for every
   * slot, recorded as host_page unpin; seed 1 ('3.3') puts every ram_pginfo page), then
   * kvmppc_free_hpt() releases the LPID.
   * A second call does nothing.
   */
  // Mirrors kvmppc_core_destroy_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.ops.destroyVm(this);
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
  // Recording context (the hash MMU's recorded primitives, setHpte / tlbie / recRmap, are on
  // kvm.mmu, hash/mmu.ts, and read it through HashMmuOwner)
  // -------------------------------------------------------------------------------------------

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

  /** The rmap word of gfn as a bigint, or undefined if gfn is in no slot (edge use). */
  rmapBig(gfn: number): bigint | undefined {
    const s = this.gfn_to_memslot(gfn);
    if (s === null) return undefined;
    const off = gfn - s.base_gfn;
    return (BigInt(s.rmap[off * 2]) << 32n) | BigInt(s.rmap[off * 2 + 1]);
  }
}
