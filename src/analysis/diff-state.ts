// `hvtrace diff A B --at-op ID` (issue 12): the state difference at the same guest operation in
// both runs. Guest operations have stable ids (guest_op.op_id: the position in the seeded operation
// stream, the same on every profile for one seed), so "the same moment" in two runs is the same op.
//
// Two points per run, both through the replay's Seeker (nearest checkpoint of the .hvidx + fold):
//   before: the state at the guest_op event itself (the op's first event; a guest_op changes no
//           MMU or host state, so this is the state the operation meets);
//   after:  the state after the last event attributed to the op, by the op index's rule
//           (replay/handlers/ops.ts: an event serves the op its cause served, causes followed back
//           at most CAUSE_WINDOW events). Events of other vcpus or host background work that
//           interleave with the op's own are folded too: "after" is a point in the trace, the one
//           where the op's reaction is complete.
// The pages compared: the guest frames the op's EA translates to (on the op's vcpu, before or
// after, in either run) and the frames its own fault events name (fault_triage / page_fault_enter
// gfn), union of both runs so both sides show the same frames; `--gfn G` names one frame instead.
// For each frame and point: host page (state, pfn, writable, pins), rmap word (present, R, C,
// chain), the HPTEs whose guest view maps it (index, v, r, guest view, valid/absent, in chain),
// and the translation of the op's EA. Every field is compared between A and B; the section
// differs when any does.

import { hpte_page_size, hpte_rpn } from '../arch/hpte.js';
import { CAUSE_WINDOW } from '../replay/handlers/ops.js';
import { ArrowEventSource, type EventSource, SqliteEventSource } from '../replay/event-source.js';
import { arch206Of, eaState, gfnState, pickVm, Seeker } from '../replay/seek.js';
import type { StateFold } from '../replay/state.js';
import { UserError } from '../trace/errors.js';
import { F } from '../trace/fields.js';
import { ENUMS, K } from '../trace/kinds.js';
import { openTrace, type SqliteTraceReader, type TraceReader } from '../trace/reader.js';
import type { DiffSection } from './diff-section.js';

export interface AtOpOptions {
  /** Compare this guest frame only (instead of the frames the op touches). */
  gfn?: number;
}

/** Where one run's op is: its guest_op event and the last event attributed to it. */
interface OpPlace {
  seq: number;
  last: number;
  events: number;
  kind: string;
  lpid: number;
  vcpu: number;
  pid: number;
  ea: bigint;
  faultGfns: number[];
}

/** Flat facts of one frame at one point (64-bit words as 0x… strings, so they compare and print). */
type Facts = Record<string, string | number | boolean | null>;

const hex = (v: bigint | number | null | undefined) => (v === null || v === undefined ? null : `0x${BigInt(v).toString(16)}`);

/** Host page shift of a run from its recorded configuration (as `hvtrace state` reads it), default 4K. */
function hostPageShift(config: unknown): number {
  const c = config as { scenario?: { machine?: { host_page_shift?: number } }; machine?: { host_page_shift?: number } } | null;
  return c?.scenario?.machine?.host_page_shift ?? c?.machine?.host_page_shift ?? 12;
}

function sourceFor(reader: TraceReader, seeker: Seeker): EventSource {
  if (reader.format === 'sqlite') return new SqliteEventSource(reader as SqliteTraceReader);
  return new ArrowEventSource(reader.path, seeker.checkpointIndex.header.arrow!);
}

/** Find the guest_op of `op` and follow its causes forward (the op index's rule). */
function placeOp(path: string, src: EventSource, op: number): OpPlace {
  const n = src.count;
  let place: OpPlace | null = null;
  let maxOp = -1;
  // 1. The guest_op event (one indexed query in SQLite; a scan of the batches in Arrow).
  let from = 0;
  if (src instanceof SqliteEventSource) {
    const row = src.reader.db.prepare('SELECT seq FROM events WHERE kind = ? AND w0 = ? ORDER BY seq LIMIT 1').get(K.guest_op, op) as { seq: number } | undefined;
    if (!row) {
      const m = src.reader.db.prepare('SELECT max(w0) AS m FROM events WHERE kind = ?').get(K.guest_op) as { m: number | null };
      maxOp = m.m ?? -1;
      from = n; // not found: skip the scan
    } else from = Number(row.seq);
  }
  if (from < n) {
    src.range(from, n, (b, i0, i1) => {
      for (let i = i0; i < i1; i++) {
        if (b.kind[i] !== K.guest_op) continue;
        const id = b.num(i, F.guest_op.op_id);
        if (id > maxOp) maxOp = id;
        if (id !== op) continue;
        place = {
          seq: b.firstSeq + i, last: b.firstSeq + i, events: 1,
          kind: ENUMS.guest_op_kind[b.num(i, F.guest_op.op)] ?? String(b.num(i, F.guest_op.op)),
          lpid: b.lpid[i], vcpu: b.vcpu[i], pid: b.num(i, F.guest_op.pid), ea: b.big(i, F.guest_op.ea), faultGfns: [],
        };
        return false;
      }
      return true;
    });
  }
  if (!place) throw new UserError(`--at-op ${op}: no guest operation with op_id ${op} in ${path} (${maxOp < 0 ? 'it has no guest_op events' : `op ids 0..${maxOp}`})`);
  const p: OpPlace = place;
  // 2. Its events: a cause attributed to the op, within the window, makes the event the op's.
  const mine = new Set<number>([p.seq]);
  const gfns = new Set<number>();
  src.range(p.seq + 1, n, (b, i0, i1) => {
    for (let i = i0; i < i1; i++) {
      const seq = b.firstSeq + i;
      if (seq > p.last + CAUSE_WINDOW) return false; // nothing later can point into the op any more
      const c = b.cause[i];
      if (c < 0 || c <= seq - CAUSE_WINDOW || !mine.has(c)) continue;
      mine.add(seq);
      p.last = seq;
      if (p.lpid < 0 && b.lpid[i] >= 0) p.lpid = b.lpid[i]; // a guest_op carries no LPID: its first own event in a VM does
      const k = b.kind[i];
      const g = k === K.page_fault_enter ? b.num(i, F.page_fault_enter.gfn) : k === K.fault_triage ? b.num(i, F.fault_triage.gfn) : -1;
      if (g >= 0) gfns.add(g);
    }
    return true;
  });
  p.events = mine.size;
  p.faultGfns = [...gfns];
  return p;
}

interface Side {
  path: string;
  place: OpPlace;
  before: StateFold;
  after: StateFold;
  shift: number;
  arch206: boolean;
}

/** The op's VM: its LPID (from its events), else the only VM there is. */
function vmOf(side: Side, fold: StateFold) {
  return side.place.lpid >= 0 ? fold.vm(side.place.lpid) ?? null : fold.vms.size === 1 ? fold.vms.values().next().value! : null;
}

function eaOf(side: Side, fold: StateFold) {
  const vm = vmOf(side, fold);
  if (!vm || !vm.vcpus.has(side.place.vcpu)) return null;
  return eaState(vm, side.place.vcpu, side.place.ea, side.arch206);
}

function eaGfn(side: Side, fold: StateFold): number | null {
  const t = eaOf(side, fold);
  if (!t || !('guest_physical' in t) || t.guest_physical === undefined) return null;
  return Number(t.guest_physical >> BigInt(side.shift));
}

function eaFacts(side: Side, fold: StateFold): Facts {
  const t = eaOf(side, fold);
  if (!t) return { translation: 'no vcpu state' };
  const h = 'hpte' in t ? t.hpte : null;
  return {
    translation: t.result,
    'translation.hpte': h ? h.index : null,
    'translation.guest_physical': 'guest_physical' in t ? hex(t.guest_physical) : null,
  };
}

function frameFacts(side: Side, fold: StateFold, gfn: number): Facts {
  const vm = vmOf(side, fold) ?? pickVm(fold, side.place.lpid >= 0 ? side.place.lpid : undefined);
  const g = gfnState(fold, vm, gfn, side.shift, side.arch206);
  const hp = g.host_page;
  const f: Facts = {
    memslot: g.memslot ? g.memslot.slot : null,
    hva: hex(g.hva),
    'host.state': hp ? hp.state : 'no memslot',
    'host.pfn': hp ? hex(hp.pfn) : null,
    'host.writable': hp ? hp.writable : null,
    'host.pins': hp ? hp.pins : null,
    rmap: hex(g.rmap.rmap),
    'rmap.present': g.rmap.present,
    'rmap.referenced': g.rmap.referenced,
    'rmap.changed': g.rmap.changed,
    'rmap.chain': g.rmap.chain.join(' '),
    hptes: g.hptes.length,
  };
  for (const e of g.hptes) {
    const k = `hpte[${e.index}]`;
    f[`${k}.v`] = hex(e.v);
    f[`${k}.r`] = hex(e.r);
    f[`${k}.guest_r`] = hex(e.guest_r);
    f[`${k}.state`] = e.valid ? 'valid' : e.absent ? 'absent' : 'invalid';
    f[`${k}.in_chain`] = e.in_chain;
    // The host frame the HPTE's RPN names, and its pins (PPC970's KVMPPC_GOT_PAGE pages).
    const pfn = hpte_rpn(Number(e.r >> 32n) >>> 0, Number(e.r & 0xffffffffn) >>> 0, hpte_page_size(Number(e.v & 0xffffffffn) >>> 0, Number(e.r & 0xffffffffn) >>> 0, side.arch206) || 2 ** side.shift, side.shift);
    f[`${k}.host_frame`] = e.valid ? hex(pfn) : null;
    f[`${k}.host_frame_pins`] = e.valid ? fold.host.pins(pfn) : null;
  }
  return f;
}

async function openSide(path: string, op: number): Promise<Side> {
  const seeker = await Seeker.open(path);
  const reader = await openTrace(path);
  const src = sourceFor(reader, seeker);
  try {
    const place = placeOp(path, src, op);
    const before = await seeker.seek({ seq: place.seq });
    const after = await seeker.seek({ seq: place.last });
    return { path, place, before, after, shift: hostPageShift(seeker.info.config), arch206: arch206Of(seeker.info) };
  } finally {
    src.close();
    if (reader.format === 'arrow') reader.close();
    seeker.close();
  }
}

const POINTS = ['before', 'after'] as const;

export interface AtOpDifference {
  gfn: number | null;
  point: (typeof POINTS)[number];
  field: string;
  a: string | number | boolean | null;
  b: string | number | boolean | null;
}

/** The state difference at guest operation `op` in traces a and b (SQLite or Arrow, any mix). */
export async function atOpSection(a: string, b: string, op: number, opts: AtOpOptions = {}): Promise<DiffSection> {
  if (!Number.isSafeInteger(op) || op < 0) throw new UserError(`--at-op ${op}: expected a guest operation id (an integer ≥ 0)`);
  if (opts.gfn !== undefined && (!Number.isSafeInteger(opts.gfn) || opts.gfn < 0)) throw new UserError(`--gfn ${opts.gfn}: expected a guest frame number (an integer ≥ 0)`);
  const A = await openSide(a, op);
  const B = await openSide(b, op);
  // The frames: --gfn, else every frame the op touches in either run.
  let gfns: number[];
  if (opts.gfn !== undefined) gfns = [opts.gfn];
  else {
    const s = new Set<number>();
    for (const side of [A, B]) {
      for (const g of side.place.faultGfns) s.add(g);
      for (const f of [side.before, side.after]) {
        const g = eaGfn(side, f);
        if (g !== null) s.add(g);
      }
    }
    gfns = [...s].sort((x, y) => x - y);
  }
  const differences: AtOpDifference[] = [];
  const compare = (gfn: number | null, point: (typeof POINTS)[number], fa: Facts, fb: Facts) => {
    const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])];
    for (const k of keys) {
      const va = k in fa ? fa[k] : null;
      const vb = k in fb ? fb[k] : null;
      if (va !== vb) differences.push({ gfn, point, field: k, a: va, b: vb });
    }
  };
  const sideJson = (s: Side) => ({
    trace: s.path, seq: s.place.seq, after_seq: s.place.last, op_events: s.place.events,
    op: s.place.kind, lpid: s.place.lpid, vcpu: s.place.vcpu, pid: s.place.pid, ea: hex(s.place.ea),
  });
  const pages: { gfn: number; before: { a: Facts; b: Facts }; after: { a: Facts; b: Facts } }[] = [];
  const translation: Record<string, { a: Facts; b: Facts }> = {};
  for (const point of POINTS) {
    const ta = eaFacts(A, A[point]);
    const tb = eaFacts(B, B[point]);
    translation[point] = { a: ta, b: tb };
    compare(null, point, ta, tb);
  }
  for (const gfn of gfns) {
    const row = { gfn, before: { a: {}, b: {} }, after: { a: {}, b: {} } } as (typeof pages)[number];
    for (const point of POINTS) {
      const fa = frameFacts(A, A[point], gfn);
      const fb = frameFacts(B, B[point], gfn);
      row[point] = { a: fa, b: fb };
      compare(gfn, point, fa, fb);
    }
    pages.push(row);
  }
  // The op itself must be the same operation (same seed): say so when it is not.
  const same = A.place.kind === B.place.kind && A.place.ea === B.place.ea && A.place.vcpu === B.place.vcpu;
  const ja = sideJson(A);
  const jb = sideJson(B);
  const head = `op ${op}: ${A.place.kind} ea ${hex(A.place.ea)} vcpu ${A.place.vcpu}` + (same ? '' : ` in A; ${B.place.kind} ea ${hex(B.place.ea)} vcpu ${B.place.vcpu} in B (not the same operation: different seeds or workloads?)`);
  const lines: string[] = [
    head,
    `  A: guest_op at seq ${A.place.seq}, ${A.place.events} events, last at seq ${A.place.last}`,
    `  B: guest_op at seq ${B.place.seq}, ${B.place.events} events, last at seq ${B.place.last}`,
    `  frames: ${gfns.length ? gfns.join(', ') : 'none (the op touches no guest page)'}`,
  ];
  if (!differences.length) lines.push('  no difference in the state at this op');
  else {
    const w = Math.max(...differences.map((d) => `${d.point} ${d.gfn === null ? 'ea' : `gfn ${d.gfn}`} ${d.field}`.length));
    for (const d of differences) lines.push(`  ${`${d.point} ${d.gfn === null ? 'ea' : `gfn ${d.gfn}`} ${d.field}`.padEnd(w)}  A ${String(d.a)}  B ${String(d.b)}`);
  }
  const summary: string[] = [];
  if (!same) summary.push(`op ${op} is not the same operation in A and B`);
  if (differences.length) {
    const fields = [...new Set(differences.map((d) => d.field.replace(/^hpte\[\d+\]/, 'hpte')))];
    summary.push(`at op ${op} (${A.place.kind}): ${differences.length} state difference${differences.length === 1 ? '' : 's'} (${fields.slice(0, 6).join(', ')}${fields.length > 6 ? ', …' : ''})`);
  } else if (same) summary.push(`at op ${op} (${A.place.kind}): same state in both runs`);
  return {
    key: 'at_op',
    title: `State at guest operation ${op}`,
    differs: differences.length > 0 || !same,
    summary,
    lines,
    json: { op_id: op, same_operation: same, a: ja, b: jb, gfns, translation, pages, differences },
  };
}
