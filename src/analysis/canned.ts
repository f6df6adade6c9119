// The canned queries over the derived tables (derived.ts): `faults` (every fault with its triage
// decision, virtual-mode outcome, final HPTE and latency) and `history` (the life of a guest page,
// an HPTE slot, or the slots an EA used). Rows are produced lazily, in seq order, as typed cells;
// the CLI prints them through its row writer. Each history row costs an index lookup in the touch
// table, one event lookup by seq (event-lookup.ts) and, for its cause chain, one lookup per
// ancestor not seen before.

import type Database from 'better-sqlite3';
import { hex64 } from '../arch/word.js';
import { type TraceEvent, field, fieldNum } from '../trace/event.js';
import { E, ENUMS } from '../trace/kinds.js';
import { hcallName, hretName } from '../trace/names.js';
import type { DerivedCache } from './derived-cache.js';
import { FAULT_HOST, SPACE, WHAT } from './derived.js';
import type { EventLookup } from './event-lookup.js';

export type CellType = 'hex' | 'int' | 'real' | 'text';
export interface CannedColumn {
  name: string;
  type: CellType;
}
export type CannedCell = string | number | bigint | null;

const col = (name: string, type: CellType): CannedColumn => ({ name, type });

// ---------------------------------------------------------------------------------------------
// faults
// ---------------------------------------------------------------------------------------------

export const FAULT_COLUMNS: readonly CannedColumn[] = [
  col('seq', 'int'),
  col('time', 'int'),
  col('us', 'real'),
  col('lpid', 'int'),
  col('vcpu', 'int'),
  col('kind', 'text'),
  col('access', 'text'),
  col('ea', 'hex'),
  col('gfn', 'int'),
  col('decision', 'text'),
  col('outcome', 'text'),
  col('host', 'text'),
  col('hpte_index', 'int'),
  col('hpte_v', 'hex'),
  col('hpte_r', 'hex'),
  col('latency_ticks', 'int'),
  col('latency_us', 'real'),
  col('resume_seq', 'int'),
  col('op', 'int'),
  col('path', 'text'),
];

export interface FaultFilter {
  gfn?: number;
  /** EA >> 12: the 4 KiB page of an effective address. */
  eaPage?: number;
  vcpu?: number;
  lpid?: number;
  /** fault_kind value. */
  kind?: number;
  /** fault_decision value. */
  decision?: number;
  from?: number;
  to?: number;
}

const ACCESS = ['load', 'store', 'ifetch'];

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const u64 = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt.asUintN(64, v as bigint));

/** µs of `ticks` at the trace's timebase (null when the trace has none). */
function micros(ticks: number | null, tb: number | null): number | null {
  return ticks === null || !tb ? null : (ticks * 1e6) / tb;
}

/** The path a fault took, as the timing model names its steps. */
function faultPath(decision: number, pf: boolean, host: number, mmio: boolean, resumed: boolean): string {
  const d = ENUMS.fault_decision[decision];
  if (d === 'guest') return 'delivered to the guest';
  if (d === 'reflect') return 'triage, reflected to the guest';
  if (d === 'retry') return 'triage, retried';
  const p = ['triage', 'exit'];
  if (pf) p.push(host === 2 ? 'page fault + swap-in' : host === 1 ? 'page fault + fault-in' : 'page fault');
  if (mmio || d === 'mmio') p.push('mmio to the VMM');
  p.push(resumed ? 'entry' : 'no re-entry');
  return p.join(', ');
}

export function* faultRows(cache: DerivedCache, f: FaultFilter): Generator<CannedCell[]> {
  const where: string[] = [];
  const args: number[] = [];
  const add = (c: string, v: number | undefined) => {
    if (v === undefined) return;
    where.push(c);
    args.push(v);
  };
  add('gfn = ?', f.gfn);
  add('ea_page = ?', f.eaPage);
  add('vcpu = ?', f.vcpu);
  add('lpid = ?', f.lpid);
  add('interrupt = ?', f.kind);
  add('decision = ?', f.decision);
  add('seq >= ?', f.from);
  add('seq < ?', f.to);
  const stmt = cache.db
    .prepare(
      `SELECT seq, time, lpid, vcpu, interrupt, access, ea, gfn, decision, outcome, host, hpte_index, hpte_v, hpte_r, latency, resume_seq, op, pf_seq, mmio_seq
       FROM fault_chain ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`,
    )
    .raw(true)
    .safeIntegers(true);
  const tb = cache.meta.timebaseHz;
  for (const r of stmt.iterate(...args) as IterableIterator<unknown[]>) {
    const time = Number(r[1]);
    const decision = Number(r[8]);
    const outcome = num(r[9]);
    const host = Number(r[10]);
    const latency = num(r[14]);
    const resume = num(r[15]);
    const op = Number(r[16]);
    yield [
      Number(r[0]),
      time,
      micros(time, tb),
      Number(r[2]),
      Number(r[3]),
      ENUMS.fault_kind[Number(r[4])] ?? String(r[4]),
      ACCESS[Number(r[5])] ?? String(r[5]),
      u64(r[6]),
      Number(r[7]),
      ENUMS.fault_decision[decision] ?? String(decision),
      outcome === null ? (decision === E.fault_decision.mmio ? 'mmio' : null) : (ENUMS.page_fault_outcome[outcome] ?? String(outcome)),
      FAULT_HOST[host] || null,
      Number(r[11]),
      u64(r[12]),
      u64(r[13]),
      latency,
      micros(latency, tb),
      resume,
      op >= 0 ? op : null,
      faultPath(decision, r[17] !== null, host, r[18] !== null, resume !== null),
    ];
  }
}

// ---------------------------------------------------------------------------------------------
// history
// ---------------------------------------------------------------------------------------------

export const HISTORY_COLUMNS: readonly CannedColumn[] = [
  col('seq', 'int'),
  col('time', 'int'),
  col('us', 'real'),
  col('lpid', 'int'),
  col('kind', 'text'),
  col('what', 'text'),
  col('hpte_index', 'int'),
  col('gfn', 'int'),
  col('description', 'text'),
  col('op', 'int'),
  col('cause_chain', 'text'),
];

export type HistorySelector = { gfn: number; lpid?: number } | { hpte: number; lpid?: number } | { eaPage: number; vcpu: number; lpid?: number };

interface TouchRow {
  lpid: number;
  slot: number;
  gfn: number;
  seq: number;
  what: number;
  op: number;
}

const hx = (v: bigint) => hex64(v);
const VALID = 1n;
const ABSENT = 0x20n;
const R = 0x100n;
const C = 0x80n;

function entryState(v: bigint): string {
  return (v & VALID) !== 0n ? 'VALID' : (v & ABSENT) !== 0n ? 'ABSENT' : 'empty';
}

const WRITE_LABEL: Record<string, string> = {
  h_enter: 'H_ENTER',
  h_enter_absent: 'H_ENTER (no host page)',
  h_remove: 'H_REMOVE',
  h_bulk_remove: 'H_BULK_REMOVE',
  h_protect: 'H_PROTECT',
  h_clear_ref: 'H_CLEAR_REF',
  h_clear_mod: 'H_CLEAR_MOD',
  hcall_write: 'hcall',
  notifier_invalidate: 'notifier invalidation',
  notifier_age: 'notifier aging',
  notifier_write: 'notifier',
  fault_install: 'page fault install',
  fault_write: 'page fault',
  vrma: 'VRMA set-up',
  hpte_write: 'write',
};

function rcBits(x: bigint): string {
  return [(x & R) !== 0n ? 'R' : '', (x & C) !== 0n ? 'C' : ''].filter(Boolean).join('|');
}

/** One line saying what event `e` did (`what`, decided by the derived pass). */
export function describe(e: TraceEvent, what: string): string {
  switch (e.kind) {
    case 'hpte_write': {
      const ov = field(e, 'old_v');
      const nv = field(e, 'new_v');
      const or = field(e, 'old_r');
      const nr = field(e, 'new_r');
      if (what === 'hw_rc') return `hardware set ${rcBits(nr & ~or)}: r=${hx(nr)}`;
      const cleared = (ov & VALID) !== 0n ? rcBits(or & ~nr) : '';
      return `${WRITE_LABEL[what] ?? what}: ${entryState(ov)} → ${entryState(nv)} v=${hx(nv)} r=${hx(nr)}${cleared ? ` (${cleared} cleared)` : ''}`;
    }
    case 'rmap_change':
      return `rmap ${ENUMS.rmap_op[fieldNum(e, 'op')]} slot ${fieldNum(e, 'hpte_index')} gfn ${fieldNum(e, 'gfn')}: rmap=${hx(field(e, 'rmap'))}`;
    case 'tlbie':
      return `tlbie ${ENUMS.tlb_scope[fieldNum(e, 'scope')]} rb=${hx(field(e, 'rb'))}`;
    case 'fault_triage': {
      const d = ENUMS.fault_decision[fieldNum(e, 'decision')];
      const st = field(e, 'out_status');
      return `${ENUMS.fault_kind[fieldNum(e, 'interrupt')].toUpperCase()} ${ACCESS[fieldNum(e, 'access')] ?? '?'} ea=${hx(field(e, 'ea'))} → ${d}${d === 'reflect' ? ` (status ${hx(st)})` : ''}`;
    }
    case 'page_fault_enter':
      return `page fault ea=${hx(field(e, 'ea'))} gfn ${fieldNum(e, 'gfn')} slot ${fieldNum(e, 'hpte_index')}: v=${hx(field(e, 'hpte_v'))} guest r=${hx(field(e, 'gpte_r'))}`;
    case 'page_fault_exit':
      return `page fault → ${ENUMS.page_fault_outcome[fieldNum(e, 'outcome')]} (ret ${fieldNum(e, 'ret')}) v=${hx(field(e, 'hpte_v'))}`;
    case 'hcall_exit':
      return `${hcallName(Number(field(e, 'nr')))} → ${hretName(fieldNum(e, 'ret'))} r4=${hx(field(e, 'out_r4'))} r5=${hx(field(e, 'out_r5'))}`;
    case 'notifier': {
      const n = fieldNum(e, 'hptes');
      return `notifier ${ENUMS.notifier_kind[fieldNum(e, 'callback')]} hva ${hx(field(e, 'hva_start'))}-${hx(field(e, 'hva_end'))} → ${ENUMS.notifier_effect[fieldNum(e, 'effect')]}${n ? ` (${n} HPTE${n === 1 ? '' : 's'})` : ''}`;
    }
    case 'host_page':
      return `host ${ENUMS.host_page_op[fieldNum(e, 'op')]} hva ${hx(field(e, 'hva'))} pfn ${hx(field(e, 'pfn'))}${fieldNum(e, 'writable') ? ' writable' : ''}`;
    case 'mmio_exit':
      return `MMIO ${fieldNum(e, 'is_write') ? 'store' : 'load'} gpa ${hx(field(e, 'gpa'))} len ${fieldNum(e, 'len')} data ${hx(field(e, 'data'))}`;
    default:
      return e.kind;
  }
}

/** The cause chain of `e`: its cause, that one's cause, … up to the root ("seq kind → seq kind …"). */
class CauseChains {
  private readonly memo = new Map<number, string>();
  constructor(private readonly lookup: EventLookup) {}
  of(e: TraceEvent): string {
    return e.cause === null ? '' : this.from(e.cause, 0);
  }
  private from(seq: number, depth: number): string {
    const m = this.memo.get(seq);
    if (m !== undefined) return m;
    const c = this.lookup.get(seq);
    let s: string;
    if (!c) s = `${seq} ?`;
    else {
      const head = c.kind === 'guest_op' ? `${seq} guest_op ${ENUMS.guest_op_kind[fieldNum(c, 'op')]}` : c.kind === 'hcall_enter' ? `${seq} ${hcallName(Number(field(c, 'nr')))}` : `${seq} ${c.kind}`;
      s = c.cause === null || depth >= 64 ? head : `${head} → ${this.from(c.cause, depth + 1)}`;
    }
    if (this.memo.size > 100_000) this.memo.clear();
    this.memo.set(seq, s);
    return s;
  }
}

function lpidsOf(db: Database.Database, lpid: number | undefined): number[] {
  if (lpid !== undefined) return [lpid];
  return (db.prepare('SELECT lpid FROM vms ORDER BY lpid').pluck(true).all() as number[]);
}

/** The touch rows of one space and key (every VM unless lpid), in seq order. */
function touches(db: Database.Database, space: number, key: number, lpid: number | undefined): TouchRow[] {
  const stmt = db.prepare('SELECT lpid, key, seq, what, other, op FROM touch WHERE space = ? AND lpid = ? AND key = ? ORDER BY seq').raw(true);
  const out: TouchRow[] = [];
  for (const l of lpidsOf(db, lpid)) {
    for (const r of stmt.all(space, l, key) as number[][]) {
      out.push(space === SPACE.slot ? { lpid: r[0], slot: r[1], gfn: r[4], seq: r[2], what: r[3], op: r[5] } : { lpid: r[0], gfn: r[1], slot: r[4], seq: r[2], what: r[3], op: r[5] });
    }
  }
  return out.sort((a, b) => a.seq - b.seq || a.lpid - b.lpid);
}

/** The rows of a history, in seq order (ties: lpid, slot). */
export function historyTouches(cache: DerivedCache, sel: HistorySelector): TouchRow[] {
  const db = cache.db;
  if ('gfn' in sel) return touches(db, SPACE.gfn, sel.gfn, sel.lpid);
  if ('hpte' in sel) return touches(db, SPACE.slot, sel.hpte, sel.lpid);
  // EA + vcpu: the faults at that EA page on that vcpu, and the lives of the slots they used.
  const faults = db
    .prepare(`SELECT seq, lpid, triage_hpte, hpte_index, gfn, op FROM fault_chain WHERE ea_page = ? AND vcpu = ?${sel.lpid !== undefined ? ' AND lpid = ?' : ''} ORDER BY seq`)
    .raw(true)
    .all(...[sel.eaPage, sel.vcpu, ...(sel.lpid !== undefined ? [sel.lpid] : [])]) as number[][];
  const slots = new Map<string, [number, number]>();
  const rows: TouchRow[] = [];
  for (const [seq, lpid, t, h, gfn, op] of faults) {
    for (const s of [t, h]) if (s >= 0) slots.set(`${lpid}:${s}`, [lpid, s]);
    if (t < 0) rows.push({ lpid, slot: -1, gfn, seq, what: WHAT.indexOf('fault'), op });
  }
  for (const [lpid, s] of slots.values()) rows.push(...touches(db, SPACE.slot, s, lpid));
  return rows.sort((a, b) => a.seq - b.seq || a.lpid - b.lpid || a.slot - b.slot);
}

/**
 * The history rows of `sel`. Rows past `materialize` (a table's row limit: only counted) are
 * yielded empty, without their event and cause lookups.
 */
export function* historyRows(cache: DerivedCache, lookup: EventLookup, sel: HistorySelector, materialize = Number.POSITIVE_INFINITY): Generator<CannedCell[]> {
  const chains = new CauseChains(lookup);
  const tb = cache.meta.timebaseHz;
  let n = 0;
  for (const t of historyTouches(cache, sel)) {
    if (n++ >= materialize) {
      yield [];
      continue;
    }
    const e = lookup.get(t.seq);
    if (!e) continue;
    const what = WHAT[t.what] ?? 'other';
    yield [
      t.seq,
      e.time,
      micros(e.time, tb),
      t.lpid,
      e.kind,
      what,
      t.slot >= 0 ? t.slot : -1,
      t.gfn >= 0 ? t.gfn : -1,
      describe(e, what),
      t.op >= 0 ? t.op : null,
      chains.of(e),
    ];
  }
}
