// The state tables (src/analysis/state-tables.ts) against the replay that `hvtrace state --at` uses
// (StateFold: the HPT, rmap, host and vcpu handlers), at random seqs of a workload trace
// with host pressure (swap-out, swap-in, aging, rmap unlink/update, slbia); the fault × hpte_at join
// against independent SQL over hpte_write; the probe plans; and hand-made traces for the rules a
// workload does not reach (two VMs, a re-created VM, memslot deletion, host protect/unmap, key 0
// stored as NULL, slbia sparing slot 0), with expected rows derived by hand.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { PROBE_SQL, registerStateTables, STATE_COLUMN_TYPES, STATE_TABLES } from '../../src/analysis/state-tables.js';
import { HPTE_V_ABSENT_LO, HPTE_V_VALID_LO } from '../../src/arch/hpte.js';
import { KVMPPC_RMAP_CHANGED_HI, KVMPPC_RMAP_PRESENT_HI, KVMPPC_RMAP_REFERENCED_HI } from '../../src/arch/kvm_host.js';
import { SLB_ESID_V_LO } from '../../src/arch/slb.js';
import { Prng } from '../../src/base/prng.js';
import { HOST_PRESENT, HOST_RW, HOST_SWAP, SLB_ROWS, StateFold } from '../../src/replay/state.js';
import { KINDS, KIND_NAMES } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { CREATE_INDEXES, schemaSql } from '../../src/trace/sqlite-schema.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const u64 = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const U = (x: unknown) => BigInt.asUintN(64, x as bigint);

const trace = join(tmpDir('hvtrace-tvf-'), 't.sqlite');
before(() => {
  const r = spawnSync(process.execPath, [BIN, 'record', '-w', 'mix', '--guest-mb', '64', '--host-mb', '48', '--pressure', '0.9', '--accesses', '12000', '--seed', '11', '-o', trace, '-q', '--no-index'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

function open(path: string) {
  const db = new Database(path, { readonly: true });
  db.defaultSafeIntegers(true);
  const tables = registerStateTables(db);
  const rows = (sql: string, ...p: unknown[]) => db.prepare(sql).all(...p) as Record<string, unknown>[];
  return { db, tables, rows, close: () => (tables.close(), db.close()) };
}

/** Expected rows from the fold, keyed; only state that is not all zero (never-written state has no row). */
function expectedFromFold(fold: StateFold) {
  const hpte = new Map<string, unknown[]>();
  const rmap = new Map<string, unknown[]>();
  const slb = new Map<string, unknown[]>();
  for (const [lpid, vm] of fold.vms) {
    const h = vm.hpt;
    const g = vm.guestR;
    for (let i = 0; i < vm.npte; i++) {
      if ((h[i * 4] | h[i * 4 + 1] | h[i * 4 + 2] | h[i * 4 + 3] | g[i * 2] | g[i * 2 + 1]) === 0) continue;
      hpte.set(`${lpid}/${i}`, [u64(h[i * 4], h[i * 4 + 1]), u64(h[i * 4 + 2], h[i * 4 + 3]), u64(g[i * 2], g[i * 2 + 1]), (h[i * 4 + 1] & HPTE_V_VALID_LO) !== 0, (h[i * 4 + 1] & HPTE_V_ABSENT_LO) !== 0]);
    }
    for (const [gfn, hi, lo] of vm.rmapEntries()) {
      const present = (hi & KVMPPC_RMAP_PRESENT_HI) !== 0;
      rmap.set(`${lpid}/${gfn}`, [u64(hi, lo), present, present ? lo >>> 0 : null, (hi & KVMPPC_RMAP_REFERENCED_HI) !== 0, (hi & KVMPPC_RMAP_CHANGED_HI) !== 0]);
    }
    const d = vm.slbT.data;
    for (const vcpu of vm.vcpus.keys()) {
      for (let k = 0; k < SLB_ROWS; k++) {
        const p = (vcpu * SLB_ROWS + k) * 4;
        if ((d[p] | d[p + 1] | d[p + 2] | d[p + 3]) === 0) continue;
        slb.set(`${lpid}/${vcpu}/${k}`, [u64(d[p], d[p + 1]), u64(d[p + 2], d[p + 3]), (d[p + 1] & SLB_ESID_V_LO) !== 0]);
      }
    }
  }
  // Host pages as `state --gfn` shows one (seek.ts hostPageState).
  const host = new Map<string, unknown[]>();
  const hp = fold.host.pages;
  for (let r = 0; r < hp.rows; r++) {
    const [hh, hl, pfn, flags, shift] = hp.data.subarray(r * 5, r * 5 + 5);
    const present = (flags & HOST_PRESENT) !== 0;
    const state = present ? 'present' : (flags & HOST_SWAP) !== 0 ? 'swapped' : 'unmapped';
    // A row that shows nothing (unmapped, no page size yet: e.g. created by an age event) is no row.
    if (state === 'unmapped' && shift === 0) continue;
    host.set(String(u64(hh, hl)), [state, present, state === 'swapped', present ? BigInt(pfn) : null, present && (flags & HOST_RW) !== 0, BigInt(shift)]);
  }
  return { hpte, rmap, slb, host };
}

/** Rows of the functions at S, keyed like expectedFromFold; all-zero rows must be zero in the fold too. */
function actualAt(rows: ReturnType<typeof open>['rows'], S: number) {
  const hpte = new Map<string, unknown[]>();
  for (const x of rows('SELECT lpid, hpte_index, v, r, guest_r, valid, absent FROM hpte_at(?)', S)) {
    const v = [U(x.v), U(x.r), U(x.guest_r), x.valid === 1n, x.absent === 1n];
    if (v[0] === 0n && v[1] === 0n && v[2] === 0n) continue;
    hpte.set(`${x.lpid}/${x.hpte_index}`, v);
  }
  const rmap = new Map<string, unknown[]>();
  for (const x of rows('SELECT lpid, gfn, rmap, present, head, referenced, changed FROM rmap_at(?)', S)) {
    if (x.rmap === 0n) continue;
    rmap.set(`${x.lpid}/${x.gfn}`, [U(x.rmap), x.present === 1n, x.head === null ? null : Number(x.head), x.referenced === 1n, x.changed === 1n]);
  }
  const slb = new Map<string, unknown[]>();
  for (const x of rows('SELECT vcpu, lpid, slot, esid, vsid, valid FROM slb_at(?)', S)) {
    if (x.esid === 0n && x.vsid === 0n) continue;
    slb.set(`${x.lpid}/${x.vcpu}/${x.slot}`, [U(x.esid), U(x.vsid), x.valid === 1n]);
  }
  const host = new Map<string, unknown[]>();
  for (const x of rows('SELECT hva, state, present, swapped, pfn, writable, page_shift FROM host_page_at(?)', S)) {
    if (x.state === 'unmapped' && x.page_shift === 0n) continue;
    host.set(String(U(x.hva)), [x.state, x.present === 1n, x.swapped === 1n, x.pfn === null ? null : U(x.pfn), x.writable === 1n, x.page_shift]);
  }
  return { hpte, rmap, slb, host };
}

const sorted = (m: Map<string, unknown[]>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

test('at 50 random seqs every state table equals the replayed state of `state --at` (full sets)', async () => {
  const { rows, close } = open(trace);
  // The replay: one StateFold folded forward and compared at each seq on the way (the linear fold
  // seek.ts's stateAt is, which the seek tests hold `state --at` to), state after event S.
  const reader = await openTrace(trace);
  try {
    const n = reader.eventCount!;
    const prng = new Prng(20240611);
    const seqs = [...new Set([0, n - 1, ...Array.from({ length: 48 }, () => prng.below(n))])].sort((x, y) => x - y);
    const seen = { hpte: 0, rmap: 0, slb: 0, host: 0, swapped: 0, invalid_slb: 0, absent: 0 };
    const fold = new StateFold();
    let k = 0;
    for await (const b of reader.batches()) {
      let i0 = 0;
      for (; k < seqs.length && seqs[k] < b.firstSeq + b.length; k++) {
        const S = seqs[k];
        fold.foldRange(b, i0, S - b.firstSeq + 1);
        i0 = S - b.firstSeq + 1;
        assert.equal(fold.lastSeq, S);
        const want = expectedFromFold(fold);
        const got = actualAt(rows, S);
        for (const t of ['hpte', 'rmap', 'slb', 'host'] as const) {
          assert.deepEqual(sorted(got[t]), sorted(want[t]), `${t}_at(${S})`);
          seen[t] += want[t].size;
        }
        seen.swapped += [...want.host.values()].filter((v) => v[0] === 'swapped').length;
        seen.invalid_slb += [...want.slb.values()].filter((v) => v[2] === false).length;
        seen.absent += [...want.hpte.values()].filter((v) => v[4] === true).length;
      }
      fold.foldRange(b, i0, b.length);
    }
    assert.equal(k, seqs.length);
    // The trace exercised what the comparison is about.
    for (const [t, v] of Object.entries(seen)) assert.ok(v > 0, `no ${t} state seen`);
  } finally {
    reader.close();
    close();
  }
});

test('probes (every key constrained) equal the listing rows, and last_seq is the last write at or before S (independent SQL)', async () => {
  const { rows, close } = open(trace);
  try {
    const n = Number((rows('SELECT max(seq) + 1 AS n FROM events')[0].n as bigint));
    const prng = new Prng(7);
    for (let t = 0; t < 6; t++) {
      const S = prng.below(n);
      const all = rows('SELECT * FROM hpte_at(?)', S);
      for (let j = 0; j < 10 && all.length; j++) {
        const x = all[prng.below(all.length)];
        assert.deepEqual(rows('SELECT * FROM hpte_at(?) WHERE lpid = ? AND hpte_index = ?', S, x.lpid, x.hpte_index), [x]);
        // last_seq: an hpte_write to that slot setting these words, and none later up to S.
        const w = rows('SELECT lpid, hpte_index, new_v, new_r, guest_r FROM hpte_updates WHERE seq = ?', x.last_seq)[0];
        assert.deepEqual(w, { lpid: x.lpid, hpte_index: x.hpte_index, new_v: x.v, new_r: x.r, guest_r: x.guest_r });
        assert.equal(rows('SELECT count(*) AS c FROM hpte_updates WHERE lpid = ? AND hpte_index = ? AND seq > ? AND seq <= ?', x.lpid, x.hpte_index, x.last_seq, S)[0].c, 0n);
        // The state at an event includes that event (`state --at S` is after S): at last_seq the row
        // is already this one, one event earlier it is not.
        const at = (q: bigint) => rows('SELECT * FROM hpte_at(?) WHERE lpid = ? AND hpte_index = ?', q, x.lpid, x.hpte_index);
        assert.deepEqual(at(x.last_seq as bigint), [x]);
        const prev = at((x.last_seq as bigint) - 1n);
        assert.ok(prev.length === 0 || (prev[0].last_seq as bigint) < (x.last_seq as bigint));
      }
      const rm = rows('SELECT * FROM rmap_at(?)', S);
      for (let j = 0; j < 5 && rm.length; j++) {
        const x = rm[prng.below(rm.length)];
        assert.deepEqual(rows('SELECT * FROM rmap_at(?) WHERE gfn = ? AND lpid = ?', S, x.gfn, x.lpid), [x]);
        assert.equal(rows('SELECT rmap FROM rmap_changes WHERE seq = ? AND gfn = ?', x.last_seq, x.gfn)[0].rmap, x.rmap);
        assert.deepEqual(rows('SELECT * FROM rmap_at(?) WHERE gfn = ? AND lpid = ?', x.last_seq, x.gfn, x.lpid), [x]);
        const prev = rows('SELECT * FROM rmap_at(?) WHERE gfn = ? AND lpid = ?', (x.last_seq as bigint) - 1n, x.gfn, x.lpid);
        assert.ok(prev.length === 0 || (prev[0].last_seq as bigint) < (x.last_seq as bigint));
      }
      const hp = rows('SELECT * FROM host_page_at(?)', S);
      for (let j = 0; j < 5 && hp.length; j++) {
        const x = hp[prng.below(hp.length)];
        assert.deepEqual(rows('SELECT * FROM host_page_at(?) WHERE hva = ?', S, x.hva), [x]);
        assert.deepEqual(rows('SELECT * FROM host_page_at(?) WHERE hva = ?', x.last_seq, x.hva), [x]);
        const prev = rows('SELECT * FROM host_page_at(?) WHERE hva = ?', (x.last_seq as bigint) - 1n, x.hva);
        assert.ok(prev.length === 0 || (prev[0].last_seq as bigint) < (x.last_seq as bigint));
      }
      const sl = rows('SELECT vcpu, * FROM slb_at(?)', S);
      for (let j = 0; j < 5 && sl.length; j++) {
        const x = sl[prng.below(sl.length)];
        assert.deepEqual(rows('SELECT vcpu, * FROM slb_at(?, ?) WHERE lpid = ? AND slot = ?', S, x.vcpu, x.lpid, x.slot), [x]);
        assert.deepEqual(rows('SELECT vcpu, * FROM slb_at(?) WHERE vcpu = ? AND slot = ?', S, x.vcpu, x.slot), [x]);
        assert.deepEqual(rows('SELECT vcpu, * FROM slb_at(?, ?) WHERE lpid = ? AND slot = ?', x.last_seq, x.vcpu, x.lpid, x.slot), [x]);
        const prev = rows('SELECT vcpu, * FROM slb_at(?, ?) WHERE lpid = ? AND slot = ?', (x.last_seq as bigint) - 1n, x.vcpu, x.lpid, x.slot);
        assert.ok(prev.length === 0 || (prev[0].last_seq as bigint) < (x.last_seq as bigint));
      }
    }
    // A key with no state has no row; a key outside the HPT has none either.
    assert.deepEqual(rows('SELECT * FROM hpte_at(?) WHERE hpte_index = -1', n - 1), []);
    assert.deepEqual(rows('SELECT * FROM hpte_at(?) WHERE hpte_index = 1000000000', n - 1), []);
  } finally {
    close();
  }
});

test('fault × hpte_at join: one row per fault with hpte_index >= 0, v/r of the last hpte_write at or before the fault', () => {
  const { rows, close } = open(trace);
  try {
    const got = rows('SELECT f.seq, h.v, h.r FROM faults f, hpte_at(f.seq) h WHERE h.hpte_index = f.hpte_index AND h.lpid = f.lpid ORDER BY f.seq');
    // Independent: one forward pass over hpte_write and fault_triage, the words of each slot as of each fault.
    const words = new Map<string, [bigint, bigint]>();
    const want: Record<string, unknown>[] = [];
    for (const e of rows(`SELECT 'w' AS k, seq, lpid, hpte_index, new_v, new_r FROM hpte_updates UNION ALL SELECT 'f', seq, lpid, hpte_index, 0, 0 FROM faults ORDER BY seq`)) {
      const key = `${e.lpid}/${e.hpte_index}`;
      if (e.k === 'w') words.set(key, [e.new_v as bigint, e.new_r as bigint]);
      else if ((e.hpte_index as bigint) >= 0n) {
        const x = words.get(key);
        if (x) want.push({ seq: e.seq, v: x[0], r: x[1] });
      }
    }
    const faults = Number(rows('SELECT count(*) AS c FROM faults WHERE hpte_index >= 0')[0].c as bigint);
    assert.ok(faults > 1000, `${faults} faults`);
    assert.equal(got.length, faults);
    assert.deepEqual(got, want);
    // Written the other way round (function first), SQLite still runs it per fault.
    assert.equal(rows('SELECT count(*) AS c FROM hpte_at(f.seq) h, faults f WHERE h.hpte_index = f.hpte_index AND h.lpid = f.lpid')[0].c, BigInt(faults));
  } finally {
    close();
  }
});

test('a probe is one lookup in the events indexes, not a scan of events', () => {
  const { db, close } = open(trace);
  try {
    // The statements the functions run for one key at one seq, as SQLite plans them.
    const plan = (sql: string) => {
      const n = (sql.match(/\?/g) ?? []).length;
      return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array.from({ length: n }, () => 1n)) as { detail: string }[]).map((r) => r.detail).join('; ');
    };
    const want: Record<keyof typeof PROBE_SQL, string> = {
      hpte: 'SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid<?)',
      hpte_null: 'SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid<?)',
      rmap: 'SEARCH events USING INDEX events_kind_w1 (kind=? AND w1=? AND rowid<?)',
      rmap_null: 'SEARCH events USING INDEX events_kind_w1 (kind=? AND w1=? AND rowid<?)',
      slb: 'SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid<?)',
      slb_null: 'SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid<?)',
      slbia: 'SEARCH events USING INDEX events_kind_w0 (kind=? AND w0=? AND rowid>? AND rowid<?)',
      host: 'SEARCH events USING INDEX events_kind_w1 (kind=? AND w1=? AND rowid<?)',
    };
    for (const [k, sql] of Object.entries(PROBE_SQL) as [keyof typeof PROBE_SQL, string][]) assert.equal(plan(sql), want[k], k);
    // The key columns behind w0/w1 (kinds.ts: field j is column wj).
    assert.equal(KINDS.hpte_write.fields[0].name, 'hpte_index');
    assert.equal(KINDS.rmap_change.fields[1].name, 'gfn');
    assert.equal(KINDS.host_page.fields[1].name, 'hva');
    assert.equal(KINDS.slb_update.fields[0].name, 'slot');
    // The join plan: faults outer, the function inner, its keys handed over (no scan of it alone).
    const jp = (db.prepare('EXPLAIN QUERY PLAN SELECT f.seq, h.v FROM faults f, hpte_at(f.seq) h WHERE h.hpte_index = f.hpte_index AND h.lpid = f.lpid').all() as { detail: string }[]).map((r) => r.detail);
    assert.match(jp[0], /^(SCAN|SEARCH) events/);
    assert.match(jp[1], /^SCAN h VIRTUAL TABLE INDEX 7:/, 'all three parameters (bits 0..2) bound');
  } finally {
    close();
  }
});

test('column types: 64-bit words are hex, the rest int (or text); a name has one type in every table and in kinds.ts', () => {
  const kindType = new Map<string, string>();
  for (const k of KIND_NAMES) for (const f of KINDS[k].fields) kindType.set(f.name, f.type === 'hex' ? 'hex' : 'int');
  for (const [t, def] of Object.entries(STATE_TABLES)) {
    for (const [c, ty] of Object.entries(def.columns)) {
      assert.equal(STATE_COLUMN_TYPES[c], ty, `${t}.${c}`);
      if (kindType.has(c) && ty !== 'text') assert.equal(ty, kindType.get(c), `${t}.${c} vs kinds.ts`);
    }
  }
  const { db, close } = open(trace);
  try {
    // The declared columns (SELECT * shows the keys; the seq argument and slb_at's vcpu are hidden);
    // 64-bit words are declared HEX, as query-db's probe schema declares the kinds' hex fields.
    const cols = (sql: string) => db.prepare(sql).columns().map((c) => `${c.name}:${c.type}`);
    assert.deepEqual(cols('SELECT * FROM hpte_at(1)'), ['lpid:INTEGER', 'hpte_index:INTEGER', 'v:HEX', 'r:HEX', 'guest_r:HEX', 'valid:INTEGER', 'absent:INTEGER', 'last_seq:INTEGER']);
    assert.deepEqual(cols('SELECT * FROM slb_at(1, 0)'), ['lpid:INTEGER', 'slot:INTEGER', 'esid:HEX', 'vsid:HEX', 'valid:INTEGER', 'last_seq:INTEGER']);
    assert.deepEqual(cols('SELECT * FROM host_page_at(1)')[1], 'state:TEXT');
    // Words above 2^63 come back exact under safeIntegers (as the signed bit pattern).
    const big = db.prepare('SELECT esid FROM slb_at((SELECT max(seq) FROM events)) WHERE esid < 0 LIMIT 1').get() as { esid: bigint } | undefined;
    assert.ok(big && typeof big.esid === 'bigint' && BigInt.asUintN(64, big.esid) >= 2n ** 63n);
  } finally {
    close();
  }
});

test('bad arguments: one-line errors; a missing seq or one outside the trace, and a range on a key', () => {
  const { rows, close } = open(trace);
  try {
    assert.throws(() => rows('SELECT * FROM hpte_at()'), { name: 'UserError', message: /hpte_at\(seq\): the event seq is required/ });
    assert.throws(() => rows("SELECT * FROM rmap_at('x')"), { name: 'UserError', message: /seq must be an integer/ });
    assert.throws(() => rows('SELECT * FROM slb_at(-1, 0)'), { name: 'UserError', message: /outside the trace/ });
    assert.throws(() => rows('SELECT * FROM host_page_at(1000000000)'), { name: 'UserError', message: /outside the trace \(0\.\.\d+\)/ });
    assert.throws(() => rows('SELECT * FROM hpte_at(5) WHERE hpte_index > 3'), /can only be constrained by the '=' operator/);
    assert.deepEqual(rows('SELECT count(*) AS c FROM hpte_at(NULL)'), [{ c: 0n }]);
    // Two state tables joined on keys: no plan unless one side is marked given with `+`.
    assert.throws(() => rows('SELECT count(*) FROM hpte_at(9000) a, hpte_at(a.last_seq) b WHERE b.lpid = a.lpid AND b.hpte_index = a.hpte_index'), /no query solution/);
    const two = rows('SELECT count(*) AS c, sum(b.last_seq = a.last_seq) AS same FROM hpte_at(9000) a, hpte_at(a.last_seq) b WHERE b.lpid = +a.lpid AND b.hpte_index = +a.hpte_index');
    assert.ok((two[0].c as bigint) > 0n);
    assert.equal(two[0].same, two[0].c);
    // `+key` is an expression, not a constraint: a range filter over the listing.
    const S = Number(rows('SELECT max(seq) AS s FROM events')[0].s as bigint);
    const all = rows('SELECT hpte_index FROM hpte_at(?)', S).filter((x) => (x.hpte_index as bigint) < 4096n);
    assert.deepEqual(rows('SELECT hpte_index FROM hpte_at(?) WHERE +hpte_index < 4096', S), all);
  } finally {
    close();
  }
});

// ---------------------------------------------------------------------------------------------
// Hand-made traces: the rules a workload does not reach, expected rows derived by hand.
// ---------------------------------------------------------------------------------------------

/** A database with the trace schema and indexes, and these events (seq = position). */
function handTrace(events: { kind: keyof typeof KINDS; lpid?: number; vcpu?: number; w: (number | bigint)[] }[]): string {
  const path = join(tmpDir('hvtrace-tvf-hand-'), 'h.sqlite');
  const db = new Database(path);
  db.exec(schemaSql());
  db.exec(CREATE_INDEXES);
  const ins = db.prepare(`INSERT INTO events (seq, time, kind, lpid, vcpu, core, cause, ${Array.from({ length: 12 }, (_, j) => `w${j}`).join(', ')}) VALUES (${Array.from({ length: 19 }, () => '?').join(', ')})`);
  events.forEach((e, seq) => {
    // Trailing zero words are NULL, as the sink stores them.
    const w: (bigint | null)[] = e.w.map((x) => BigInt.asIntN(64, BigInt(x)));
    while (w.length && w[w.length - 1] === 0n) w.pop();
    const words = Array.from({ length: 12 }, (_, j) => (j < w.length ? w[j] : null));
    ins.run(seq, seq * 10, KINDS[e.kind].code, e.lpid ?? 1, e.vcpu ?? -1, -1, null, ...words);
  });
  db.close();
  return path;
}

test('hand-made: two VMs, a re-created VM, an index 0 stored as NULL, memslot deletion', () => {
  const V = 0x4000000000000001n; // VALID, bit 62 set
  const path = handTrace([
    /* 0 */ { kind: 'vm_create', lpid: 1, w: [18] }, // npte 2^14
    /* 1 */ { kind: 'vm_create', lpid: 2, w: [18] },
    /* 2 */ { kind: 'hpte_write', lpid: 1, w: [5, 0, 0, V, 0x100, 0x200] },
    /* 3 */ { kind: 'hpte_write', lpid: 2, w: [5, 0, 0, V | 0x20n, 0x300, 0x400] },
    /* 4 */ { kind: 'hpte_write', lpid: 1, w: [0, 0, 0, 0, 0, 0] }, // all zero: every word NULL
    /* 5 */ { kind: 'hpte_write', lpid: 1, w: [16384, 0, 0, V, 1, 1] }, // outside the HPT: ignored
    /* 6 */ { kind: 'memslot', lpid: 1, w: [0, 0, 0x100, 16, 0x7000_0000_0000n, 0] },
    /* 7 */ { kind: 'rmap_change', lpid: 1, w: [0, 0x101, 5, 0x1_0000_0005n, 5, 5] },
    /* 8 */ { kind: 'rmap_change', lpid: 1, w: [0, 0x50, 5, 0x1_0000_0005n, 5, 5] }, // gfn in no memslot: ignored
    /* 9 */ { kind: 'memslot', lpid: 1, w: [1, 0] }, // delete slot 0: its rmap goes
    /* 10 */ { kind: 'memslot', lpid: 1, w: [0, 0, 0x100, 16, 0x7000_0000_0000n, 0] }, // re-created: rmap starts at 0
    /* 11 */ { kind: 'vm_create', lpid: 2, w: [18] }, // VM 2 re-created: HPT zeroed
    /* 12 */ { kind: 'hpte_write', lpid: 2, w: [7, 0, 0, V, 0x500, 0x600] },
  ]);
  const { rows, close } = open(path);
  try {
    const hp = (S: number) => rows('SELECT lpid, hpte_index, v, r, guest_r, valid, absent, last_seq FROM hpte_at(?)', S);
    const row = (lpid: number, i: number, v: bigint, r: number, g: number, last: number) => ({ lpid: BigInt(lpid), hpte_index: BigInt(i), v: BigInt.asIntN(64, v), r: BigInt(r), guest_r: BigInt(g), valid: v & 1n, absent: (v >> 5n) & 1n, last_seq: BigInt(last) });
    assert.deepEqual(hp(1), []);
    assert.deepEqual(hp(2), [row(1, 5, V, 0x100, 0x200, 2)]); // state after event 2 includes it
    assert.deepEqual(rows('SELECT last_seq FROM hpte_at(2) WHERE lpid = 1 AND hpte_index = 5'), [{ last_seq: 2n }]);
    assert.deepEqual(hp(3), [row(1, 5, V, 0x100, 0x200, 2), row(2, 5, V | 0x20n, 0x300, 0x400, 3)]);
    assert.deepEqual(hp(5), [row(1, 0, 0n, 0, 0, 4), row(1, 5, V, 0x100, 0x200, 2), row(2, 5, V | 0x20n, 0x300, 0x400, 3)]);
    assert.deepEqual(rows('SELECT last_seq FROM hpte_at(5) WHERE hpte_index = 0 AND lpid = 1'), [{ last_seq: 4n }]);
    assert.deepEqual(rows('SELECT lpid FROM hpte_at(5) WHERE hpte_index = 16384'), []);
    assert.deepEqual(hp(12), [row(1, 0, 0n, 0, 0, 4), row(1, 5, V, 0x100, 0x200, 2), row(2, 7, V, 0x500, 0x600, 12)]);
    assert.deepEqual(rows('SELECT * FROM hpte_at(11) WHERE lpid = 2'), []);
    // rmap: set at 7, gone with its memslot at 9, a new memslot starts empty.
    const rm = (S: number) => rows('SELECT lpid, gfn, rmap, present, head, referenced, changed, last_seq FROM rmap_at(?)', S);
    const r7 = { lpid: 1n, gfn: 0x101n, rmap: 0x1_0000_0005n, present: 1n, head: 5n, referenced: 0n, changed: 0n, last_seq: 7n };
    assert.deepEqual(rm(6), []);
    assert.deepEqual(rm(8), [r7]);
    assert.deepEqual(rows('SELECT gfn FROM rmap_at(8) WHERE gfn = 0x50'), []);
    assert.deepEqual(rows('SELECT * FROM rmap_at(8) WHERE gfn = 0x101 AND lpid = 1').length, 1);
    assert.deepEqual(rm(9), []);
    assert.deepEqual(rm(12), []);
    assert.deepEqual(rows('SELECT * FROM rmap_at(12) WHERE gfn = 0x101'), []);
  } finally {
    close();
  }
});

test('hand-made: host page map, protect, unmap, swap; slbia keeps slot 0 and names itself in last_seq', () => {
  const H = 0x7fff_0000_0000n;
  const E = { map: 0, unmap: 1, swap_out: 2, swap_in: 3, pin: 4, unpin: 5, protect: 6, age: 7 };
  const ESID_V = 0x0800_0000n;
  const path = handTrace([
    /* 0 */ { kind: 'vm_create', lpid: 1, w: [18] },
    /* 1 */ { kind: 'host_page', w: [E.map, H, 0x42, 1, 16, 0] },
    /* 2 */ { kind: 'host_page', w: [E.pin, H, 0x42, 1, 16, 0] }, // pin: the page table does not change
    /* 3 */ { kind: 'host_page', w: [E.protect, H, 0x42, 0, 16, 0] }, // read-only
    /* 4 */ { kind: 'host_page', w: [E.age, H, 0x42, 0, 16, 0] },
    /* 5 */ { kind: 'host_page', w: [E.swap_out, H, 0x42, 0, 16, 0] },
    /* 6 */ { kind: 'host_page', w: [E.swap_in, H, 0x43, 1, 16, 0] },
    /* 7 */ { kind: 'host_page', w: [E.unmap, H, 0x43, 0, 0, 0] },
    /* 8 */ { kind: 'host_page', w: [E.map, H + 0x1000n, 0x99, 1, 12, 1] }, // another process's frame: no VMM page
    /* 9 */ { kind: 'host_page', w: [E.protect, H + 0x2000n, 0, 1, 0, 0] }, // protect of a page never mapped
    /* 10 */ { kind: 'slb_update', lpid: 1, vcpu: 0, w: [0, 0x1000n | ESID_V, 0x11] },
    /* 11 */ { kind: 'slb_update', lpid: 1, vcpu: 0, w: [3, 0x2000n | ESID_V, 0x22] },
    /* 12 */ { kind: 'slb_update', lpid: 1, vcpu: 1, w: [3, 0x3000n | ESID_V, 0x33] },
    /* 13 */ { kind: 'slb_update', lpid: 1, vcpu: 0, w: [-1] }, // slbia on vcpu 0
    /* 14 */ { kind: 'slb_update', lpid: 1, vcpu: 0, w: [-1] },
    /* 15 */ { kind: 'slb_update', lpid: 1, vcpu: 0, w: [64, 1, 1] }, // slot out of range: ignored
  ]);
  const { rows, close } = open(path);
  try {
    const page = (S: number) => rows('SELECT state, present, swapped, pfn, writable, page_shift, last_seq FROM host_page_at(?) WHERE hva = ?', S, H);
    const p = (state: string, pfn: number | null, wr: number, last: number) => ({ state, present: state === 'present' ? 1n : 0n, swapped: state === 'swapped' ? 1n : 0n, pfn: pfn === null ? null : BigInt(pfn), writable: BigInt(wr), page_shift: 16n, last_seq: BigInt(last) });
    assert.deepEqual(rows('SELECT * FROM host_page_at(0)'), []);
    assert.deepEqual(page(2), [p('present', 0x42, 1, 1)]);
    assert.deepEqual(page(4), [p('present', 0x42, 0, 3)]);
    assert.deepEqual(page(5), [p('swapped', null, 0, 5)]);
    assert.deepEqual(page(6), [p('present', 0x43, 1, 6)]);
    assert.deepEqual(page(7), [p('unmapped', null, 0, 7)]); // page_shift stays that of the last map
    // Listing = probes; the other process's frame has no row; a protect alone makes an unmapped row.
    const list = rows('SELECT hva, state, page_shift, last_seq FROM host_page_at(15)');
    assert.deepEqual(list, [{ hva: H, state: 'unmapped', page_shift: 16n, last_seq: 7n }, { hva: H + 0x2000n, state: 'unmapped', page_shift: 0n, last_seq: 9n }]);
    assert.deepEqual(rows('SELECT hva FROM host_page_at(15) WHERE hva = ?', H + 0x1000n), []);
    // SLB.
    const slb = (S: number, vcpu: number) => rows('SELECT slot, esid, vsid, valid, last_seq FROM slb_at(?, ?)', S, vcpu);
    const e = (slot: number, esid: bigint, vsid: number, last: number) => ({ slot: BigInt(slot), esid, vsid: BigInt(vsid), valid: (esid & ESID_V) !== 0n ? 1n : 0n, last_seq: BigInt(last) });
    assert.deepEqual(slb(12, 0), [e(0, 0x1000n | ESID_V, 0x11, 10), e(3, 0x2000n | ESID_V, 0x22, 11)]);
    assert.deepEqual(slb(15, 0), [e(0, 0x1000n | ESID_V, 0x11, 10), e(3, 0x2000n, 0x22, 13)]);
    assert.deepEqual(slb(15, 1), [e(3, 0x3000n | ESID_V, 0x33, 12)]);
    assert.deepEqual(rows('SELECT vcpu, slot FROM slb_at(15)'), [{ vcpu: 0n, slot: 0n }, { vcpu: 0n, slot: 3n }, { vcpu: 1n, slot: 3n }]);
    assert.deepEqual(rows('SELECT slot, last_seq FROM slb_at(15, 0) WHERE slot = 3'), [{ slot: 3n, last_seq: 13n }]);
    assert.deepEqual(rows('SELECT slot FROM slb_at(15, 0) WHERE slot = 64'), []);
  } finally {
    close();
  }
});
