// The machine: one POWER7 host (physical memory, the VMM process's page table), one KVM VM with its
// memslots, and the vcore/vcpu run model with partition switches (kernel-model §G.2, G.3).
//
// Ownership: the Machine owns the deterministic clock (a RecorderClock over rec.now with its CPU's
// timing table, src/arch/timing.ts, given to the host and to KVM), the host, the Kvm, the cores and
// the vcores. Guest operations (hcalls, memory accesses) go through `enterGuest` / `fullExit`, so
// every full exit and re-entry is recorded with its partition switch, while real-mode-handled
// hcalls and reflected faults cause none (§J 23).

import { BOOK3S_INTERRUPT_HV_DECREMENTER, BOOK3S_INTERRUPT_SYSCALL } from '../arch/index.js';
import { H_FUNCTION, H_TOO_HARD, KVM_EXIT_PAPR_HCALL, RESUME_HOST } from '../arch/hcall.js';
import { MSR_DR_LO, MSR_IR_LO, MSR_ME_LO, MSR_PR_LO, MSR_SF_HI } from '../arch/reg.js';
import { ACCESS_IFETCH, MmuContext } from '../hw/mmu.js';
import { Tlb, TlbShootdown } from '../hw/tlb.js';
import { Vcpu } from '../hw/vcpu.js';
import { GUEST_ACCESS_EMULATED, type GuestAccessHost, guest_access } from './guest-access.js';
import { HCALL_REGS_WORDS, isVirtmodePending, kvmppc_hcall, kvmppc_hcall_virtmode } from '../kvm/hcall.js';
import { MmioRegisterFile } from '../kvm/mmio.js';
import { HostMm, type MmuNotifier, PTE_NO_CACHE, PTE_WRITETHRU } from '../host/mm.js';
import { FRAME_RESERVED, PhysMem } from '../host/physmem.js';
import { type Kvm, LpidAllocator } from '../kvm/kvm.js';
import { kvm_create_vm } from '../kvm/ops.js';
import { kvm_set_memory_region } from '../kvm/memslot.js';
import type { MachineConfig } from '../guest/scenario.js';
import { E, K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import { UserError } from '../trace/errors.js';
import { recordTlbie } from '../trace/writers.js';
import { TLBIEL_RB_LPID_SETS } from '../arch/hash.js';
import { Prng } from '../base/prng.js';
import type { Timing } from '../arch/timing.js';
import { RecorderClock } from '../trace/clock.js';

/** POWER7 TLB congruence classes flushed by tlbiel IS=0b10 (§G.2 entry step 5). */
export const POWER7_TLB_SETS = 128;
/** Default RMA size (boot parameter kvm_rma_size, book3s_hv_builtin.c, Linux 3.4). */
export const KVM_RMA_SIZE = 64 * 2 ** 20;
/** PPC970 TLB sets flushed on every partition switch (256 × tlbiel, §G.2 PPC970 entry step 2). */
export const PPC970_TLB_SETS = 256;

/** A physical core (pcpu = core * threads_per_core + thread). */
export class Core {
  readonly id: number;
  /** LPID register (host LPID 0 when not in a guest). */
  lpid = 0;
  sdr1Hi = 0;
  sdr1Lo = 0;
  inGuest = false;
  constructor(id: number) {
    this.id = id;
  }
}

/** A vcpu as the run loop sees it (the MMU state lives in the hardware vcpu model). */
export class VcpuRun {
  readonly id: number;
  /** vcpu->arch.last_cpu: pcpu it last ran on (-1 never). */
  lastCpu = -1;
  inGuest = false;
  /** Time it entered the guest (for HDEC expiry). */
  enteredAt = 0;
  pcHi = 0xc0000000;
  pcLo = 0;
  constructor(id: number) {
    this.id = id;
  }
}

/** struct kvmppc_vcore: the vcpus sharing one physical core. */
export class Vcore {
  readonly id: number;
  readonly vcpus: VcpuRun[] = [];
  state: number = E.vcore_state.inactive;
  /** Physical core it runs on. */
  readonly core: Core;
  constructor(id: number, core: Core) {
    this.id = id;
    this.core = core;
  }
}

export class Machine {
  readonly cfg: MachineConfig;
  readonly rec: Recorder;
  readonly rng: Prng;
  /** The run's clock: the timing table of this CPU in its timebase ticks, shared with host and KVM. */
  readonly clock: RecorderClock;
  readonly phys: PhysMem;
  readonly mm: HostMm;
  readonly kvm: Kvm;
  readonly notifier: MmuNotifier;
  readonly cores: Core[] = [];
  readonly vcores: Vcore[] = [];
  readonly vcpus: VcpuRun[] = [];
  /** kvm->arch.last_vcpu[pcpu]: which vcpu of this VM last ran on each hardware thread. */
  readonly lastVcpu: Int32Array;
  readonly threads: number;
  /** Counters for summaries. */
  readonly counters = { entries: 0, exits: 0, tlbFlushes: 0, userspaceExits: 0, accesses: 0, mmioExits: 0 };
  /** Hardware threads (MSR, PC, SLB, fault registers), one per vcpu. */
  readonly hw: Vcpu[] = [];
  /** Per-core TLB (tagged by LPID on POWER7, untagged on PPC970) and MMU context. */
  readonly tlbs: Tlb[] = [];
  readonly mmus: MmuContext[] = [];
  /** The TlbPort KVM is given at VM creation: KVM's tlbies reach the per-core TLBs through it. */
  readonly shootdown: TlbShootdown;
  /** The VMM's device model for KVM_EXIT_MMIO. */
  readonly mmio = new MmioRegisterFile();
  private readonly accessHost: GuestAccessHost[] = [];
  /** The host LPCR (POWER7) or HID4 (PPC970) the exit path restores (kvm->arch.host_lpcr). */
  readonly hostLpcrHi: number;
  readonly hostLpcrLo: number;
  /** PPC970: the RMA the host reserved at boot for this VM (machine.rma), or null (allocated at first run). */
  private readonly bootRma: { readonly base_pfn: number; readonly npages: number } | null = null;

  constructor(cfg: MachineConfig, rec: Recorder, seed: number) {
    this.cfg = cfg;
    this.rec = rec;
    this.rng = new Prng(seed);
    this.threads = cfg.threads_per_core;
    const pageSize = 2 ** cfg.host_page_shift;
    this.phys = new PhysMem({ pageShift: cfg.host_page_shift, npages: (cfg.host_memory_mb * 2 ** 20) / pageSize, seed: this.rng.u32() });
    this.clock = RecorderClock.forCpu(rec, cfg.profile);
    this.mm = new HostMm({ phys: this.phys, rec, clock: this.clock });
    this.mm = new HostMm({ phys: this.phys, rec });
    // PPC970 with machine.rma: the boot-time RMA pool (kvm_linear_init_one: alloc_bootmem_align(size,
    // size)) holds this block before anything else runs; the schema checked alignment and bounds.
    // Mirrors kvm_linear_init_one() for one RMA (arch/powerpc/kvm/book3s_hv_builtin.c, Linux 3.4, tree holyangel/M7-GPE_L)
    if (cfg.rma !== undefined) {
      const npages = (cfg.rma.size_mb * 2 ** 20) / pageSize;
      const base_pfn = Number(cfg.rma.base / BigInt(pageSize));
      if (!this.phys.allocAt(base_pfn, Math.log2(npages), FRAME_RESERVED)) throw new UserError(`machine.rma: cannot reserve [0x${cfg.rma.base.toString(16)}, +${cfg.rma.size_mb} MiB) in host memory`);
      this.bootRma = { base_pfn, npages };
    }
    const hostLpcr = cfg.profile === 'ppc970' ? (cfg.host_hid4 ?? 0n) : (cfg.host_lpcr ?? 0n);
    this.hostLpcrHi = Number(hostLpcr >> 32n) >>> 0;
    this.hostLpcrLo = Number(hostLpcr & 0xffffffffn) >>> 0;
    // The TLBs are created below, once the VM's CPU is known; the port reads this.tlbs as it grows.
    this.shootdown = new TlbShootdown(this.tlbs);
    let kvm: Kvm;
    try {
      kvm = kvm_create_vm({
        mm: this.mm,
        rec,
        hptOrder: cfg.hpt_order,
        kernel: cfg.kernel,
        cpu: cfg.profile,
        lpids: this.lpidsFor(cfg),
        vmId: 0,
        tlb: this.shootdown,
        clock: this.clock,
        hostLpcrLo: this.hostLpcrLo,
        hostHid4: cfg.host_hid4,
      });
    } catch (e) {
      throw new UserError(`cannot create the VM: ${(e as Error).message}`);
    }
    this.kvm = kvm;
    this.kvm.online_vcpus = cfg.vcpus;
    this.notifier = kvm.ops.mmuNotifier(kvm);
    // Memslots: the VMM mmaps guest RAM, then KVM_SET_USER_MEMORY_REGION.
    cfg.memslots.forEach((s, k) => {
      const ua = Number(s.userspace_addr);
      const gpa = Number(s.base_gfn) * pageSize;
      const field = `machine.memslots[${k}]`;
      if (!Number.isSafeInteger(ua) || !Number.isSafeInteger(gpa)) throw new UserError(`memslot ${s.slot}: addresses beyond 2^53 are not supported`);
      // The VMA's backing page size: memslot.page_shift (hugetlbfs), else 16 MiB for Linux 3.3,
      // which requires guest RAM in 16 MiB hugetlbfs pages (kernel-model §C.5), else PAGE_SIZE.
      const shift = s.page_shift ?? (kvm.ops.ramPageShift !== 0 ? kvm.ops.ramPageShift : cfg.host_page_shift);
      const cacheBits = s.cache === 'inhibited' ? PTE_NO_CACHE : s.cache === 'write_through' ? PTE_WRITETHRU : 0;
      try {
        this.mm.mmap(ua, s.npages * pageSize, { pageShift: shift, cacheBits });
      } catch (e) {
        throw new UserError(`${field}: cannot mmap the slot's memory: ${(e as Error).message}`);
      }
      const r = kvm_set_memory_region(kvm, { slot: s.slot, guest_phys_addr: gpa, memory_size: s.npages * pageSize, userspace_addr: ua });
      if (r !== 0) throw new UserError(`memslot ${s.slot}: KVM_SET_USER_MEMORY_REGION failed (${r})`);
      if (!s.populate) return;
      // One fault per backing page (a huge page maps all its frames at once); pages the region's
      // registration already faulted in (Linux 3.3 pins them) are left as they are.
      const step = 2 ** shift;
      for (let a = ua; a < ua + s.npages * pageSize; a += step) {
        if (this.mm.pfnOf(a) >= 0) continue;
        if (this.mm.tryMap(a) < 0) {
          throw new UserError(`${field}.populate: host memory exhausted at hva 0x${a.toString(16)} (${shift >= 20 ? `${2 ** (shift - 20)} MiB` : `${2 ** (shift - 10)} KiB`} pages; host_memory_mb ${cfg.host_memory_mb}, ${((this.phys.freePages * pageSize) / 2 ** 20).toFixed(3)} MiB free, not in aligned blocks)`);
        }
      }
    });
    // vcores: vcore id = vcpu_id / threads_per_core (§G.3); one physical core each.
    const nvcores = Math.ceil(cfg.vcpus / this.threads);
    for (let c = 0; c < nvcores; c++) {
      const core = new Core(c);
      this.cores.push(core);
      this.vcores.push(new Vcore(c, core));
    }
    for (let v = 0; v < cfg.vcpus; v++) {
      const vc = new VcpuRun(v);
      this.vcpus.push(vc);
      this.vcores[Math.floor(v / this.threads)].vcpus.push(vc);
    }
    this.lastVcpu = new Int32Array(nvcores * this.threads).fill(-1);
    // Hardware: one thread state per vcpu, one TLB + MMU context per core; KVM's tlbies reach the TLBs.
    for (const c of this.cores) {
      const tlb = new Tlb(c.id, kvm.ops.tlbSets);
      this.tlbs.push(tlb);
      this.mmus.push(new MmuContext(kvm.mmu, tlb, c.id, kvm.lpcrHi, kvm.lpcrLo));
    }
    for (const v of this.vcpus) {
      const h = new Vcpu(v.id, { rec, lpid: kvm.lpid, slb_nr: kvm.ops.slbEntries });
      h.core = this.coreOf(v);
      h.setPc(v.pcHi, v.pcLo);
      this.hw.push(h);
      this.accessHost.push({
        fullExit: (_h, trap, cause) => this.fullExit(v, trap, cause),
        enterGuest: (_h, cause) => this.enterGuest(v, cause),
        mmio: this.mmio,
      });
    }
  }

  /**
   * First KVM_RUN: guest real mode (kvmppc_hv_setup_rma, through the VM's ops: the VRMA HPTEs on
   * POWER7, an RMA in HID4 on PPC970, nothing left for 3.3). PPC970 has no VRMA: guest real mode
   * needs a physically contiguous RMA (kvm_rma_size, 64 MiB by default, capped at the memslot at
   * gpa 0), which the VMM allocates.
   */
  private setupRma(): void {
    const kvm = this.kvm;
    const v = this.vcpus[0];
    const slot0 = kvm.gfn_to_memslot(0);
    const bytes = Math.min(KVM_RMA_SIZE, slot0 ? slot0.npages * kvm.pageSize : KVM_RMA_SIZE);
    const r = kvm.ops.setupRma(kvm, { vcpu_id: v.id, core: this.coreOf(v) }, bytes, this.bootRma);
    if (r === 0) return;
    if (kvm.ops.rmaSetup === 'rma') {
      throw new UserError(`PPC970 KVM_RUN failed (${r}): the CPU requires an RMA (real-mode area) of ≥ 64 MiB at gpa 0 in host memory`);
    }
    throw new UserError(`KVM_RUN failed (${r}): guest real mode (VRMA) cannot be set up for the memslot at gpa 0`);
  }

  /**
   * The host's LPID bitmap with the VM's LPID made to come out as machine.lpid: kvm_alloc_hpt takes
   * the first zero bit, so LPIDs 1..lpid-1 are allocated first, as other VMs created earlier would.
   */
  // Mirrors lpid_inuse + kvmppc_alloc_hpt()'s find_first_zero_bit (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4, tree holyangel/M7-GPE_L)
  private lpidsFor(cfg: MachineConfig): LpidAllocator {
    const lpids = LpidAllocator.forCpu(cfg.profile);
    for (let n = 1; n < (cfg.lpid ?? 1); n++) lpids.alloc();
    return lpids;
  }

  /** Stale-TLB uses counted by the TLB model (each one is a missing tlbie: kernel-model §J 17, 26). */
  get staleTlb(): number {
    return this.tlbs.reduce((n, t) => n + t.counters.stale_tlb, 0);
  }

  get now(): number {
    return this.rec.now;
  }

  /** The timing table in this run's ticks (arch/timing.ts). */
  get cost(): Timing {
    return this.clock.t;
  }

  tick(n: number): void {
    this.clock.charge(n);
  }

  vcpu(id: number): VcpuRun {
    const v = this.vcpus[id];
    if (!v) throw new UserError(`vcpu ${id} does not exist (machine has ${this.vcpus.length})`);
    return v;
  }

  vcoreOf(v: VcpuRun): Vcore {
    return this.vcores[Math.floor(v.id / this.threads)];
  }

  /** Physical core a vcpu runs on (event `core` column). */
  coreOf(v: VcpuRun): number {
    return this.vcoreOf(v).core.id;
  }

  /**
   * Make sure the vcpu is executing in the guest: if it is not, run its vcore
   * (kvmppc_run_vcpu → kvmppc_run_core → __kvmppc_vcore_entry), which enters every vcpu of the vcore.
   */
  // Mirrors kvmppc_run_core() + the entry path of book3s_hv_rmhandlers.S (Linux 3.4)
  enterGuest(v: VcpuRun, cause = NO_CAUSE): void {
    if (v.inGuest) return;
    const kvm = this.kvm;
    const rec = this.rec;
    // 0. First KVM_RUN: kvmppc_hv_setup_rma before anything runs (kvm->arch.rma_setup_done).
    if (!kvm.rma_setup_done) this.setupRma();
    const vc = this.vcoreOf(v);
    const core = vc.core;
    // 1. vcore RUNNING.
    vc.state = E.vcore_state.running;
    rec.emit(K.vcore_state, kvm.lpid, -1, core.id, cause).vcore(vc.id).state(vc.state).n_runnable(vc.vcpus.length);
    // 2. Primary thread: LPID ← LPID_RSVD; SDR1 ← guest; LPID ← guest (the reserved LPID is transient).
    this.tick(this.cost.guestEntry);
    const sw = rec.emit(K.partition_switch, kvm.lpid, vc.vcpus[0].id, core.id, cause)
      .thread(0)
      .from_lpid(core.lpid)
      .to_lpid(kvm.lpid)
      .direction(E.switch_direction.entry)
      .trap(0)
      .sdr1(kvm.mmu.sdr1Hi, kvm.mmu.sdr1Lo)
      .lpcr(kvm.lpcrHi, kvm.lpcrLo).seq;
    // The hardware now walks this partition's table (cpu->vhyp): the VM's MMU, then its LPCR.
    const mmu = this.mmus[core.id];
    mmu.vhyp = kvm.mmu;
    mmu.loadLpcr(kvm.lpcrHi, kvm.lpcrLo);
    core.lpid = kvm.lpid;
    core.sdr1Hi = kvm.mmu.sdr1Hi;
    core.sdr1Lo = kvm.mmu.sdr1Lo;
    core.inGuest = true;
    // PPC970: the TLB is not LPID-tagged, so the whole TLB is flushed on every switch (§G.2).
    if (kvm.ops.tlbFlush === 'all_on_switch') this.flushAll970(core, sw);
    // 3. Every thread: TLB flush if the vcpu/pcpu pairing changed (last_vcpu / last_cpu), then enter.
    vc.vcpus.forEach((t, ptid) => {
      const pcpu = core.id * this.threads + ptid;
      if (kvm.ops.tlbFlush === 'lpid_on_new_pairing' && (t.lastCpu !== pcpu || this.lastVcpu[pcpu] !== t.id)) {
        t.lastCpu = pcpu;
        this.lastVcpu[pcpu] = t.id;
        recordTlbie(rec, kvm.lpid, t.id, core.id, sw, 0, TLBIEL_RB_LPID_SETS, E.tlb_scope.lpid_sets, POWER7_TLB_SETS);
        this.tick(POWER7_TLB_SETS * this.cost.tlbielSet);
        this.counters.tlbFlushes++;
        this.shootdown.flushLpid(core.id, kvm.lpid);
      }
      t.inGuest = true;
      t.enteredAt = this.now;
      rec.emit(K.guest_enter, kvm.lpid, t.id, core.id, sw)
        .pc(t.pcHi, t.pcLo)
        .msr(0x80000000, 0x0000b032); // MSR: SF | EE | PR=0 | ME | IR | DR | RI
      this.counters.entries++;
    });
  }

  /**
   * Full exit of the vcore of `v` with trap `trap` on `v` (siblings are forced out with HDEC = 0
   * and exit with HV_DECREMENTER). Records guest_exit per vcpu, then the partition switch back to
   * the host. Returns the seq of v's guest_exit (the cause of what the host does next).
   */
  // Mirrors the exit path of book3s_hv_rmhandlers.S + kvmppc_run_core post-processing (Linux 3.4)
  fullExit(v: VcpuRun, trap: number, cause = NO_CAUSE): number {
    const kvm = this.kvm;
    const rec = this.rec;
    const vc = this.vcoreOf(v);
    const core = vc.core;
    this.tick(this.cost.guestExit);
    let mine = NO_CAUSE;
    for (const t of vc.vcpus) {
      if (!t.inGuest) continue;
      const tr = t === v ? trap : BOOK3S_INTERRUPT_HV_DECREMENTER;
      const s = rec.emit(K.guest_exit, kvm.lpid, t.id, core.id, t === v ? cause : mine)
        .trap(tr)
        .pc(t.pcHi, t.pcLo)
        .msr(0x80000000, 0x0000b032).seq;
      if (t === v) mine = s;
      t.inGuest = false;
      this.counters.exits++;
    }
    vc.state = E.vcore_state.exiting;
    rec.emit(K.partition_switch, kvm.lpid, v.id, core.id, mine)
      .thread(0)
      .from_lpid(core.lpid)
      .to_lpid(0)
      .direction(E.switch_direction.exit)
      .trap(trap)
      .sdr1(0)
      .lpcr(this.hostLpcrHi, this.hostLpcrLo); // LPCR (HID4 on PPC970) ← kvm->arch.host_lpcr
    if (kvm.ops.tlbFlush === 'all_on_switch') this.flushAll970(core, mine);
    core.lpid = 0;
    core.sdr1Hi = 0;
    core.sdr1Lo = 0;
    core.inGuest = false;
    vc.state = E.vcore_state.inactive;
    rec.emit(K.vcore_state, kvm.lpid, -1, core.id, mine).vcore(vc.id).state(vc.state).n_runnable(vc.vcpus.length);
    return mine;
  }

  /** PPC970 partition switch: 256 × tlbiel over the untagged TLB (entry and exit, §G.2). */
  private flushAll970(core: Core, cause: number): void {
    const rec = this.rec;
    recordTlbie(rec, this.kvm.lpid, -1, core.id, cause, 0, 0, E.tlb_scope.all_sets, PPC970_TLB_SETS);
    this.tick(PPC970_TLB_SETS * this.cost.tlbielSet);
    this.counters.tlbFlushes++;
    this.shootdown.flushAll(core.id);
  }

  /**
   * A guest `sc 1` from supervisor state on vcpu v: real-mode handlers complete in the guest (no
   * switch); a PPC970 H_ENTER on an unpinned page exits fully and completes in virtual mode; any
   * other call exits to the VMM as KVM_EXIT_PAPR_HCALL, and this model's VMM answers H_FUNCTION.
   * regs: r4..r11 as (hi, lo) pairs, outputs in place. Returns r3.
   */
  // Mirrors the sc 1 path: hcall_real_table, kvmppc_handle_exit, kvmppc_pseries_do_hcall (Linux 3.4)
  hcall(v: VcpuRun, nr: number, regs: Uint32Array, cause = NO_CAUSE): number {
    this.enterGuest(v, cause);
    // (The real-mode part is charged by kvmppc_hcall, between hcall_enter and hcall_exit.)
    const ref = { vcpu_id: v.id, core: this.coreOf(v) };
    const enterSeq = this.rec.enabled ? this.rec.eventCount : NO_CAUSE;
    let ret = kvmppc_hcall(this.kvm, ref, nr, regs, cause);
    if (ret === H_TOO_HARD && isVirtmodePending(this.kvm)) {
      this.fullExit(v, BOOK3S_INTERRUPT_SYSCALL, enterSeq);
      this.tick(this.cost.hcallVirt);
      ret = kvmppc_hcall_virtmode(this.kvm, ref, nr, regs);
    }
    if (ret === H_TOO_HARD) {
      const exit = v.inGuest ? this.fullExit(v, BOOK3S_INTERRUPT_SYSCALL, enterSeq) : enterSeq;
      this.tick(this.cost.vmmExit);
      this.counters.userspaceExits++;
      this.rec.emit(K.vcpu_state, this.kvm.lpid, v.id, this.coreOf(v), exit)
        .state(E.vcpu_state.busy_in_host)
        .ret(RESUME_HOST)
        .exit_reason(KVM_EXIT_PAPR_HCALL);
      ret = H_FUNCTION;
      for (let k = 0; k < HCALL_REGS_WORDS; k++) regs[k] = 0;
    }
    return ret;
  }

  /**
   * One guest data/instruction access on vcpu v with the given relocation and privilege, through
   * the hardware MMU (TLB, HPT search, R/C), the real-mode triage, and if needed a full exit to the
   * virtual-mode fault handler or MMIO emulation (guest_access). Returns guest_access's result:
   * 0 translated, an interrupt vector delivered to the guest, or a GUEST_ACCESS_* code.
   */
  access(v: VcpuRun, ea_hi: number, ea_lo: number, rwx: number, ir: boolean, dr: boolean, pr: boolean, inst: number, cause = NO_CAUSE): number {
    this.enterGuest(v, cause);
    this.tick(this.cost.guestAccess);
    this.counters.accesses++;
    const h = this.hw[v.id];
    h.setMsr(MSR_SF_HI, (MSR_ME_LO | (ir ? MSR_IR_LO : 0) | (dr ? MSR_DR_LO : 0) | (pr ? MSR_PR_LO : 0)) >>> 0);
    if (rwx === ACCESS_IFETCH) h.setPc(ea_hi, ea_lo);
    else h.setPc(v.pcHi, v.pcLo);
    h.cur_inst = inst >>> 0;
    const r = guest_access(this.kvm, this.mmus[this.coreOf(v)], h, ea_hi, ea_lo, rwx, this.accessHost[v.id], cause);
    if (r === GUEST_ACCESS_EMULATED) this.counters.mmioExits++;
    return r;
  }

  /** Guest time passes on v; an HDEC expiry forces a full exit (trap 0x980) and re-entry. */
  runSteps(v: VcpuRun, steps: number): void {
    this.enterGuest(v);
    for (let s = 0; s < steps; s++) {
      this.tick(this.cost.guestStep);
      if (this.now - v.enteredAt >= this.cost.hdecTicks) {
        this.fullExit(v, BOOK3S_INTERRUPT_HV_DECREMENTER);
        this.enterGuest(v);
      }
    }
  }
}
