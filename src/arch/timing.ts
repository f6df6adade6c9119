// The timing table: what each modelled path costs, in nanoseconds with its source, and the
// timebase frequency of each CPU that turns those costs into the ticks every event's `time` counts.
//
// The emulator has one deterministic clock (the recorder's `now`, in timebase ticks). Nothing reads
// a wall clock: a path advances the clock by its table entry when the model runs it, through the
// `Clock` port below, which the machine creates once per run and gives to the host and to KVM. A
// page fault's page_fault_enter and page_fault_exit therefore span exactly the entries of the work
// done between them (the fault's own work, get_user_pages, a swap-in, a tlbie), and a run's times
// depend only on its inputs and seed.
//
// Sources. Published figures are cited where they exist. Most KVM paths have no published
// per-path latency for POWER7 (the kernel exposes no tracepoint around real-mode code, and
// CONFIG_KVM_BOOK3S_HV_EXIT_TIMING, the one in-kernel measurement, came with POWER8); those entries
// say "estimate" and justify their order of magnitude. The relations between entries matter more
// than their absolute values: a swap-in from disk is three orders of magnitude above any CPU-side
// path, a full exit an order above a real-mode hcall, a global tlbie above a local one.

/** One path's cost. */
export interface CostEntry {
  /** Nanoseconds. */
  readonly ns: number;
  /** What is charged (the modelled path, where it is charged). */
  readonly what: string;
  /** Where the figure comes from, or "estimate: ..." with the reasoning. */
  readonly source: string;
}

/**
 * The cost table. Every entry is charged at one place in the model (named in `what`); a path's
 * duration is the sum of the entries it charged.
 */
export const PATH_COSTS = {
  hcallReal: {
    ns: 400,
    what: 'a hypercall handled in real mode (hcall_real_table: sc 1 → handler → hrfid, no partition switch); charged between hcall_enter and hcall_exit, also for a call that real mode passes on',
    source:
      'estimate: a POWER7 syscall round trip is 538 cycles at 3.55 GHz ≈ 150 ns (A. Blanchard, "powerpc: Add VDSO version of getcpu", 2012); the real-mode handler adds an HPTE lock, a PTEG search and a host page-table walk, a few hundred ns',
  },
  hcallVirt: {
    ns: 1_000,
    what: 'the host virtual-mode part of an hcall real mode could not finish (kvmppc_pseries_do_hcall; PPC970 H_ENTER pinning), after the full exit',
    source: 'estimate: a C path of a few hundred instructions with the vcpu and HPT locks, about twice a real-mode hcall',
  },
  hdsiTriage: {
    ns: 300,
    what: 'real-mode HDSI/HISI triage (kvmppc_hdsi/hisi → kvmppc_hpte_hv_fault: find_lock_hpte over two PTEGs, reflect or exit); charged before fault_triage',
    source: 'estimate: an interrupt entry plus a 16-entry hash search with one lock, the order of a real-mode hcall',
  },
  guestExit: {
    ns: 1_000,
    what: 'a full guest exit: save guest SPRs and SLB, the partition switch to the host LPID, host state restored (book3s_hv_rmhandlers.S exit path); charged before guest_exit',
    source:
      'estimate: ~60 SPR moves and 32 slbmfee/slbmfev pairs at tens of cycles each, plus isync/ptesync, at 3–4 GHz ≈ 1 µs; CONFIG_KVM_BOOK3S_HV_EXIT_TIMING (POWER8) puts its own instrumentation at 30–40 ns per exit, far below this',
  },
  guestEntry: {
    ns: 1_000,
    what: 'a guest entry: the partition switch to the guest LPID/SDR1, guest SLB and SPRs loaded (book3s_hv_rmhandlers.S entry path); charged before the entry partition_switch',
    source: 'estimate: the mirror of the exit path, same order',
  },
  vmmExit: {
    ns: 10_000,
    what: 'an exit to the VMM and back (KVM_RUN returns KVM_EXIT_PAPR_HCALL or KVM_EXIT_MMIO, QEMU handles it, KVM_RUN again)',
    source: 'estimate: two ioctl transitions, a QEMU dispatch and vcpu thread scheduling, the order of 10 µs',
  },
  tlbieGlobal: {
    ns: 500,
    what: 'a global tlbie with tlbsync and ptesync (broadcast to every core and waited for); charged per tlbie event of scope global',
    source: 'estimate: a fabric broadcast acknowledged by every core; radix work on POWER9 calls global tlbie "expensive broadcast operations" (N. Piggin, powerpc/64s/radix local single page ceiling, 2017), a few hundred ns to µs',
  },
  tlbielEntry: {
    ns: 20,
    what: 'a local tlbiel of one entry with ptesync; charged per tlbie event of scope local',
    source: 'estimate: a core-local invalidation, tens of cycles',
  },
  tlbielSet: {
    ns: 10,
    what: 'one tlbiel of a TLB congruence class in a set flush (POWER7 128 sets at a new vcpu/pcpu pairing, PPC970 256 sets at every switch); charged per set',
    source: 'estimate: a core-local invalidation loop; 128 tlbiel invalidate a whole PID in radix (N. Piggin, 2017), a few µs for a full TLB',
  },
  pageFault: {
    ns: 1_500,
    what: 'the virtual-mode page fault itself (kvmppc_book3s_hv_page_fault: HPTE re-read, memslot lookup, locks, re-validation, HPTE install and rmap chain), without the host work it waits for; charged after page_fault_enter',
    source: 'estimate: the function and its locks, a few hundred instructions and several cache misses, the order of 1 µs',
  },
  gupFast: {
    ns: 150,
    what: 'get_user_pages_fast on the VMM page table (lockless walk, page reference); charged at every lookup, including the ones that go on to fault the page in',
    source: 'estimate: a four-level page-table walk with an atomic increment, ~100–200 ns',
  },
  hostFault: {
    ns: 2_000,
    what: 'the host fault-in of a fresh anonymous page (handle_mm_fault: allocate and zero a page, set the PTE); charged at a host_page map',
    source: 'estimate: a minor fault is about 1 µs; zeroing a 4K–64K page adds 0.5–5 µs',
  },
  swapIn: {
    ns: 2_000_000,
    what: 'a swap-in from disk (do_swap_page reading the page back); charged at a host_page swap_in',
    source: 'published: disk seek 2 ms (15k rpm drive), "Latency numbers every programmer should know" (J. Dean); a 7,200 rpm disk averages 4 ms seek plus 4 ms rotation',
  },
  notifier: {
    ns: 300,
    what: 'one MMU-notifier callback into KVM (kvm_mmu_notifier_*: SRCU, mmu_lock, kvm_handle_hva memslot walk); charged after the notifier event',
    source: 'estimate: a lock and a memslot walk, a few hundred ns',
  },
  notifierHpte: {
    ns: 100,
    what: 'one HPTE unmapped by a notifier (kvm_unmap_rmapp: lock the HPTE, clear it, unlink it); charged per HPTE, its tlbie charged separately',
    source: 'estimate: a locked HPTE update and chain unlink, ~100 ns',
  },
  guestAccess: {
    ns: 4,
    what: 'a guest load/store/fetch that translates (model parameter: the guest time of one modelled access)',
    source: 'model parameter: an L1 hit with a TLB hit, a few cycles (2 ticks at 512 MHz, as in the earlier flat table)',
  },
  guestStep: {
    ns: 195,
    what: 'guest work between scenario operations and per `run` step (model parameter)',
    source: 'model parameter: 100 ticks at 512 MHz, as in the earlier flat table, so scenario HDEC expiries on POWER7 fall where they did',
  },
} as const satisfies Record<string, CostEntry>;

export type PathName = keyof typeof PATH_COSTS;
export const PATH_NAMES = Object.keys(PATH_COSTS) as PathName[];

/** The CPUs with a timebase in this table (the machine profiles). */
export type TimebaseCpu = 'power7' | 'ppc970';

/** Timebase frequency of each CPU, with its source. */
export const TIMEBASE = {
  power7: {
    hz: 512_000_000,
    source: 'POWER7 (and later) timebase: 512 MHz; QEMU spapr sets the same rate for pSeries guests ("Set time-base frequency to 512 MHz", SPAPR_TIMEBASE_FREQ), and under KVM passes the host rate (kvmppc_get_tbfreq reads /proc/cpuinfo "timebase")',
  },
  ppc970: {
    hz: 312_500_000,
    source:
      'estimate: no device tree of a KVM-capable 970 host (YDL PowerStation, 970MP at 2.5 GHz) was found; IBM 970 boards clock the timebase at the core clock / 8 (libc-alpha, 2005-10, for the 970-based JS20; Apple G5s use an external 33 MHz clock but have no usable hypervisor mode), so 2.5 GHz / 8',
  },
} as const satisfies Record<TimebaseCpu, { hz: number; source: string }>;

/** Timebase frequency (Hz) of a machine profile (the power9 profiles run the 512 MHz timebase too). */
export function timebaseHzFor(profile: string): number | undefined {
  if (profile === 'ppc970') return TIMEBASE.ppc970.hz;
  if (profile === 'power7' || profile.startsWith('power9')) return TIMEBASE.power7.hz;
  return undefined;
}

/** ns → timebase ticks at hz, rounded to the nearest tick (exact for the table's integers). */
export function nsToTicks(ns: number, hz: number): number {
  return Math.round((ns * hz) / 1e9);
}

/** The table in ticks of one CPU's timebase: what the model charges. */
export type Timing = { readonly [K in PathName]: number } & {
  readonly cpu: TimebaseCpu;
  readonly timebaseHz: number;
  /** Host decrementer period loaded into HDEC at entry (§G.2 entry step 4): 1 ms of timebase. */
  readonly hdecTicks: number;
};

/** The table in ticks for `cpu` (a new frozen object per call; nothing is cached at module level). */
export function timingFor(cpu: TimebaseCpu): Timing {
  const hz = TIMEBASE[cpu].hz;
  const t: Record<string, number | string> = { cpu, timebaseHz: hz, hdecTicks: hz / 1000 };
  for (const k of PATH_NAMES) t[k] = nsToTicks(PATH_COSTS[k].ns, hz);
  return Object.freeze(t) as unknown as Timing;
}

/**
 * The clock port: how a modelled path says it took time. The machine creates one per run (over
 * its recorder) and gives the same instance to the host and to KVM; a path charges its table entry
 * (`clock.charge(clock.t.swapIn)`) where the model runs it, so every event written afterwards
 * carries the later time.
 */
export interface Clock {
  /** The table in this run's ticks. */
  readonly t: Timing;
  /** Current time in ticks. */
  readonly now: number;
  /** Advance time by `ticks` (≥ 0). */
  charge(ticks: number): void;
}
