// `hvtrace diff A B`, sections 3 and 4 (issue 12): alignment of two runs on the guest's own
// operations, and per-page differences.
//
// OPS. A guest_op's op_id is its position in the seeded operation stream (src/guest/workloads.ts),
// so one seed gives the same ops, with the same op, pid, ea and ea_end, on every profile (checked by
// test/analysis/diff-align.test.ts with SQL on a power7 and a ppc970 recording). The REACTION of
// the hypervisor to op N is:
//   - every event the replay's op index attributes to N (replay/handlers/ops.ts: a guest_op serves
//     itself, an event serves the op of its cause, causes followed back at most CAUSE_WINDOW events);
//   - plus, marked `bg`, the events that serve no op (no cause: host reclaim and the notifier
//     callbacks it triggers, kswapd swap-outs) recorded between guest_op N and guest_op N+1. That is
//     where the host's own work lands (a `tick` op runs reclaim), and without it "A invalidates,
//     B pinned" would never be seen: reclaim's events have no cause.
// reduced to a sequence of TOKENS, one per event that says something about behaviour:
//   kept      kind; hcall name (enter) / name, return code and path (exit); fault interrupt, decision,
//             access and gfn; page-fault outcome and return; notifier callback, effect, HPTEs hit and
//             gfn; host page op and owner (guest RAM or another process); HPTE write as the change
//             of state (invalid/absent/valid → invalid/absent/valid, R/C change); rmap op and gfn;
//             TLB flush scope; exit trap; MMIO gpa/length/direction; anomaly code.
//   dropped   seq, time, cause, core (absolute positions and scheduling); HPTE indexes, host pfns,
//             hvas, tlbie RB, HPTE words and hcall argument/output registers (allocation artefacts:
//             which slot of a PTEG or which host frame a page got differs for no behavioural
//             reason); notifier mmu_seq/mmu_count (running counters); host page_shift (a config
//             difference, reported by the config section); partition_switch, guest_enter,
//             vcore_state, vcpu_state (scheduling bookkeeping that follows from the exits, which
//             are kept); checkpoint events (a recording option); the guest_op itself (the alignment key).
// Two ops agree when their token sequences are equal. When they do not, the difference is named by
// KINDS below, from the tokens (an op can show several kinds; each is counted once per op).
//
// STREAMING. Each trace is read once, batch by batch (TraceReader.batches()); the two readers are
// advanced alternately, the one whose latest guest_op id is lower first. Op N is CLOSED once the
// stream is more than CAUSE_WINDOW events past N's last event (no later event can be attributed to
// it: its cause would have to be an event of N within the window) and the next guest_op has been
// seen (its bg events end there). Only open ops and closed ops the other side has not reached are
// held: memory is bounded by the events of the ops in flight (about CAUSE_WINDOW events a side, plus
// the lead of one side over the other, at most one batch), not by the trace. `peakPending` reports it.
//
// PAGES. In the same pass, per gfn and per side: faults (hdsi/hisi triage naming the gfn), page
// faults, re-faults (a page fault that installs the gfn again after an earlier install),
// notifier invalidations (callback effect `invalidated`, on the callback's first gfn), HPTE maps
// (rmap link), swap-outs, swap-ins and pins (host_page on the gfn's hva through the memslots, guest
// RAM only). A page's SCORE is the sum over those counters of |A − B|; the top N by score (ties by
// gfn) are reported, each with a one-line story and `hvtrace history <trace> --gfn G`.

import { CAUSE_WINDOW, NO_OP } from '../replay/handlers/ops.js';
import type { EventBatch } from '../trace/batch.js';
import { eventToJson, type TraceEvent } from '../trace/event.js';
import { F } from '../trace/fields.js';
import { ENUMS, K } from '../trace/kinds.js';
import { openTrace, type TraceReader } from '../trace/reader.js';
import { sqliteBatchesInWorker } from '../trace/worker-batches.js';

/** Events per batch a SQLite side's worker reads (measured: 64K put the diff's peak RSS over 500 MB). */
const WORKER_BATCH = 16384;
import { UserError } from '../trace/errors.js';
import { eventLookup } from './event-lookup.js';
import type { DiffSection } from './diff-section.js';

const WINDOW_MASK = CAUSE_WINDOW - 1;
const HPTE_V_VALID = 0x1;
const HPTE_V_ABSENT = 0x20;
const HPTE_R_RC = 0x180; // R 0x100, C 0x80

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

const en = <N extends keyof typeof ENUMS>(e: N, v: number): string => (ENUMS[e] as readonly string[])[v] ?? String(v);
const vstate = (lo: number): number => (lo & HPTE_V_VALID ? 2 : lo & HPTE_V_ABSENT ? 1 : 0);
const TWO24 = 2 ** 24;

/**
 * The behavioural token of event i of b as two numbers pushed on `out` (head, value), or nothing for
 * an event the signature ignores. head = (kind code × 2 + bg) × 2^24 + the kind's small fields;
 * value = its gfn (or hcall return, page-fault return, MMIO gpa; 0 when none).
 */
export function pushToken(b: EventBatch, i: number, bg: number, out: number[]): void {
  const kind = b.kind[i];
  let a = 0;
  let v = 0;
  switch (kind) {
    case K.hcall_enter:
      a = b.num(i, F.hcall_enter.nr) & 0xffff;
      break;
    case K.hcall_exit:
      a = (b.num(i, F.hcall_exit.nr) & 0xffff) | (b.num(i, F.hcall_exit.path) << 16);
      v = b.num(i, F.hcall_exit.ret);
      break;
    case K.hpte_write:
      a = vstate(b.lo(i, F.hpte_write.old_v)) | (vstate(b.lo(i, F.hpte_write.new_v)) << 2) |
        ((b.lo(i, F.hpte_write.old_r) & HPTE_R_RC) !== (b.lo(i, F.hpte_write.new_r) & HPTE_R_RC) ? 16 : 0);
      break;
    case K.rmap_change:
      a = b.num(i, F.rmap_change.op);
      v = b.num(i, F.rmap_change.gfn);
      break;
    case K.tlbie:
      a = b.num(i, F.tlbie.scope);
      break;
    case K.fault_triage:
      a = b.num(i, F.fault_triage.interrupt) | (b.num(i, F.fault_triage.decision) << 2) | (b.num(i, F.fault_triage.access) << 5);
      v = b.num(i, F.fault_triage.gfn);
      break;
    case K.page_fault_enter:
      v = b.num(i, F.page_fault_enter.gfn);
      break;
    case K.page_fault_exit:
      a = b.num(i, F.page_fault_exit.outcome);
      v = b.num(i, F.page_fault_exit.ret);
      break;
    case K.notifier:
      a = b.num(i, F.notifier.callback) | (b.num(i, F.notifier.effect) << 3) | (Math.min(b.num(i, F.notifier.hptes), 0x3ffff) << 6);
      v = b.num(i, F.notifier.gfn);
      break;
    case K.host_page:
      a = b.num(i, F.host_page.op) | (b.num(i, F.host_page.owner) ? 8 : 0);
      break;
    case K.guest_exit:
      a = b.num(i, F.guest_exit.trap) & 0xffff;
      break;
    case K.mmio_exit:
      a = (b.num(i, F.mmio_exit.len) & 0xff) | (b.num(i, F.mmio_exit.is_write) << 8);
      v = b.num(i, F.mmio_exit.gpa);
      break;
    case K.slb_update:
      a = (b.num(i, F.slb_update.slot) + 1) & 0xff;
      break;
    case K.memslot:
      a = b.num(i, F.memslot.op);
      break;
    case K.anomaly:
      a = b.num(i, F.anomaly.code) & 0xffffff;
      break;
    case K.run_start:
    case K.run_end:
    case K.vm_create:
      break;
    default:
      // guest_op (the key), partition_switch, guest_enter, vcore_state, vcpu_state, checkpoint
      return;
  }
  out.push((kind * 2 + bg) * TWO24 + a, v);
}

// ---------------------------------------------------------------------------------------------
// Kinds of difference
// ---------------------------------------------------------------------------------------------

interface Tally {
  faults: number;
  pf: number;
  hcalls: number[];
  hrets: number[];
  hpaths: number[];
  decisions: number[];
  outcomes: number[];
  invalidated: number;
  pinnedNoop: number;
  swapIn: number;
  swapOut: number;
  pins: number;
  hpte: number;
  tlbie: number;
  exits: number;
}

const E_HOST = ENUMS.host_page_op;
const E_EFFECT = ENUMS.notifier_effect;

function tally(tokens: readonly number[]): Tally {
  const t: Tally = { faults: 0, pf: 0, hcalls: [], hrets: [], hpaths: [], decisions: [], outcomes: [], invalidated: 0, pinnedNoop: 0, swapIn: 0, swapOut: 0, pins: 0, hpte: 0, tlbie: 0, exits: 0 };
  for (let j = 0; j < tokens.length; j += 2) {
    const h = tokens[j];
    const kind = Math.floor(h / TWO24 / 2);
    const a = h % TWO24;
    const v = tokens[j + 1];
    switch (kind) {
      case K.fault_triage:
        if ((a & 3) <= 1) t.faults++; // hdsi, hisi
        t.decisions.push(a & 0x1f);
        break;
      case K.page_fault_enter:
        t.pf++;
        break;
      case K.page_fault_exit:
        t.outcomes.push(a);
        break;
      case K.hcall_enter:
        t.hcalls.push(a);
        break;
      case K.hcall_exit:
        t.hrets.push((a & 0xffff) * 65536 + v);
        t.hpaths.push(a);
        break;
      case K.notifier: {
        const eff = E_EFFECT[(a >> 3) & 7];
        if (eff === 'invalidated') t.invalidated++;
        if (eff === 'noop_pinned') t.pinnedNoop++;
        break;
      }
      case K.host_page:
        if ((a & 8) === 0) {
          const op = E_HOST[a & 7];
          if (op === 'swap_in') t.swapIn++;
          else if (op === 'swap_out') t.swapOut++;
          else if (op === 'pin') t.pins++;
        }
        break;
      case K.hpte_write:
        t.hpte++;
        break;
      case K.tlbie:
        t.tlbie++;
        break;
      case K.guest_exit:
        t.exits++;
        break;
    }
  }
  return t;
}

const sameList = (x: readonly number[], y: readonly number[]) => {
  if (x.length !== y.length) return false;
  for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  return true;
};

/** The kinds of difference between two reactions (ordered; at least one when the tokens differ). */
export function differenceKinds(ta: readonly number[], tb: readonly number[]): string[] {
  const a = tally(ta);
  const b = tally(tb);
  const k: string[] = [];
  if (a.faults > 0 && b.faults === 0) k.push('A faults to the hypervisor, B does not');
  else if (b.faults > 0 && a.faults === 0) k.push('B faults to the hypervisor, A does not');
  else if (a.faults !== b.faults) k.push('different number of hypervisor faults');
  else if (!sameList(a.decisions, b.decisions)) k.push('different fault decision');
  if (a.pf !== b.pf) k.push(a.pf > b.pf ? 'A takes more page faults' : 'B takes more page faults');
  else if (!sameList(a.outcomes, b.outcomes)) k.push('different page-fault outcome');
  if (!sameList(a.hcalls, b.hcalls)) k.push('different hcalls');
  else if (!sameList(a.hrets, b.hrets)) k.push('different hcall return');
  else if (!sameList(a.hpaths, b.hpaths)) k.push('hcall completed on a different path (real/virtual/user)');
  if (a.invalidated > b.invalidated && b.pinnedNoop > 0) k.push('A invalidates (notifier), B pinned');
  else if (b.invalidated > a.invalidated && a.pinnedNoop > 0) k.push('B invalidates (notifier), A pinned');
  else if (a.invalidated !== b.invalidated) k.push(a.invalidated > b.invalidated ? 'A invalidates more (notifier)' : 'B invalidates more (notifier)');
  if (a.swapIn !== b.swapIn) k.push(a.swapIn > b.swapIn ? 'extra swap-in in A' : 'extra swap-in in B');
  if (a.swapOut !== b.swapOut) k.push(a.swapOut > b.swapOut ? 'extra guest swap-out in A' : 'extra guest swap-out in B');
  if (a.pins !== b.pins) k.push(a.pins > b.pins ? 'A pins pages, B does not' : 'B pins pages, A does not');
  if (k.length === 0) {
    if (a.hpte !== b.hpte) k.push('different number of HPTE writes');
    else if (a.tlbie !== b.tlbie) k.push('different TLB flushes');
    else if (a.exits !== b.exits) k.push('different exits');
    else k.push('other (same counts, different events)');
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// One side's streaming pass
// ---------------------------------------------------------------------------------------------

/** Per-gfn counters, in this order. */
export const PAGE_COUNTERS = ['faults', 'page_faults', 'refaults', 'invalidations', 'hpte_maps', 'swap_outs', 'swap_ins', 'pins'] as const;
const PC = Object.fromEntries(PAGE_COUNTERS.map((n, i) => [n, i])) as { readonly [P in (typeof PAGE_COUNTERS)[number]]: number };

interface OpAcc {
  readonly id: number;
  /** guest_op fields (op, pid, ea, ea_end) as one string, to check the two sides name the same op. */
  readonly what: string;
  /** Token pairs (pushToken). */
  readonly tokens: number[];
  readonly seqs: number[];
  last: number;
  /** The next guest_op has been seen (no more bg events). */
  ended: boolean;
}

interface Memslot {
  base: number;
  npages: number;
  uaddr: number;
}

class Side {
  readonly ops = new Map<number, OpAcc>(); // open ops, by id
  readonly closed: OpAcc[] = []; // closed ops not yet compared, in id order
  private readonly recent = new Int32Array(CAUSE_WINDOW);
  curOp = NO_OP;
  private seq = -1;
  done = false;
  events = 0;
  readonly pages = new Map<number, Int32Array>();
  private readonly installed = new Set<number>();
  private readonly slots: Memslot[] = [];
  private readonly it: AsyncIterator<EventBatch>;

  constructor(
    readonly reader: TraceReader,
    private readonly wantOps: boolean,
    private readonly wantPages: boolean,
    private readonly onlyGfn: number | undefined,
    batchSize: number | undefined,
  ) {
    const o = batchSize === undefined ? {} : { batchSize };
    // SQLite reads are most of a diff's time: each SQLite side reads in its own worker thread, so
    // the two traces are read in parallel. Arrow reads are fast; they stay on this thread.
    // Smaller batches in the worker (16K events) keep each worker's transient decode buffers small.
    this.it = reader.format === 'sqlite' ? sqliteBatchesInWorker(reader.path, { batchSize: batchSize ?? WORKER_BATCH }) : reader.batches(o);
  }

  /** Stop reading (the worker thread, if any). */
  async stop(): Promise<void> {
    await this.it.return?.();
  }

  /** Events held (open ops and closed ops not compared yet). */
  held = 0;
  private head = 0;

  /** The lowest closed op not compared yet. */
  first(): OpAcc | undefined {
    return this.head < this.closed.length ? this.closed[this.head] : undefined;
  }

  /** Drop the lowest closed op (it has been compared, or the other side has no such op). */
  shift(): void {
    this.held -= this.closed[this.head].seqs.length;
    this.closed[this.head++] = undefined as never;
    if (this.head > 1024 && this.head * 2 > this.closed.length) {
      this.closed.splice(0, this.head);
      this.head = 0;
    }
  }

  private close(o: OpAcc): void {
    const n = this.closed.length;
    this.closed.push(o);
    // Ops close in id order except when an older op outlives a newer one: keep the queue sorted.
    if (n > this.head && this.closed[n - 1].id > o.id) {
      const live = this.closed.slice(this.head).sort((x, y) => x.id - y.id);
      this.closed.length = this.head;
      this.closed.push(...live);
    }
  }

  async step(): Promise<void> {
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      const rest = [...this.ops.values()].sort((x, y) => x.id - y.id);
      this.ops.clear();
      for (const o of rest) this.close(o);
      return;
    }
    this.fold(r.value);
  }

  private page(g: number): Int32Array | undefined {
    if (!this.wantPages || g < 0 || (this.onlyGfn !== undefined && g !== this.onlyGfn)) return undefined;
    let p = this.pages.get(g);
    if (!p) this.pages.set(g, (p = new Int32Array(PAGE_COUNTERS.length)));
    return p;
  }

  private gfnOfHva(hva: number, shift: number): number {
    for (const s of this.slots) {
      const off = hva - s.uaddr;
      if (off >= 0) {
        const g = s.base + Math.floor(off / 2 ** shift);
        if (g < s.base + s.npages) return g;
      }
    }
    return -1;
  }

  private fold(b: EventBatch): void {
    b.toDense();
    const first = b.firstSeq;
    const closing: OpAcc[] = [];
    for (let i = 0; i < b.length; i++) {
      const seq = first + i;
      const kind = b.kind[i];
      const c = b.cause[i];
      let op: number;
      let bg = false;
      if (kind === K.guest_op) {
        op = b.num(i, F.guest_op.op_id);
        const prev = this.ops.get(this.curOp);
        if (prev) prev.ended = true;
        this.curOp = op;
        this.ops.set(op, {
          id: op,
          what: `${en('guest_op_kind', b.num(i, F.guest_op.op))} pid=${b.num(i, F.guest_op.pid)} ea=0x${b.big(i, F.guest_op.ea).toString(16)} ea_end=0x${b.big(i, F.guest_op.ea_end).toString(16)}`,
          tokens: [],
          seqs: [seq],
          last: seq,
          ended: false,
        });
        this.held++;
      } else {
        if (c < 0 || c <= seq - CAUSE_WINDOW) op = NO_OP;
        else op = this.recent[c & WINDOW_MASK];
        let acc = op === NO_OP ? undefined : this.ops.get(op);
        if (acc === undefined && op === NO_OP) {
          acc = this.ops.get(this.curOp);
          bg = true;
          if (acc?.ended) acc = undefined;
        }
        if (acc && this.wantOps) {
          const n = acc.tokens.length;
          pushToken(b, i, bg ? 1 : 0, acc.tokens);
          if (acc.tokens.length !== n) {
            acc.seqs.push(seq);
            this.held++;
          }
          if (!bg) acc.last = seq;
        }
      }
      this.recent[seq & WINDOW_MASK] = op;
      if (this.wantPages) this.pageEvent(b, i, kind);
      this.events++;
    }
    this.seq = first + b.length - 1;
    for (const o of this.ops.values()) if (o.ended && o.last <= this.seq - CAUSE_WINDOW) closing.push(o);
    closing.sort((x, y) => x.id - y.id);
    for (const o of closing) {
      this.ops.delete(o.id);
      this.close(o);
    }
  }

  private pageEvent(b: EventBatch, i: number, kind: number): void {
    let p: Int32Array | undefined;
    switch (kind) {
      case K.memslot:
        if (b.num(i, F.memslot.op) === 0)
          this.slots.push({ base: b.num(i, F.memslot.base_gfn), npages: b.num(i, F.memslot.npages), uaddr: b.num(i, F.memslot.userspace_addr) });
        return;
      case K.fault_triage: {
        const d = b.num(i, F.fault_triage.interrupt);
        if ((d === 0 || d === 1) && (p = this.page(b.num(i, F.fault_triage.gfn)))) p[PC.faults]++;
        return;
      }
      case K.page_fault_exit: {
        const g = b.num(i, F.page_fault_exit.gfn);
        const out = b.num(i, F.page_fault_exit.outcome);
        if ((p = this.page(g))) {
          p[PC.page_faults]++;
          if (out === 0 && this.installed.has(g)) p[PC.refaults]++;
        }
        if (out === 0 && g >= 0) this.installed.add(g);
        return;
      }
      case K.notifier:
        if (b.num(i, F.notifier.effect) === 1 && (p = this.page(b.num(i, F.notifier.gfn)))) p[PC.invalidations]++;
        return;
      case K.rmap_change:
        if (b.num(i, F.rmap_change.op) === 0 && (p = this.page(b.num(i, F.rmap_change.gfn)))) p[PC.hpte_maps]++;
        return;
      case K.host_page: {
        if (b.num(i, F.host_page.owner) !== 0) return;
        const op = b.num(i, F.host_page.op);
        const idx = op === 2 ? PC.swap_outs : op === 3 ? PC.swap_ins : op === 4 ? PC.pins : -1;
        if (idx < 0) return;
        const g = this.gfnOfHva(b.num(i, F.host_page.hva), b.num(i, F.host_page.page_shift) || 12);
        if ((p = this.page(g))) p[idx]++;
        return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The alignment
// ---------------------------------------------------------------------------------------------

export interface AlignOptions {
  limit?: number;
  gfn?: number;
  onProgress?: (done: number, total?: number) => void;
  /** Compute the per-op alignment (default true) / the per-page counters (default true). */
  ops?: boolean;
  pages?: boolean;
  /** Events per batch read (tests of the memory bound; default the reader's). */
  batchSize?: number;
  /** Stop early (the caller gave up: another section failed); the pass then rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface FirstDiff {
  id: number;
  what: string;
  kinds: string[];
  a: TraceEvent[];
  b: TraceEvent[];
}

export interface AlignResult {
  opsA: number;
  opsB: number;
  compared: number;
  differing: number;
  onlyA: number;
  onlyB: number;
  /** Ops whose guest_op fields (op, pid, ea, ea_end) disagree: not the same workload. */
  mismatched: number;
  kinds: Map<string, number>;
  first?: FirstDiff;
  /** Largest number of events held (both sides, open and closed-unmatched ops) after any batch. */
  peakPending: number;
  pagesA: Map<number, Int32Array>;
  pagesB: Map<number, Int32Array>;
}

async function openChecked(path: string): Promise<TraceReader> {
  return openTrace(path);
}

/** One streaming pass over each of A and B, side by side. */
export async function alignRuns(pathA: string, pathB: string, opts: AlignOptions = {}): Promise<AlignResult> {
  if (opts.gfn !== undefined && (!Number.isSafeInteger(opts.gfn) || opts.gfn < 0)) throw new UserError(`--gfn ${opts.gfn}: expected a guest frame number ≥ 0`);
  const ra = await openChecked(pathA);
  let rb: TraceReader;
  try {
    rb = await openChecked(pathB);
  } catch (e) {
    ra.close();
    throw e;
  }
  const wantPages = opts.pages !== false;
  const wantOps = opts.ops !== false;
  const A = new Side(ra, wantOps, wantPages, opts.gfn, opts.batchSize);
  const B = new Side(rb, wantOps, wantPages, opts.gfn, opts.batchSize);
  const total = ra.eventCount !== undefined && rb.eventCount !== undefined ? ra.eventCount + rb.eventCount : undefined;
  const res: AlignResult = { opsA: 0, opsB: 0, compared: 0, differing: 0, onlyA: 0, onlyB: 0, mismatched: 0, kinds: new Map(), peakPending: 0, pagesA: A.pages, pagesB: B.pages };
  let firstSeqs: { id: number; what: string; kinds: string[]; a: number[]; b: number[] } | undefined;
  try {
    const match = () => {
      // Compare the closed heads while both sides have one.
      for (;;) {
        const x = A.first();
        const y = B.first();
        if (x && y) {
          if (x.id === y.id) {
            A.shift();
            B.shift();
            res.compared++;
            if (x.what !== y.what) res.mismatched++;
            if (wantOps && !sameList(x.tokens, y.tokens)) {
              res.differing++;
              const ks = differenceKinds(x.tokens, y.tokens);
              for (const k of ks) res.kinds.set(k, (res.kinds.get(k) ?? 0) + 1);
              if (!firstSeqs) firstSeqs = { id: x.id, what: x.what, kinds: ks, a: x.seqs, b: y.seqs };
            }
          } else if (x.id < y.id) {
            A.shift();
            res.onlyA++;
          } else {
            B.shift();
            res.onlyB++;
          }
          continue;
        }
        if (x && B.done && B.ops.size === 0) {
          A.shift();
          res.onlyA++;
          continue;
        }
        if (y && A.done && A.ops.size === 0) {
          B.shift();
          res.onlyB++;
          continue;
        }
        return;
      }
    };
    while (!(A.done && B.done)) {
      opts.signal?.throwIfAborted();
            // Advance the side that is behind: the lower latest op id (each side is then at most one
      // batch of ops ahead of the other).
      if (!A.done && (B.done || A.curOp <= B.curOp)) await A.step();
      else await B.step();
      const p = A.held + B.held;
      if (p > res.peakPending) res.peakPending = p;
      match();
      opts.onProgress?.(A.events + B.events, total);
    }
    match();
    res.opsA = res.compared + res.onlyA;
    res.opsB = res.compared + res.onlyB;
    if (firstSeqs) {
      const la = eventLookup(ra);
      const lb = eventLookup(rb);
      try {
        const get = (l: typeof la, seqs: number[]) => seqs.map((s) => l.get(s)).filter((e): e is TraceEvent => e !== undefined);
        res.first = { id: firstSeqs.id, what: firstSeqs.what, kinds: firstSeqs.kinds, a: get(la, firstSeqs.a), b: get(lb, firstSeqs.b) };
      } finally {
        la.close();
        lb.close();
      }
    }
  } finally {
    await Promise.all([A.stop(), B.stop()]);
    ra.close();
    rb.close();
  }
  return res;
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

/** One event on one line, like `hvtrace events` (seq, kind, vcpu, cause, fields). */
export function eventLine(e: TraceEvent): string {
  const { seq, time: _t, kind, lpid: _l, vcpu, core: _c, cause, ...fields } = eventToJson(e);
  return `${seq} ${kind} vcpu=${vcpu} cause=${cause ?? '-'} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')}`;
}

function eventsJson(es: readonly TraceEvent[]): Record<string, unknown>[] {
  return es.map((e) => eventToJson(e));
}

/** Events of the first differing op shown per side when no limit is given. */
const FIRST_OP_EVENTS = 200;

/** `limit`: at most this many of the first differing op's events per side in the human lines (json has all). */
export function buildOpsSection(r: AlignResult, opts: { limit?: number } = {}): DiffSection {
  const show = opts.limit ?? FIRST_OP_EVENTS;
  const differs = r.differing > 0 || r.onlyA > 0 || r.onlyB > 0 || r.mismatched > 0;
  const kinds = [...r.kinds.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const lines: string[] = [];
  lines.push(`ops: ${r.opsA} in A, ${r.opsB} in B, ${r.compared} aligned by op_id; ${r.differing} with a different reaction`);
  if (r.onlyA || r.onlyB) lines.push(`ops only in A: ${r.onlyA}; only in B: ${r.onlyB}`);
  if (r.mismatched) lines.push(`warning: ${r.mismatched} aligned ops name a different guest operation (not the same workload and seed?)`);
  if (kinds.length) {
    lines.push('by kind of difference (an op may count under several):');
    const w = Math.max(...kinds.map(([, n]) => String(n).length));
    for (const [k, n] of kinds) lines.push(`  ${String(n).padStart(w)}  ${k}`);
  }
  if (r.first) {
    const f = r.first;
    lines.push(`first differing op: ${f.id} (${f.what}): ${f.kinds.join('; ')}`);
    for (const [side, es] of [['A', f.a], ['B', f.b]] as const) {
      lines.push(`  ${side} (${es.length} events):`);
      for (const e of es.slice(0, show)) lines.push(`    ${eventLine(e)}`);
      if (es.length > show) lines.push(`    … ${es.length - show} more (--limit)`);
    }
  }
  const summary = differs
    ? [`${r.differing} of ${r.compared} guest ops get a different reaction${r.first ? `; first: op ${r.first.id} (${r.first.kinds[0]})` : ''}`, ...(kinds.length ? [`most common: ${kinds[0][0]} (${kinds[0][1]} ops)`] : [])]
    : [`all ${r.compared} guest ops get the same reaction`];
  return {
    key: 'ops',
    title: 'Alignment on guest operations',
    differs,
    summary,
    lines,
    json: {
      ops_a: r.opsA,
      ops_b: r.opsB,
      compared: r.compared,
      differing: r.differing,
      only_a: r.onlyA,
      only_b: r.onlyB,
      mismatched: r.mismatched,
      kinds: Object.fromEntries(kinds),
      first: r.first ? { op_id: r.first.id, op: r.first.what, kinds: r.first.kinds, a: eventsJson(r.first.a), b: eventsJson(r.first.b) } : null,
      peak_pending_events: r.peakPending,
    },
  };
}

const ZERO = new Int32Array(PAGE_COUNTERS.length);

function story(c: Int32Array): string {
  const parts: string[] = [];
  const n = (i: number, word: string) => {
    if (c[i] > 0) parts.push(`${word} ${c[i]}×`);
  };
  n(PC.invalidations, 'invalidated');
  n(PC.refaults, 're-faulted');
  n(PC.faults, 'faulted');
  n(PC.page_faults, 'page-faulted');
  n(PC.hpte_maps, 'mapped');
  n(PC.swap_outs, 'swapped out');
  n(PC.swap_ins, 'swapped in');
  if (c[PC.pins] > 0) parts.push(c[PC.pins] === 1 ? 'pinned' : `pinned ${c[PC.pins]}×`);
  if (c[PC.faults] === 0 && c[PC.page_faults] === 0) parts.push('never faulted');
  return parts.join(', ');
}

export interface PageDiff {
  gfn: number;
  score: number;
  a: Record<string, number>;
  b: Record<string, number>;
  story: string;
  command: string;
}

export function buildPagesSection(r: AlignResult, pathA: string, pathB: string, opts: { limit?: number; gfn?: number }): DiffSection {
  const limit = opts.limit ?? 10;
  const gfns = new Set<number>([...r.pagesA.keys(), ...r.pagesB.keys()]);
  if (opts.gfn !== undefined) gfns.add(opts.gfn);
  const rows: PageDiff[] = [];
  let differing = 0;
  for (const g of gfns) {
    const a = r.pagesA.get(g) ?? ZERO;
    const b = r.pagesB.get(g) ?? ZERO;
    let score = 0;
    for (let k = 0; k < PAGE_COUNTERS.length; k++) score += Math.abs(a[k] - b[k]);
    if (score > 0) differing++;
    if (score === 0 && opts.gfn === undefined) continue;
    const obj = (c: Int32Array) => Object.fromEntries(PAGE_COUNTERS.map((n, k) => [n, c[k]]));
    rows.push({ gfn: g, score, a: obj(a), b: obj(b), story: `${story(a)} in A; ${story(b)} in B`, command: `hvtrace history ${pathA} --gfn ${g}` });
  }
  rows.sort((x, y) => y.score - x.score || x.gfn - y.gfn);
  const top = rows.slice(0, limit);
  const lines: string[] = [];
  lines.push(`pages: ${gfns.size} touched, ${differing} with a different history (score = Σ |A − B| over ${PAGE_COUNTERS.join(', ')})`);
  for (const p of top) {
    lines.push(`gfn ${p.gfn} (score ${p.score}): ${p.story}`);
    lines.push(`  ${p.command}   (B: hvtrace history ${pathB} --gfn ${p.gfn})`);
  }
  const differs = differing > 0;
  return {
    key: 'pages',
    title: 'Per-page differences',
    differs,
    summary: differs ? [`${differing} guest pages have a different history; most: gfn ${top[0].gfn} (${top[0].story})`] : ['every guest page has the same history'],
    lines,
    json: { touched: gfns.size, differing, counters: PAGE_COUNTERS, pages: top },
  };
}

export async function opsSection(a: string, b: string, opts: { limit?: number; onProgress?: (done: number, total?: number) => void } = {}): Promise<DiffSection> {
  return buildOpsSection(await alignRuns(a, b, { ...opts, pages: false }), opts);
}

export async function pagesSection(a: string, b: string, opts: { limit?: number; gfn?: number } = {}): Promise<DiffSection> {
  return buildPagesSection(await alignRuns(a, b, { ...opts, ops: false }), a, b, opts);
}

/** Both sections from one pass over each trace (what `hvtrace diff` should call). */
export async function alignSections(a: string, b: string, opts: AlignOptions = {}): Promise<{ ops: DiffSection; pages: DiffSection; result: AlignResult }> {
  const r = await alignRuns(a, b, opts);
  return { ops: buildOpsSection(r, opts), pages: buildPagesSection(r, a, b, opts), result: r };
}
