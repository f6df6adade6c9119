// A replay: the machine state rebuilt from events alone, as a set of handler instances (one per
// concern, src/replay/handlers/) composed through ONE table, HANDLES, exhaustive over event kinds:
// adding a kind to trace/kinds.ts without an entry here fails to compile, and naming a handler
// for a kind it has no method for fails to compile too. One StateFold per replay; two can live
// side by side in one process (e.g. for diff): nothing is module-level state.
//
// Handlers (deps in brackets; an event reaches its handlers in dependency order):
//   anomalies    recorded anomaly events and anomalies the others detect, by name (trace/anomalies.ts)
//   hpt          HPT hardware words and guest view per VM (vm_create, hpte_write; page_fault_enter checked) [anomalies]
//   memslots     memslots per VM (memslot)                                              [hpt, anomalies]
//   rmap         rmap words, revmap links, notifier seq/count (rmap_change, notifier)   [hpt, memslots, anomalies]
// Fields that state what was there before (hpte_write old_v/old_r, the page_fault_enter
// snapshot, partition_switch from_lpid, notifier seq/count against its callback's rule) are
// checked by the handler that owns that state; a contradiction is an error anomaly (111..).
//   host         VMM page table hva → pfn, pins, other processes' frames (host_page)    [anomalies]
//   cores        LPID/SDR1/LPCR/in-guest, TLB invalidations and flushes                 [hpt, anomalies]
//   vcpus        vcpu run state, vcores, SLBs (guest_enter/exit, vcpu_state, vcore_state, slb_update) [hpt, anomalies]
//   ops          the guest operation every event serves (every event: cause chains)     [anomalies]
//   checkpoints  recorded checkpoint digests, verified against the fold on request      [hpt, memslots, rmap, vcpus, anomalies]
//   counters     every event counter (events by kind, faults, hcalls, notifier, host ops, ...) []
//   perf         `stats`: exits, hcalls and page faults paired with their times, and per-context
//                counts (faults, notifier, host pages, switches, tlbies) per (lpid, vcpu, core);
//                opt-in (StateFold({ perf: true }); the checkpoint index keeps it)             []
// Adding an event kind: add it to trace/kinds.ts; this file then fails to compile until HANDLES
// names the handlers that consume it (at least 'ops'); each handler named must have a method of
// the kind's name (also checked by the compiler), reading fields through F.<kind>.<field>. A new
// concern is a new handler class: add it to Handlers and the constructor, with its deps.
// Not foldable from trace v1 (documented, not guessed): host PTE young/dirty bits (get_user_pages
// sets them without an event) and which hardware thread (ptid) last ran a vcpu.
//
// Hot path: the fold loop is compiled from HANDLES once per StateFold (compileFoldLoop): per event
// one increment of counters.byKind and a switch on the kind whose case calls that kind's handler
// methods directly (monomorphic, inlined by V8); typed arrays in RowTables (table.ts); no BigInt,
// no allocation per event.

import type { EventBatch } from '../trace/batch.js';
import { type EventKind, KINDS, KIND_NAMES } from '../trace/kinds.js';
import { AnomalyHandler } from './handlers/anomalies.js';
import { CheckpointHandler } from './handlers/checkpoints.js';
import { CoreHandler, type CoreFold } from './handlers/cores.js';
import { CounterHandler } from './handlers/counters.js';
import { type HandlerName, type ReplayHandler, topoSort } from './handlers/handler.js';
import { HostHandler, type HostState } from './handlers/host.js';
import { HptHandler } from './handlers/hpt.js';
import { MemslotHandler } from './handlers/memslots.js';
import { OpIndexHandler } from './handlers/ops.js';
import { PERF_KINDS, PerfHandler } from './handlers/perf.js';
import { RmapHandler } from './handlers/rmap.js';
import { VcpuHandler } from './handlers/vcpus.js';
import { VmState } from './handlers/vm-view.js';
import type { RowTable } from './table.js';

export { FRAME_OWNER_OTHER, HOST_PRESENT, HOST_RW, HOST_SWAP, HostState } from './handlers/host.js';
export { SLB_ROWS, VcoreFold, VcpuFold } from './handlers/vcpus.js';
export { CoreFold } from './handlers/cores.js';
export { FoldMemslot } from './handlers/memslots.js';
export { VmState } from './handlers/vm-view.js';
export type { CheckpointDivergence } from './handlers/checkpoints.js';

/** The handler instances of one replay, by name. */
export interface Handlers {
  anomalies: AnomalyHandler;
  hpt: HptHandler;
  memslots: MemslotHandler;
  rmap: RmapHandler;
  host: HostHandler;
  cores: CoreHandler;
  vcpus: VcpuHandler;
  ops: OpIndexHandler;
  checkpoints: CheckpointHandler;
  counters: CounterHandler;
  perf: PerfHandler;
}

type EventFn = (b: EventBatch, i: number) => void;
/** Handlers that have a method for kind K (so HANDLES can only name a handler that handles K). */
type HandlersOf<K extends string> = { [N in keyof Handlers]: Handlers[N] extends { [P in K]: EventFn } ? N : never }[keyof Handlers];

/**
 * Which handlers consume each event kind (order here does not matter: dispatch follows deps).
 * Two handlers see EVERY event straight from the fold loop instead (one typed-array increment and
 * one monomorphic call, cheaper than a dispatch): counters (events by kind) and ops (the op index).
 * perf is listed for the kinds it consumes, but is fed by its own pass over each folded range
 * (PerfHandler.seeRange, after the loop: it has no deps and nothing depends on it), because its
 * methods inlined into the compiled loop slowed every handler (bench/README.md, stats).
 */
const HANDLES: { readonly [K in EventKind]: readonly HandlersOf<K>[] } = {
  run_start: [],
  run_end: [],
  hcall_enter: ['counters', 'perf'],
  hcall_exit: ['counters', 'perf'],
  hpte_write: ['hpt', 'counters'],
  rmap_change: ['rmap'],
  tlbie: ['cores', 'counters', 'perf'],
  fault_triage: ['counters', 'perf'],
  page_fault_enter: ['hpt', 'perf'],
  page_fault_exit: ['counters', 'perf'],
  notifier: ['rmap', 'counters', 'perf'],
  host_page: ['host', 'counters', 'perf'],
  partition_switch: ['cores', 'perf'],
  guest_enter: ['vcpus', 'perf'],
  guest_exit: ['vcpus', 'perf'],
  mmio_exit: ['counters'],
  memslot: ['memslots', 'rmap'],
  vm_create: ['hpt', 'memslots', 'rmap', 'vcpus'],
  vcore_state: ['vcpus'],
  vcpu_state: ['vcpus'],
  slb_update: ['vcpus'],
  checkpoint: ['checkpoints'],
  anomaly: ['anomalies'],
  guest_op: ['counters'],
};

export interface FoldOptions {
  /**
   * Keep the op index (which guest operation every event serves). Off by default: it is the one
   * handler whose cost is per event whatever the kind, and only op questions need it (the
   * checkpoint index is always built with it, so a seek can answer them).
   */
  opIndex?: boolean;
  /** Keep the perf handler (`stats`); off by default like the op index (the checkpoint index keeps it). */
  perf?: boolean;
}

export class StateFold {
  readonly h: Handlers;
  /** Handlers in dependency order (dispatch, reset, snapshot and restore all walk this). */
  readonly order: readonly ReplayHandler[];
  /**
   * The fold loop, compiled once per StateFold from HANDLES (see compileFoldLoop): one `switch` on
   * the kind code whose cases call the handlers' methods directly, in dependency order.
   */
  private readonly loop: (b: EventBatch, from: number, to: number) => void;
  /** seq of the last event folded (-1 before any) and its time. */
  lastSeq = -1;
  lastTime = 0;

  constructor(opts: FoldOptions = {}) {
    const anomalies = new AnomalyHandler();
    const hpt = new HptHandler(anomalies);
    const memslots = new MemslotHandler(hpt, anomalies);
    const rmap = new RmapHandler(hpt, memslots, anomalies);
    const vcpus = new VcpuHandler(hpt, anomalies);
    this.h = {
      anomalies,
      hpt,
      memslots,
      rmap,
      host: new HostHandler(anomalies),
      cores: new CoreHandler(hpt, anomalies),
      vcpus,
      ops: new OpIndexHandler(anomalies, opts.opIndex ?? false),
      checkpoints: new CheckpointHandler(hpt, memslots, rmap, vcpus, anomalies),
      counters: new CounterHandler(),
      perf: new PerfHandler(opts.perf ?? false),
    };
    this.order = topoSort(Object.values(this.h) as ReplayHandler[]);
    const rank = new Map<HandlerName, number>(this.order.map((h, k) => [h.name, k]));
    const cases: [number, HandlerName[]][] = [];
    // perf is fed by its own pass over each folded range (PerfHandler.seeRange), not from the
    // compiled loop; its HANDLES entries say which kinds that pass must consume, checked here.
    const perfKinds = KIND_NAMES.filter((k) => (HANDLES[k] as readonly HandlerName[]).includes('perf')).map((k) => KINDS[k].code);
    if (perfKinds.length !== PERF_KINDS.length || perfKinds.some((c) => !PERF_KINDS.includes(c))) throw new Error('PerfHandler.seeRange does not consume the kinds HANDLES gives to perf');
    for (const k of KIND_NAMES) {
      const names = [...(HANDLES[k] as readonly HandlerName[])].filter((n) => n !== 'perf').sort((a, b) => rank.get(a)! - rank.get(b)!);
      for (const n of names) {
        if (typeof (this.h[n] as unknown as Record<string, unknown>)[k] !== 'function') throw new Error(`replay handler ${n} has no method for ${k}`);
      }
      if (names.length > 0) cases.push([KINDS[k].code, names]);
    }
    this.loop = compileFoldLoop(this.h, cases);
  }

  /** Back to the state before event 0. */
  reset(): void {
    for (const h of this.order) h.reset();
    this.lastSeq = -1;
    this.lastTime = 0;
  }

  /** After the last event (derived data). */
  finalize(): void {
    for (const h of this.order) h.finalize();
  }

  /** Fold events [from, to) of the batch. */
  foldRange(b: EventBatch, from: number, to: number): void {
    if (to <= from) return;
    const ops = this.h.ops;
    if (ops.enabled) ops.seeRange(b, from, to);
    this.loop(b, from, to);
    const perf = this.h.perf;
    if (perf.enabled) perf.seeRange(b, from, to);
    this.lastSeq = b.firstSeq + to - 1;
    this.lastTime = b.time[to - 1];
  }

  /** Fold events of the batch with seq ≤ upTo. Returns false once upTo is passed. */
  foldBatch(b: EventBatch, upTo = Number.POSITIVE_INFINITY): boolean {
    const n = b.length;
    const last = upTo - b.firstSeq;
    if (last >= n - 1) {
      this.foldRange(b, 0, n);
      return true;
    }
    this.foldRange(b, 0, Math.max(0, last + 1));
    return false;
  }

  /** Every RowTable of the state, with a stable key, handler by handler (checkpoints walk this). */
  tables(): [string, RowTable][] {
    const out: [string, RowTable][] = [];
    for (const h of this.order) h.tables(out);
    return out;
  }

  // -- Views for queries (built on demand, never on the hot path) --------------------------------

  vm(lpid: number): VmState | undefined {
    const h = this.h.hpt.vms.get(lpid);
    return h && new VmState(h, this.h.memslots.vms.get(lpid)!, this.h.rmap.vms.get(lpid)!, this.h.vcpus.vms.get(lpid)!);
  }

  /** VMs by LPID. */
  get vms(): Map<number, VmState> {
    return new Map([...this.h.hpt.vms.keys()].map((l) => [l, this.vm(l)!]));
  }

  get host(): HostState {
    return this.h.host.host;
  }

  get cores(): ReadonlyMap<number, CoreFold> {
    return this.h.cores.cores;
  }

  get counters(): CounterHandler {
    return this.h.counters;
  }

  get perf(): PerfHandler {
    return this.h.perf;
  }

  get anomalies(): AnomalyHandler {
    return this.h.anomalies;
  }

  /** Check checkpoint digests while folding. */
  get verify(): boolean {
    return this.h.checkpoints.verify;
  }
  set verify(v: boolean) {
    this.h.checkpoints.verify = v;
  }
  get checkpoints(): number {
    return this.h.checkpoints.checkpoints;
  }
  get divergence() {
    return this.h.checkpoints.divergence;
  }
}

/**
 * Compile the fold loop from the dispatch table: per event one increment of counters.byKind and a
 * `switch` on the kind code whose case calls each handler's method of that kind by name, e.g.
 * `case 4: hpt.hpte_write(b, i); counters.hpte_write(b, i); break;`. Generated (new Function)
 * rather than a table of bound methods because each call site in the generated source is then
 * monomorphic and V8 inlines the handler bodies, as it did for the one hand-written fold before
 * the handlers (measured in bench/README.md, issue 9). The source is built from kind codes and
 * handler/kind names only (identifiers from KINDS and Handlers), never from trace data, and each
 * StateFold compiles its own copy, so two replays do not share type feedback.
 */
function compileFoldLoop(h: Handlers, cases: readonly [number, readonly HandlerName[]][]): (b: EventBatch, from: number, to: number) => void {
  const ident = /^[a-z_][a-z0-9_]*$/;
  const names = Object.keys(h) as HandlerName[];
  const body: string[] = [];
  for (const [code, hs] of cases) {
    const kind = KIND_NAMES.find((k) => KINDS[k].code === code)!;
    if (!ident.test(kind) || !Number.isInteger(code)) throw new Error(`bad kind ${kind}`);
    body.push(`case ${code}: ${hs.map((n) => `${n}.${kind}(b, i);`).join(' ')} break;`);
  }
  for (const n of names) if (!ident.test(n)) throw new Error(`bad handler name ${n}`);
  const src = `return function foldLoop(b, from, to) {
  const kinds = b.kind;
  for (let i = from; i < to; i++) {
    const k = kinds[i];
    byKind[k]++;
    switch (k) {
      ${body.join('\n      ')}
    }
  }
};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function(...names, 'byKind', src) as (...a: unknown[]) => (b: EventBatch, from: number, to: number) => void;
  return make(...names.map((n) => h[n]), h.counters.byKind);
}
