// Anomalies: named counters with a severity, declared once (as Perfetto's `stats` table is).
//
// An anomaly is either RECORDED (an `anomaly` event written while recording: its `code` field
// indexes this table) or DETECTED by the replay handlers (an event that contradicts the state
// folded so far, e.g. an hpte_write for an LPID no vm_create announced, or one whose old_v/old_r
// are not what the fold holds for that slot: 111.. are such before-value checks). Both kinds are counted
// by name in the replay's anomaly handler (src/replay/handlers/anomalies.ts) and shown by
// `hvtrace info` and `hvtrace state`; any nonzero counter of severity `error` makes those commands
// exit with EXIT_ANOMALY.
//
// Codes are stable forever (traces store them): 1..28 are the kernel-model §J invariant items, as
// `record --check` (src/machine/invariants.ts) and the TLB model (src/hw/mmu.ts, code 26) write
// them today; 0 is a violation whose §J item was not recognised; 100.. are detected by replay and
// never written into a trace. Append only; never renumber.

export type AnomalySeverity = 'info' | 'warning' | 'error' | 'data_loss';

export interface AnomalyDef {
  readonly code: number;
  readonly severity: AnomalySeverity;
  readonly description: string;
}

/** The `severity` field of an `anomaly` event (kinds.ts: 0 info, 1 warning, 2 error). */
export const SEVERITY_WIRE: { readonly [S in AnomalySeverity]: number } = { info: 0, warning: 1, error: 2, data_loss: 3 };

/** Exit code of `info` / `state` when an error-level anomaly counter is nonzero (README.md). */
export const EXIT_ANOMALY = 6;

const J = (code: number, description: string): AnomalyDef => ({ code, severity: 'error', description: `kernel-model §J${code}: ${description}` });

export const ANOMALIES = {
  invariant_unknown: { code: 0, severity: 'error', description: 'an invariant violation whose §J item was not recognised' },
  j1_geometry: J(1, 'HPT geometry'),
  j2_lock: J(2, 'HVLOCK or rmap lock held at a quiescent point'),
  j3_valid_absent: J(3, 'an HPTE both VALID and ABSENT'),
  j4_chain_membership: J(4, 'rmap chain membership'),
  j5_ring: J(5, 'revmap ring integrity'),
  j6_mmio: J(6, 'MMIO HPTE marking'),
  j7_guest_view: J(7, 'guest view of an HPTE'),
  j8_stale_host_page: J(8, 'a VALID HPTE maps a host page the host no longer maps'),
  j9_host_write_protection: J(9, 'host write-protection'),
  j10_size: J(10, 'page size containment'),
  j11_wimg: J(11, 'WIMG of a RAM-backed HPTE'),
  j12_pinned: J(12, 'pinned mode changed the HPT on a notifier'),
  j13_ppc970_hv_fault: J(13, 'hypervisor storage fault on PPC970'),
  j14_rc_monotonic: J(14, 'R/C monotonicity'),
  j15_rmap_rc_provenance: J(15, 'rmap R/C provenance'),
  j16_rc_insert: J(16, 'HPTE R/C not in the rmap at insertion'),
  j17_tlbie: J(17, 'VALID → not VALID without a tlbie'),
  j18_notifier_counters: J(18, 'notifier seq/count'),
  j19_retry: J(19, 'retry correctness'),
  j20_fault_revalidate: J(20, 'fault re-validation'),
  j21_h_enter_placement: J(21, 'H_ENTER placement'),
  j22_h_remove_effect: J(22, 'H_REMOVE effect'),
  j23_switch: J(23, 'partition switch LPID/SDR1'),
  j24_lpid: J(24, 'LPID uniqueness'),
  j25_vcore: J(25, 'vcore grouping'),
  j26_tlb_freshness: J(26, 'use of a TLB entry whose HPTE changed without a tlbie'),
  j27_nested_shadow: J(27, 'nested shadow PTE permissions'),
  j28_nested_rmap: J(28, 'nested rmap coverage'),
  // The Linux 3.3 (seed 1) model's own invariants (src/kvm/hash/invariants.ts), recorded by `record --check`.
  s1_no_absent: { code: 40, severity: 'error', description: 'an ABSENT HPTE in a Linux 3.3 VM (3.3 has no ABSENT entries)' },
  s1_pinned: { code: 41, severity: 'error', description: 'a VALID HPTE of a Linux 3.3 VM maps a page outside ram_pginfo or one without its pin' },
  s1_no_rmap: { code: 42, severity: 'error', description: 'an rmap word or revmap chain in a Linux 3.3 VM (3.3 keeps none)' },
  s1_no_notifier: { code: 43, severity: 'error', description: 'an MMU-notifier effect on a Linux 3.3 VM (3.3 registers no notifier)' },
  s1_guest_view: { code: 44, severity: 'error', description: 'a Linux 3.3 H_REMOVE/H_READ returned other than the hardware HPTE (3.3 returns host RPNs, no guest view)' },
  // Detected by replay (never written into a trace).
  unknown_anomaly_code: { code: 100, severity: 'warning', description: 'an anomaly event whose code is not in this table' },
  hpte_write_unknown_vm: { code: 101, severity: 'error', description: 'hpte_write for an LPID with no vm_create before it' },
  hpte_write_index_out_of_range: { code: 102, severity: 'error', description: 'hpte_write index beyond the VM\'s HPT' },
  rmap_change_unknown_vm: { code: 103, severity: 'error', description: 'rmap_change for an LPID with no vm_create before it' },
  rmap_change_no_memslot: { code: 104, severity: 'error', description: 'rmap_change for a gfn in no memslot' },
  memslot_unknown_vm: { code: 105, severity: 'error', description: 'memslot event for an LPID with no vm_create before it' },
  unpin_without_pin: { code: 106, severity: 'error', description: 'host_page unpin of a frame with no pin' },
  slb_slot_out_of_range: { code: 107, severity: 'error', description: 'slb_update slot beyond the SLB' },
  checkpoint_unknown_vm: { code: 108, severity: 'error', description: 'checkpoint digest for an LPID with no vm_create before it' },
  trace_truncated: { code: 109, severity: 'data_loss', description: 'the trace ends without run_end (recording interrupted)' },
  op_cause_beyond_window: { code: 110, severity: 'warning', description: 'an event whose cause lies further back than the op index follows causes (CAUSE_WINDOW events): attributed to no guest operation' },
  // Before-values that contradict the fold (checked on every event that states what was there before).
  hpte_write_old_v_mismatch: { code: 111, severity: 'error', description: 'hpte_write old_v differs from the HPTE dword 0 the fold holds for that slot' },
  hpte_write_old_r_mismatch: { code: 112, severity: 'error', description: 'hpte_write old_r differs from the HPTE dword 1 the fold holds for that slot' },
  page_fault_enter_snapshot_mismatch: { code: 113, severity: 'error', description: 'page_fault_enter hpte_v/hpte_r/gpte_r snapshot differs from the HPTE and guest view the fold holds for that slot' },
  partition_switch_from_lpid_mismatch: { code: 114, severity: 'error', description: 'partition_switch from_lpid differs from the LPID the fold holds for that core' },
  notifier_seq_count_mismatch: { code: 115, severity: 'error', description: 'notifier mmu_seq/mmu_count differ from the previous values of the VM advanced by the callback\'s rule (kvm_main.c)' },
} as const satisfies Record<string, AnomalyDef>;

export type AnomalyName = keyof typeof ANOMALIES;
export const ANOMALY_NAMES = Object.keys(ANOMALIES) as AnomalyName[];
/** Highest code + 1: counter arrays are indexed by code. */
export const ANOMALY_CODES = 128;

/** code → name (holes undefined). */
export const ANOMALY_BY_CODE: readonly (AnomalyName | undefined)[] = (() => {
  const t: (AnomalyName | undefined)[] = new Array(ANOMALY_CODES).fill(undefined);
  for (const n of ANOMALY_NAMES) {
    const c = ANOMALIES[n].code;
    if (t[c] !== undefined || c < 0 || c >= ANOMALY_CODES) throw new Error(`anomaly ${n}: bad or duplicate code ${c}`);
    t[c] = n;
  }
  return t;
})();

/** Anomaly codes as a const object for hot paths: `A.hpte_write_unknown_vm`. */
export const A: { readonly [P in AnomalyName]: (typeof ANOMALIES)[P]['code'] } = Object.fromEntries(
  ANOMALY_NAMES.map((n) => [n, ANOMALIES[n].code]),
) as never;
