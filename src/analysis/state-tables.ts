// State at any event as SQL table-valued functions, joinable with the event views:
//
//   SELECT f.seq, h.v, h.r FROM faults f, hpte_at(f.seq) h WHERE h.lpid = f.lpid AND h.hpte_index = f.hpte_index
//
//   hpte_at(seq)          lpid, hpte_index, v, r, guest_r, valid, absent, last_seq
//   rmap_at(seq)          lpid, gfn, rmap, present, head, referenced, changed, last_seq
//   host_page_at(seq)     hva, state, present, swapped, pfn, writable, page_shift, last_seq
//   slb_at(seq [, vcpu])  lpid, slot, esid, vsid, valid, last_seq   (vcpu is a hidden column)
//
// "State at seq S" is the state after event S has been applied, as `hvtrace state --at S` shows it
// (replay/seek.ts folds events 0..S inclusive). seq outside the trace is an error, as for `state`.
//
// Keys. The key columns (hpte_at: lpid, hpte_index; rmap_at: lpid, gfn; host_page_at: hva; slb_at:
// lpid, slot, and the hidden vcpu) are parameters of the function: an `=` (or IN) constraint on one
// in WHERE or ON is handed to the function, so a probe for one key at one seq is one or two lookups
// in the events indexes (below), never a replay. A key left unconstrained means every key: every
// slot / word / page / entry that has state at S. Only `=` can constrain a key (better-sqlite3's rule):
// write `+hpte_index < 64` (an expression, not a constraint) to filter a key column by a range.
// In a join the function is evaluated once per row of the other side (SQLite cannot plan it the
// other way round: that plan would leave the keys unbound and is refused). For the same reason two
// state tables joined on their keys (`b.hpte_index = a.hpte_index`) have no plan at all ("no query
// solution": each side's key would be constrained by the other): mark the side that is given,
// `b.lpid = +a.lpid AND b.hpte_index = +a.hpte_index`.
//
// Rows exist only for keys that have state: an HPTE slot never written since its VM was created
// (kvmppc_alloc_hpt zeroes the HPT) has no row, nor an rmap word never set since its memslot was
// created, a host page with no map/unmap/swap/protect event, an SLB entry never loaded. Such state
// is all zero, which is what `state --at` shows for it. A slot written to zero (H_REMOVE) has a row
// (valid 0, last_seq = the removal).
//
// Semantics, each the rule of the replay handler that folds it (replay/handlers/):
// - hpte_at: the last hpte_write to (lpid, hpte_index) with seq <= S after the VM's last vm_create
//   at or before S; new_v → v, new_r → r, guest_r. Indexes outside the VM's HPT are ignored (hpt.ts).
//   valid = v & HPTE_V_VALID, absent = v & HPTE_V_ABSENT (arch/hpte.ts).
// - rmap_at: the last rmap_change of (lpid, gfn) with seq <= S after the creation of the memslot
//   that holds gfn at S (a created memslot starts with zero rmap words; a gfn in no memslot has no
//   rmap); its `rmap` field is the word after the change (rmap.ts). present/referenced/changed are
//   KVMPPC_RMAP_PRESENT/REFERENCED/CHANGED, head = the word's INDEX (the chain head) when present,
//   else NULL (arch/kvm_host.ts). Memslots of one VM do not overlap (KVM refuses it).
// - host_page_at: the VMM page table per hva (host.ts): map/swap_in set pfn, writable and
//   page_shift and make the page present; unmap clears it; swap_out leaves it swapped; protect sets
//   or clears writable; pin/unpin (page references), age (young bit, not in the trace) and frames of
//   other processes (owner 1, no VMM address) do not change it. As `state --gfn` shows a host page:
//   state is present, swapped or unmapped; pfn is NULL and writable 0 when not present. hva is the
//   page's address as recorded (its base). Pin counts (per pfn) are not here.
// - slb_at: the last slb_update (slbmte) of (lpid, vcpu, slot) with seq <= S after the VM's last
//   vm_create; an slbia (slot -1) after it clears the valid bit of every entry but slot 0
//   (hw/vcpu.ts slbia), and last_seq is then that slbia. valid = esid & SLB_ESID_V.
//
// Column types (STATE_COLUMN_TYPES, for printing): 'hex' columns are 64-bit words (v, r, guest_r,
// rmap, hva, pfn, esid, vsid) returned, like the events table's words, as the signed 64-bit bit
// pattern (read with safeIntegers, show with BigInt.asUintN(64, x)); 'int' columns are integers
// (indexes, seqs, shifts) and 0/1 flags. Every value is returned as a 64-bit integer (a BigInt on
// the JS side), so a statement with safeIntegers(true) reads every column exactly.
//
// Index use. Payload field j is column wj (kinds.ts). The trace indexes are events(kind, w0),
// events(kind, w1) and events(cause); SQLite appends the rowid (seq) to every index, so
// `kind = K AND wj = key AND seq <= S ORDER BY seq DESC LIMIT 1` is one descent of the index:
//   hpte_write.hpte_index = w0, rmap_change.gfn = w1, host_page.hva = w1, slb_update.slot = w0
// (EXPLAIN QUERY PLAN: `SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid<?)`,
// checked in test/analysis/state-tables.test.ts). The lpid / vcpu of the row is then checked on the
// table row; other VMs' writes to the same index are skipped on the way down (few VMs). vm_create
// and memslot events are few: they are read once per registration and kept in memory.
//
// Implementation note. better-sqlite3's `db.table()` declares every parameter HIDDEN, and a hidden
// parameter that is not constrained reads NULL; with it `SELECT lpid, hpte_index, v FROM hpte_at(9)`
// would show NULL keys and `SELECT *` would omit them. So the tables are declared through the same
// native entry point `db.table()` calls (lib/methods/table.js: name, definition [declaration,
// generator, parameter names, safeIntegers, directOnly], eponymous), with the key parameters as
// ordinary visible columns and rows that carry every column, keys included. This relies on
// better-sqlite3 12.x internals (pinned in package.json); the test checks the behaviour.
// The function bodies run queries while the caller's statement is running, which one better-sqlite3
// connection refuses ("connection is busy"), so they read through a second read-only connection to
// the same file, which registerStateTables opens and the returned handle closes.

import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { HPTE_V_ABSENT, HPTE_V_VALID } from '../arch/hpte.js';
import { KVMPPC_RMAP_CHANGED, KVMPPC_RMAP_INDEX, KVMPPC_RMAP_PRESENT, KVMPPC_RMAP_REFERENCED } from '../arch/kvm_host.js';
import { SLB_ESID_V } from '../arch/slb.js';
import { SLB_ROWS } from '../replay/state.js';
import { UserError } from '../trace/errors.js';
import { F } from '../trace/fields.js';
import { E, K } from '../trace/kinds.js';

export type StateColumnType = 'hex' | 'int' | 'text';

/** Per function: its positional (hidden) arguments and its visible columns with their types. */
export const STATE_TABLES = {
  hpte_at: {
    args: ['seq'],
    keys: ['lpid', 'hpte_index'],
    columns: { lpid: 'int', hpte_index: 'int', v: 'hex', r: 'hex', guest_r: 'hex', valid: 'int', absent: 'int', last_seq: 'int' },
  },
  rmap_at: {
    args: ['seq'],
    keys: ['lpid', 'gfn'],
    columns: { lpid: 'int', gfn: 'int', rmap: 'hex', present: 'int', head: 'int', referenced: 'int', changed: 'int', last_seq: 'int' },
  },
  host_page_at: {
    args: ['seq'],
    keys: ['hva'],
    columns: { hva: 'hex', state: 'text', present: 'int', swapped: 'int', pfn: 'hex', writable: 'int', page_shift: 'int', last_seq: 'int' },
  },
  slb_at: {
    args: ['seq', 'vcpu'],
    keys: ['lpid', 'slot'],
    columns: { lpid: 'int', slot: 'int', esid: 'hex', vsid: 'hex', valid: 'int', last_seq: 'int' },
  },
} as const satisfies Record<string, { args: readonly string[]; keys: readonly string[]; columns: Record<string, StateColumnType> }>;

export type StateTableName = keyof typeof STATE_TABLES;

/** Column name → type over every state table (a name has one type in all of them). */
export const STATE_COLUMN_TYPES: Readonly<Record<string, StateColumnType>> = Object.freeze({
  seq: 'int',
  vcpu: 'int',
  ...STATE_TABLES.hpte_at.columns,
  ...STATE_TABLES.rmap_at.columns,
  ...STATE_TABLES.host_page_at.columns,
  ...STATE_TABLES.slb_at.columns,
});

export interface StateTables {
  /** Close the lookup connection (the functions fail afterwards). */
  close(): void;
}

// better-sqlite3's private symbol for the native database object (lib/util.js), see the note above.
const { cppdb } = createRequire(import.meta.url)('better-sqlite3/lib/util.js') as { cppdb: symbol };

type Row = unknown[];
type Arg = bigint | number | string | Buffer | undefined;

interface NativeDb {
  table(factory: () => [string, (...args: Arg[]) => Iterator<Row>, string[], number, boolean], name: string, eponymous: boolean): void;
}

const w = (j: number) => `w${j}`;
const B = (x: boolean) => (x ? 1n : 0n);
const u64 = (x: bigint) => BigInt.asUintN(64, x);
const i64 = (x: bigint) => BigInt.asIntN(64, x);

const HW = { idx: w(F.hpte_write.hpte_index), v: w(F.hpte_write.new_v), r: w(F.hpte_write.new_r), g: w(F.hpte_write.guest_r) };
const RM = { gfn: w(F.rmap_change.gfn), rmap: w(F.rmap_change.rmap) };
const HP = { op: w(F.host_page.op), hva: w(F.host_page.hva), pfn: w(F.host_page.pfn), wr: w(F.host_page.writable), shift: w(F.host_page.page_shift), owner: w(F.host_page.owner) };
const SL = { slot: w(F.slb_update.slot), esid: w(F.slb_update.esid), vsid: w(F.slb_update.vsid) };
const VC = { order: w(F.vm_create.hpt_order) };
const MS = { op: w(F.memslot.op), slot: w(F.memslot.slot), base: w(F.memslot.base_gfn), npages: w(F.memslot.npages) };

const probeSql = (kind: number, key: string, cols: string, extra = '') =>
  `SELECT seq, ${cols} FROM events WHERE kind = ${kind} AND ${key} AND seq <= ? AND lpid = ?${extra} ORDER BY seq DESC LIMIT 1`;

/**
 * The statements behind one key at one seq (test/analysis/state-tables.test.ts explains each):
 * the last event of the kind whose key column holds the key, at or before S, of one VM (and vcpu),
 * one descent of the (kind, key column) index. A stored word past an event's last nonzero word is
 * NULL (the sink trims trailing zero words), so key 0 may be stored as NULL: for 0 a second
 * statement (`*_null`) asks for NULL and the newer event wins (an `OR w IS NULL` in one statement
 * makes SQLite scan the whole kind instead).
 */
export const PROBE_SQL = {
  hpte: probeSql(K.hpte_write, `${HW.idx} = ?`, `IFNULL(${HW.v}, 0), IFNULL(${HW.r}, 0), IFNULL(${HW.g}, 0)`),
  hpte_null: probeSql(K.hpte_write, `${HW.idx} IS NULL`, `IFNULL(${HW.v}, 0), IFNULL(${HW.r}, 0), IFNULL(${HW.g}, 0)`),
  rmap: probeSql(K.rmap_change, `${RM.gfn} = ?`, `IFNULL(${RM.rmap}, 0)`),
  rmap_null: probeSql(K.rmap_change, `${RM.gfn} IS NULL`, `IFNULL(${RM.rmap}, 0)`),
  slb: probeSql(K.slb_update, `${SL.slot} = ?`, `IFNULL(${SL.esid}, 0), IFNULL(${SL.vsid}, 0)`, ' AND vcpu = ?'),
  slb_null: probeSql(K.slb_update, `${SL.slot} IS NULL`, `IFNULL(${SL.esid}, 0), IFNULL(${SL.vsid}, 0)`, ' AND vcpu = ?'),
  /** The first slbia of (lpid, vcpu) in (after, S]. */
  slbia: `SELECT min(seq) FROM events WHERE kind = ${K.slb_update} AND ${SL.slot} = -1 AND seq > ? AND seq <= ? AND lpid = ? AND vcpu = ?`,
  /** The host page's events, newest first (read until the state is known, usually one or two). */
  host: `SELECT seq, IFNULL(${HP.op}, 0), IFNULL(${HP.pfn}, 0), IFNULL(${HP.wr}, 0), IFNULL(${HP.shift}, 0), IFNULL(${HP.owner}, 0) FROM events WHERE kind = ${K.host_page} AND ${HP.hva} = ? AND seq <= ? ORDER BY seq DESC`,
} as const;

/** A key probe: the `=` statement, and for key 0 also the NULL one. */
class Probe {
  private readonly eq: Database.Statement;
  private readonly nul: Database.Statement;
  constructor(lk: Database.Database, eq: string, nul: string) {
    this.eq = lk.prepare(eq).safeIntegers(true).raw(true);
    this.nul = lk.prepare(nul).safeIntegers(true).raw(true);
  }
  /** (key, S, lpid[, vcpu]) → [seq, ...cols] of the event, or undefined. */
  get(key: bigint, ...rest: bigint[]): bigint[] | undefined {
    const a = this.eq.get(key, ...rest) as bigint[] | undefined;
    if (key !== 0n) return a;
    const b = this.nul.get(...rest) as bigint[] | undefined;
    return !a ? b : !b ? a : a[0] > b[0] ? a : b;
  }
}

interface VmGen {
  seq: number;
  npte: number;
}
interface MemslotEv {
  seq: number;
  lpid: number;
  create: boolean;
  slot: number;
  base: number;
  npages: number;
}
interface LiveSlot {
  seq: number;
  base: number;
  npages: number;
}

/** Integer value of an argument or key, or null if it is not an integer (then nothing matches). */
function intOf(x: Arg): bigint | null {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
  return null;
}

/**
 * Register hpte_at, rmap_at, host_page_at and slb_at on `db`, a connection to a file database that
 * has the trace's `events` table (an hvtrace SQLite trace, or a SQLite copy of one). Returns the
 * handle of the lookup connection they use; close it when done with `db`.
 */
export function registerStateTables(db: Database.Database): StateTables {
  if (db.memory || !db.name) throw new Error('registerStateTables needs a database file (it reads through a second connection)');
  const lk = new Database(db.name, { readonly: true, fileMustExist: true });
  defineStateTables(db, new Lookups(lk));
  return { close: () => lk.close() };
}

/**
 * Declare the four tables on `db` without a trace behind them (their rows are never read): for a
 * connection that only prepares statements, such as query-db's typing probe, where the declared
 * column types (HEX for words) give `SELECT h.v FROM hpte_at(…) h` its 0x… type.
 */
export function declareStateTables(db: Database.Database): void {
  defineStateTables(db, null);
}

function defineStateTables(db: Database.Database, t: Lookups | null): void {
  const native = (db as unknown as Record<symbol, NativeDb | undefined>)[cppdb];
  if (typeof native?.table !== 'function') throw new Error('registerStateTables: this better-sqlite3 has no native table() (see state-tables.ts)');
  const none = function* (): Generator<Row> {};
  const define = (name: StateTableName, rows: (args: Arg[]) => Generator<Row>) => {
    const def = STATE_TABLES[name];
    const keys: readonly string[] = def.keys;
    const types: Record<string, StateColumnType> = def.columns;
    const sqlType = (c: string) => (types[c] === 'text' ? 'TEXT' : types[c] === 'hex' ? 'HEX' : 'INTEGER');
    const cols = [...def.args.map((a) => `${a} INTEGER HIDDEN`), ...keys.map((k) => `${k} ${sqlType(k)}`), ...Object.keys(types).filter((c) => !keys.includes(c)).map((c) => `${c} ${sqlType(c)}`)];
    const params = [...def.args, ...keys];
    // safeIntegers 1: integer arguments reach the generator as BigInt.
    native.table(() => [`CREATE TABLE x(${cols.join(', ')})`, (...args: Arg[]) => rows(args), params, 1, false], name, true);
  };
  define('hpte_at', (a) => (t ? t.hpteAt(a) : none()));
  define('rmap_at', (a) => (t ? t.rmapAt(a) : none()));
  define('host_page_at', (a) => (t ? t.hostPageAt(a) : none()));
  define('slb_at', (a) => (t ? t.slbAt(a) : none()));
}

/** The lookups behind the functions, on their own connection; vm_create and memslot events cached. */
class Lookups {
  private n = -1;
  private vms: Map<number, VmGen[]> | null = null;
  private memslots: MemslotEv[] | null = null;
  private readonly st: Record<string, Database.Statement> = {};
  private readonly probe: { hpte: Probe; rmap: Probe; slb: Probe };

  constructor(private readonly lk: Database.Database) {
    this.probe = {
      hpte: new Probe(lk, PROBE_SQL.hpte, PROBE_SQL.hpte_null),
      rmap: new Probe(lk, PROBE_SQL.rmap, PROBE_SQL.rmap_null),
      slb: new Probe(lk, PROBE_SQL.slb, PROBE_SQL.slb_null),
    };
  }

  private stmt(key: string, sql: string): Database.Statement {
    let s = this.st[key];
    if (!s) {
      s = this.lk.prepare(sql).safeIntegers(true).raw(true);
      this.st[key] = s;
    }
    return s;
  }

  private seqArg(fn: string, x: Arg): number {
    if (x === undefined) throw new UserError(`${fn}(seq): the event seq is required, e.g. ${fn}(1000)`);
    const s = intOf(x);
    if (s === null) throw new UserError(`${fn}(seq): seq must be an integer event seq, got ${typeof x === 'string' ? `'${x}'` : String(x)}`);
    if (this.n < 0) this.n = Number((this.lk.prepare('SELECT IFNULL(MAX(seq) + 1, 0) FROM events').safeIntegers(true).pluck().get() as bigint));
    if (s < 0n || s >= BigInt(this.n)) throw new UserError(`${fn}(${s}): seq ${s} is outside the trace (0..${this.n - 1})`);
    return Number(s);
  }

  /** The VM generations (vm_create) of every LPID, in seq order. */
  private vmGens(): Map<number, VmGen[]> {
    if (!this.vms) {
      const m = new Map<number, VmGen[]>();
      for (const [seq, lpid, order] of this.lk.prepare(`SELECT seq, lpid, IFNULL(${VC.order}, 0) FROM events WHERE kind = ${K.vm_create} ORDER BY seq`).safeIntegers(true).raw(true).iterate() as IterableIterator<bigint[]>) {
        const l = Number(lpid);
        if (!m.has(l)) m.set(l, []);
        m.get(l)!.push({ seq: Number(seq), npte: 2 ** (Number(order) - 4) });
      }
      this.vms = m;
    }
    return this.vms;
  }

  /** The VM of lpid at S (its last vm_create at or before S), or null. */
  private vmAt(lpid: number, S: number): VmGen | null {
    const gens = this.vmGens().get(lpid);
    if (!gens) return null;
    let r: VmGen | null = null;
    for (const g of gens) if (g.seq <= S) r = g;
    return r;
  }

  /** [lpid, VM] of every VM that exists at S, or of the one asked for; LPID ascending. */
  private vmsAt(lpidArg: Arg, S: number): [number, VmGen][] {
    const lpids = lpidArg === undefined ? [...this.vmGens().keys()].sort((a, b) => a - b) : [intOf(lpidArg)].filter((x) => x !== null).map(Number);
    const out: [number, VmGen][] = [];
    for (const l of lpids) {
      const vm = this.vmAt(l, S);
      if (vm) out.push([l, vm]);
    }
    return out;
  }

  /** Memslots of lpid live at S (created after vm.seq, not deleted by S), in creation order (memslots.ts slotList). */
  private liveSlots(lpid: number, vm: VmGen, S: number): LiveSlot[] {
    if (!this.memslots) {
      this.memslots = (this.lk.prepare(`SELECT seq, lpid, IFNULL(${MS.op}, 0), IFNULL(${MS.slot}, 0), IFNULL(${MS.base}, 0), IFNULL(${MS.npages}, 0) FROM events WHERE kind = ${K.memslot} ORDER BY seq`).safeIntegers(true).raw(true).all() as bigint[][])
        .map(([seq, l, op, slot, base, npages]) => ({ seq: Number(seq), lpid: Number(l), create: Number(op) === E.memslot_op.create, slot: Number(slot), base: Number(base), npages: Number(npages) }));
    }
    const live = new Map<number, LiveSlot>();
    for (const m of this.memslots) {
      if (m.seq > S) break;
      if (m.lpid !== lpid || m.seq <= vm.seq) continue;
      live.delete(m.slot);
      if (m.create) live.set(m.slot, { seq: m.seq, base: m.base, npages: m.npages });
    }
    return [...live.values()];
  }

  // -------------------------------------------------------------------------------------------
  // hpte_at(seq) [lpid, hpte_index]
  // -------------------------------------------------------------------------------------------

  *hpteAt([seqA, lpidA, idxA]: Arg[]): Generator<Row> {
    const S = this.seqArg('hpte_at', seqA);
    const seqB = BigInt(S);
    for (const [lpid, vm] of this.vmsAt(lpidA, S)) {
      const lp = BigInt(lpid);
      if (idxA !== undefined) {
        const idx = intOf(idxA);
        if (idx === null || idx < 0n || idx >= BigInt(vm.npte)) continue;
        const e = this.probe.hpte.get(idx, seqB, lp);
        if (e && Number(e[0]) > vm.seq) yield hpteRow(seqB, lp, idx, e[1], e[2], e[3], e[0]);
        continue;
      }
      // Every slot: the last write per index in (vm_create, S] (SQLite takes the bare columns from the max(seq) row).
      const all = this.stmt('hpteN', `SELECT IFNULL(${HW.idx}, 0) AS i, max(seq), IFNULL(${HW.v}, 0), IFNULL(${HW.r}, 0), IFNULL(${HW.g}, 0) FROM events WHERE +kind = ${K.hpte_write} AND lpid = ? AND seq > ? AND seq <= ? GROUP BY i ORDER BY i`);
      // .all(), not .iterate(): the lookup connection must be free again before a row is handed out
      // (a join may probe while this function's rows are being read).
      for (const [i, s, v, r, g] of all.all(lp, BigInt(vm.seq), seqB) as bigint[][]) {
        if (i >= 0n && i < BigInt(vm.npte)) yield hpteRow(seqB, lp, i, v, r, g, s);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // rmap_at(seq) [lpid, gfn]
  // -------------------------------------------------------------------------------------------

  *rmapAt([seqA, lpidA, gfnA]: Arg[]): Generator<Row> {
    const S = this.seqArg('rmap_at', seqA);
    const seqB = BigInt(S);
    for (const [lpid, vm] of this.vmsAt(lpidA, S)) {
      const lp = BigInt(lpid);
      const slots = this.liveSlots(lpid, vm, S);
      if (gfnA !== undefined) {
        const gfn = intOf(gfnA);
        if (gfn === null) continue;
        const g = Number(gfn);
        const slot = slots.find((s) => g >= s.base && g < s.base + s.npages);
        if (!slot) continue;
        const e = this.probe.rmap.get(gfn, seqB, lp);
        if (e && Number(e[0]) > slot.seq) yield rmapRow(seqB, lp, gfn, e[1], e[0]);
        continue;
      }
      // Every word: the last change per gfn in (vm_create, S], kept if it is later than the creation
      // of the memslot that holds the gfn at S.
      const rows: Row[] = [];
      const all = this.stmt('rmapN', `SELECT IFNULL(${RM.gfn}, 0) AS g, max(seq), IFNULL(${RM.rmap}, 0) FROM events WHERE +kind = ${K.rmap_change} AND lpid = ? AND seq > ? AND seq <= ? GROUP BY g ORDER BY g`);
      for (const [g, q, rm] of all.all(lp, BigInt(vm.seq), seqB) as bigint[][]) {
        const gn = Number(g);
        const slot = slots.find((x) => gn >= x.base && gn < x.base + x.npages);
        if (slot && Number(q) > slot.seq) rows.push(rmapRow(seqB, lp, g, rm, q));
      }
      yield* rows;
    }
  }

  // -------------------------------------------------------------------------------------------
  // host_page_at(seq) [hva]
  // -------------------------------------------------------------------------------------------

  *hostPageAt([seqA, hvaA]: Arg[]): Generator<Row> {
    const S = this.seqArg('host_page_at', seqA);
    const seqB = BigInt(S);
    if (hvaA !== undefined) {
      const hva = intOf(hvaA);
      if (hva === null || hva === 0n) return;
      // Newest first: protects until the event that set the page (map, swap_in, unmap, swap_out),
      // then, if that left it not present, back to the last map/swap_in for its page_shift.
      const st = this.stmt('host1', PROBE_SQL.host);
      const p = new PageFold();
      let last: bigint | null = null;
      let base = false;
      const it = st.iterate(i64(hva), seqB) as IterableIterator<bigint[]>;
      try {
        for (const [s, op, pfn, wr, shift, owner] of it) {
          const o = Number(op);
          if (!pageOp(o, owner)) continue;
          last ??= s;
          if (!base) {
            if (o === E.host_page_op.protect) {
              p.protect ??= wr !== 0n;
              continue;
            }
            base = true;
            p.apply(o, pfn, wr, shift);
            if (p.present) break;
            continue;
          }
          if (o === E.host_page_op.map || o === E.host_page_op.swap_in) {
            p.shift = shift;
            break;
          }
        }
      } finally {
        it.return?.();
      }
      if (last !== null) yield hostRow(seqB, hva, p.finish(), last);
      return;
    }
    // Every page: fold the host_page events up to S forward, as host.ts does.
    const pages = new Map<bigint, { p: PageFold; last: bigint }>();
    const st = this.stmt('hostN', `SELECT seq, IFNULL(${HP.op}, 0), IFNULL(${HP.hva}, 0), IFNULL(${HP.pfn}, 0), IFNULL(${HP.wr}, 0), IFNULL(${HP.shift}, 0), IFNULL(${HP.owner}, 0) FROM events WHERE kind = ${K.host_page} AND seq <= ? ORDER BY seq`);
    for (const [s, op, hva, pfn, wr, shift, owner] of st.iterate(seqB) as IterableIterator<bigint[]>) {
      const o = Number(op);
      if (hva === 0n || !pageOp(o, owner)) continue;
      let e = pages.get(hva);
      if (!e) {
        e = { p: new PageFold(), last: s };
        pages.set(hva, e);
      }
      e.last = s;
      if (o === E.host_page_op.protect) e.p.flags = wr !== 0n ? e.p.flags | HOST_RW : e.p.flags & ~HOST_RW;
      else e.p.apply(o, pfn, wr, shift);
    }
    for (const hva of [...pages.keys()].sort((a, b) => (u64(a) < u64(b) ? -1 : 1))) {
      const e = pages.get(hva)!;
      yield hostRow(seqB, hva, e.p, e.last);
    }
  }

  // -------------------------------------------------------------------------------------------
  // slb_at(seq [, vcpu]) [lpid, slot]
  // -------------------------------------------------------------------------------------------

  *slbAt([seqA, vcpuA, lpidA, slotA]: Arg[]): Generator<Row> {
    const S = this.seqArg('slb_at', seqA);
    const seqB = BigInt(S);
    let slot: bigint | null = null;
    if (slotA !== undefined) {
      slot = intOf(slotA);
      if (slot === null || slot < 0n || slot >= BigInt(SLB_ROWS)) return;
    }
    let vcpu: bigint | null = null;
    if (vcpuA !== undefined) {
      vcpu = intOf(vcpuA);
      if (vcpu === null || vcpu < 0n) return;
    }
    const slbia = this.stmt('slbia', PROBE_SQL.slbia).pluck();
    for (const [lpid, vm] of this.vmsAt(lpidA, S)) {
      const lp = BigInt(lpid);
      // The last load of each (vcpu, slot) wanted, in (vm_create, S]: one probe per slot (an SLB has
      // SLB_ROWS entries at most) of the vcpu asked for, or of every vcpu that loaded an entry.
      const vcpus = vcpu !== null ? [vcpu] : (this.stmt('slbV', `SELECT DISTINCT vcpu FROM events WHERE +kind = ${K.slb_update} AND lpid = ? AND seq > ? AND seq <= ? AND vcpu >= 0 ORDER BY vcpu`).pluck().all(lp, BigInt(vm.seq), seqB) as bigint[]);
      const ks = slot !== null ? [slot] : Array.from({ length: SLB_ROWS }, (_, k) => BigInt(k));
      const loads: bigint[][] = [];
      for (const v of vcpus) {
        for (const k of ks) {
          const e = this.probe.slb.get(k, seqB, lp, v);
          if (e && Number(e[0]) > vm.seq) loads.push([v, k, ...e]);
        }
      }
      for (const [v, k, s, esid0, vsid] of loads) {
        let esid = esid0;
        let last = s;
        if (k !== 0n && (u64(esid) & SLB_ESID_V) !== 0n) {
          const ia = slbia.get(s, seqB, lp, v) as bigint | null;
          if (ia !== null) {
            esid = i64(u64(esid) & ~SLB_ESID_V);
            last = ia;
          }
        }
        yield [seqB, v, lp, k, esid, vsid, B((u64(esid) & SLB_ESID_V) !== 0n), last];
      }
    }
  }
}

/** Host PTE flags as host.ts keeps them. */
const HOST_PRESENT = 1;
const HOST_RW = 2;
const HOST_SWAP = 0x80;

/** A page-table op on a VMM page (host.ts): not pin/unpin, not another process's frame. */
function pageOp(op: number, owner: bigint): boolean {
  if (op === E.host_page_op.pin || op === E.host_page_op.unpin || op === E.host_page_op.age) return false;
  return owner !== 1n;
}

/** One host page as host.ts folds it: pfn, flags (HOST_*), page_shift. */
class PageFold {
  pfn = 0n;
  flags = 0;
  shift = 0n;
  /** Backward scan only: the newest protect's writable, applied over the base event. */
  protect: boolean | undefined = undefined;
  get present(): boolean {
    return (this.flags & HOST_PRESENT) !== 0;
  }
  apply(op: number, pfn: bigint, wr: bigint, shift: bigint): void {
    if (op === E.host_page_op.map || op === E.host_page_op.swap_in) {
      this.pfn = pfn;
      this.flags = HOST_PRESENT | (wr !== 0n ? HOST_RW : 0);
      this.shift = shift;
    } else if (op === E.host_page_op.unmap) {
      this.pfn = 0n;
      this.flags = 0;
    } else if (op === E.host_page_op.swap_out) {
      this.pfn = 0n;
      this.flags = HOST_SWAP;
    }
  }
  finish(): PageFold {
    if (this.protect !== undefined) this.flags = this.protect ? this.flags | HOST_RW : this.flags & ~HOST_RW;
    this.protect = undefined;
    return this;
  }
}

function hpteRow(seq: bigint, lpid: bigint, idx: bigint, v: bigint, r: bigint, g: bigint, last: bigint): Row {
  const vu = u64(v);
  return [seq, lpid, idx, v, r, g, B((vu & HPTE_V_VALID) !== 0n), B((vu & HPTE_V_ABSENT) !== 0n), last];
}

function rmapRow(seq: bigint, lpid: bigint, gfn: bigint, rmap: bigint, last: bigint): Row {
  const x = u64(rmap);
  const present = (x & KVMPPC_RMAP_PRESENT) !== 0n;
  return [seq, lpid, gfn, rmap, B(present), present ? x & KVMPPC_RMAP_INDEX : null, B((x & KVMPPC_RMAP_REFERENCED) !== 0n), B((x & KVMPPC_RMAP_CHANGED) !== 0n), last];
}

function hostRow(seq: bigint, hva: bigint, p: PageFold, last: bigint): Row {
  const present = p.present;
  const swapped = !present && (p.flags & HOST_SWAP) !== 0;
  const state = present ? 'present' : swapped ? 'swapped' : 'unmapped';
  return [seq, i64(hva), state, B(present), B(swapped), present ? p.pfn : null, B(present && (p.flags & HOST_RW) !== 0), p.shift, last];
}
