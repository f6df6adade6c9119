// Run summary: one streaming pass over a trace (any format), counting what a comparison of
// configurations needs (demo, and later diff): faults by interrupt and decision, notifier work,
// re-faults after invalidation, pinning, partition switches, TLB flushes, host swap traffic.

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
  anomalies: number;
}

const name = <T extends readonly string[]>(t: T, v: number) => t[v] ?? String(v);

export async function summarize(reader: TraceReader): Promise<RunSummary> {
  const s: RunSummary = {
    profile: reader.info.profile,
    seed: reader.info.seed,
    events: 0,
    complete: false,
    guest_ops: 0,
    hcalls: 0,
    hcalls_by_name: {},
    hcalls_virtual_mode: 0,
    hcalls_to_userspace: 0,
    faults_by_interrupt: {},
    faults_by_decision: {},
    page_faults: 0,
    page_faults_by_outcome: {},
    notifier_callbacks: 0,
    notifier_noop_pinned: 0,
    notifier_invalidations: 0,
    hptes_invalidated_by_notifiers: 0,
    refaults_after_invalidation: 0,
    absent_hpte_writes: 0,
    pinned_pages: 0,
    partition_switches: 0,
    tlbies: 0,
    tlb_flushes: 0,
    host_swapouts_guest: 0,
    host_swapouts_other: 0,
    host_swapins_guest: 0,
    mmio_exits: 0,
    anomalies: 0,
  };
  const hcallCounts = new Map<number, number>();
  const invalidated = new Set<number>();
  const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  for await (const b of reader.batches()) {
    s.events += b.length;
    for (let i = 0; i < b.length; i++) {
      switch (b.kind[i]) {
        case K.guest_op:
          s.guest_ops++;
          break;
        case K.hcall_enter: {
          s.hcalls++;
          const nr = b.wordNum(i, 0);
          hcallCounts.set(nr, (hcallCounts.get(nr) ?? 0) + 1);
          break;
        }
        case K.hcall_exit: {
          const path = b.wordNum(i, 2);
          if (path === E.hcall_path.virtual) s.hcalls_virtual_mode++;
          else if (path === E.hcall_path.user) s.hcalls_to_userspace++;
          break;
        }
        case K.fault_triage:
          bump(s.faults_by_interrupt, name(ENUMS.fault_kind, b.wordNum(i, 0)));
          bump(s.faults_by_decision, name(ENUMS.fault_decision, b.wordNum(i, 5)));
          break;
        case K.page_fault_enter:
          s.page_faults++;
          break;
        case K.page_fault_exit: {
          const outcome = b.wordNum(i, 3);
          bump(s.page_faults_by_outcome, name(ENUMS.page_fault_outcome, outcome));
          const gfn = b.wordNum(i, 5);
          if (outcome === E.page_fault_outcome.installed && gfn >= 0 && invalidated.has(b.lpid[i] * 2 ** 40 + gfn)) s.refaults_after_invalidation++;
          break;
        }
        case K.notifier: {
          s.notifier_callbacks++;
          const effect = b.wordNum(i, 4);
          if (effect === E.notifier_effect.noop_pinned) s.notifier_noop_pinned++;
          if (effect === E.notifier_effect.invalidated) {
            s.notifier_invalidations++;
            s.hptes_invalidated_by_notifiers += b.wordNum(i, 5);
            const gfn = b.wordNum(i, 3);
            if (gfn >= 0) invalidated.add(b.lpid[i] * 2 ** 40 + gfn);
          }
          break;
        }
        case K.hpte_write:
          if ((b.wordLo(i, 3) & 0x20) !== 0) s.absent_hpte_writes++;
          break;
        case K.host_page: {
          const op = b.wordNum(i, 0);
          const other = b.wordNum(i, 5) === 1;
          if (op === E.host_page_op.pin) s.pinned_pages++;
          else if (op === E.host_page_op.swap_out) other ? s.host_swapouts_other++ : s.host_swapouts_guest++;
          else if (op === E.host_page_op.swap_in && !other) s.host_swapins_guest++;
          break;
        }
        case K.partition_switch:
          s.partition_switches++;
          break;
        case K.tlbie: {
          const scope = b.wordNum(i, 1);
          if (scope === E.tlb_scope.lpid_sets || scope === E.tlb_scope.all_sets) s.tlb_flushes++;
          else s.tlbies++;
          break;
        }
        case K.mmio_exit:
          s.mmio_exits++;
          break;
        case K.anomaly:
          s.anomalies++;
          break;
        case K.run_end:
          s.complete = true;
          break;
      }
    }
  }
  for (const [nr, n] of [...hcallCounts.entries()].sort((a, b) => b[1] - a[1])) s.hcalls_by_name[hcallName(nr)] = n;
  return s;
}
