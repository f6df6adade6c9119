// Run summary: what a comparison of configurations needs (demo, and later diff): faults by
// interrupt and decision, notifier work, re-faults after invalidation, pinning, partition switches,
// TLB flushes, host swap traffic. Read from the replay handlers' counters, never counted here.

import { S_ABSENT_HPTE_WRITES, S_NOTIFIER_HPTES, S_REFAULTS } from '../replay/handlers/counters.js';
import { StateFold } from '../replay/state.js';
import { E, ENUMS, K } from '../trace/kinds.js';
import type { TraceReader } from '../trace/reader.js';
import { hcallName } from '../trace/names.js';

export interface RunSummary {
  profile: string;
  seed: number;
  events: number;
  complete: boolean;
  guest_ops: number;
  hcalls: number;
  hcalls_by_name: Record<string, number>;
  hcalls_virtual_mode: number;
  hcalls_to_userspace: number;
  /** fault_triage events by interrupt (hdsi, hisi, dsi, isi). */
  faults_by_interrupt: Record<string, number>;
  /** fault_triage events by decision (reflect, retry, virtual, mmio, guest). */
  faults_by_decision: Record<string, number>;
  page_faults: number;
  page_faults_by_outcome: Record<string, number>;
  notifier_callbacks: number;
  notifier_noop_pinned: number;
  notifier_invalidations: number;
  hptes_invalidated_by_notifiers: number;
  /** Virtual-mode faults that re-instantiated a gfn some notifier had invalidated before. */
  refaults_after_invalidation: number;
  absent_hpte_writes: number;
  pinned_pages: number;
  partition_switches: number;
  tlbies: number;
  tlb_flushes: number;
  host_swapouts_guest: number;
  host_swapouts_other: number;
  host_swapins_guest: number;
  mmio_exits: number;
  /** Anomaly counters, all severities: recorded anomaly events and anomalies the replay detected. */
  anomalies: number;
}

const name = <T extends readonly string[]>(t: T, v: number) => t[v] ?? String(v);

/** Summary of a whole trace: one replay (src/replay/state.ts), then summaryOf its handlers. */
export async function summarize(reader: TraceReader): Promise<RunSummary> {
  const fold = new StateFold();
  for await (const b of reader.batches()) fold.foldBatch(b);
  fold.finalize();
  return summaryOf(fold, reader.info.profile, reader.info.seed);
}

/**
 * The summary from a replay's handlers: every number is read from the counters handler (or the
 * anomaly handler); nothing here counts events (one counting path, tested against SQL counts in
 * test/analysis/counters-sql.test.ts).
 */
export function summaryOf(fold: StateFold, profile: string, seed: number): RunSummary {
  const c = fold.counters;
  const k = c.byKind;
  const sum = (a: Float64Array, pick: (j: number) => boolean) => a.reduce((n, v, j) => (pick(j) ? n + v : n), 0);
  const byName = (names: readonly string[], a: Float64Array, groupOf: (j: number) => number) => {
    const out: Record<string, number> = {};
    a.forEach((v, j) => v !== 0 && (out[name(names, groupOf(j))] = (out[name(names, groupOf(j))] ?? 0) + v));
    return out;
  };
  const hostOp = (op: number, owner: number) => c.hostOps[op * 2 + owner];
  const hcalls_by_name: Record<string, number> = {};
  for (const [nr, n] of [...c.hcallEnters.entries()].sort((a, b) => b[1] - a[1])) hcalls_by_name[hcallName(nr)] = n;
  return {
    profile,
    seed,
    events: k.reduce((n, v) => n + v, 0),
    complete: k[K.run_end] > 0,
    guest_ops: k[K.guest_op],
    hcalls: k[K.hcall_enter],
    hcalls_by_name,
    hcalls_virtual_mode: c.hcallPath[E.hcall_path.virtual],
    hcalls_to_userspace: c.hcallPath[E.hcall_path.user],
    faults_by_interrupt: byName(ENUMS.fault_kind, c.faults, (j) => j >> 3),
    faults_by_decision: byName(ENUMS.fault_decision, c.faults, (j) => j & 7),
    page_faults: k[K.page_fault_enter],
    page_faults_by_outcome: byName(ENUMS.page_fault_outcome, c.pageFaultOutcome, (j) => j),
    notifier_callbacks: k[K.notifier],
    notifier_noop_pinned: sum(c.notifierEffect, (j) => (j & 7) === E.notifier_effect.noop_pinned),
    notifier_invalidations: sum(c.notifierEffect, (j) => (j & 7) === E.notifier_effect.invalidated),
    hptes_invalidated_by_notifiers: c.scalars[S_NOTIFIER_HPTES],
    refaults_after_invalidation: c.scalars[S_REFAULTS],
    absent_hpte_writes: c.scalars[S_ABSENT_HPTE_WRITES],
    pinned_pages: hostOp(E.host_page_op.pin, 0) + hostOp(E.host_page_op.pin, 1),
    partition_switches: k[K.partition_switch],
    tlbies: c.tlbScope[E.tlb_scope.global] + c.tlbScope[E.tlb_scope.local],
    tlb_flushes: c.tlbScope[E.tlb_scope.lpid_sets] + c.tlbScope[E.tlb_scope.all_sets],
    host_swapouts_guest: hostOp(E.host_page_op.swap_out, 0),
    host_swapouts_other: hostOp(E.host_page_op.swap_out, 1),
    host_swapins_guest: hostOp(E.host_page_op.swap_in, 0),
    mmio_exits: c.mmio[0] + c.mmio[1],
    anomalies: fold.anomalies.total(),
  };
}
