// hvtrace diff --at-op (src/analysis/diff-state.ts): the state difference at one guest operation.
// Expected values come from the kernel model and from SQL over each trace's events table, never
// from the module's output: the op is chosen by SQL (a POWER7 virtual-mode page fault on a frame a
// notifier invalidated earlier), its events by the op index's rule written as a recursive query over
// `cause`, and each side's HPTE, host page and pins at both points from the last events before them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { atOpSection } from '../../src/analysis/diff-state.js';
import { UserError } from '../../src/trace/errors.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const dir = tmpDir();
const P7 = join(dir, 'p7.sqlite');
const P7A = join(dir, 'p7.arrow');
const P970 = join(dir, 'ppc970.sqlite');
// One seed, one workload, two profiles; host memory tight enough that reclaim invalidates POWER7
// guest pages (MMU notifiers), large enough for PPC970's 64 MiB RMA.
const WL = ['-w', 'mix', '--accesses', '16000', '--guest-mb', '128', '--host-mb', '128', '--pressure', '1', '--seed', '5', '-q'];
// The two recordings run side by side (execFile rejects on a non-zero exit, with its stderr).
await Promise.all([['--profile', 'power7', '-o', P7, '--arrow', P7A], ['--profile', 'ppc970', '-o', P970]].map((args) => promisify(execFile)(process.execPath, [BIN, 'record', ...WL, ...args])));

const HPTE_V_VALID = 1n;
const HPTE_V_ABSENT = 0x20n;
/** Kernel model: PPC970's RMA is the first 64 MiB of guest RAM (kvm_rma_size), not GOT_PAGE-pinned. */
const RMA_GFNS = (64 * 2 ** 20) / 4096;

const hex = (v: bigint | number) => `0x${BigInt(v).toString(16)}`;

function sql(path: string) {
  const db = new Database(path, { readonly: true });
  db.defaultSafeIntegers(true);
  return db;
}

/** The op's own events by the op index's rule: an event whose cause is the op's (recursively). */
function opEvents(db: Database.Database, opId: number): { seq: number; last: number; count: number } {
  const r = db.prepare(`WITH RECURSIVE mine(seq) AS (
      SELECT seq FROM ev_guest_op WHERE op_id = ?
      UNION SELECT e.seq FROM events e JOIN mine ON e.cause = mine.seq)
    SELECT min(seq) AS s, max(seq) AS l, count(*) AS n FROM mine`).get(opId) as { s: bigint; l: bigint; n: bigint };
  return { seq: Number(r.s), last: Number(r.l), count: Number(r.n) };
}

const lastHpteWrite = (db: Database.Database, index: number, upTo: number) =>
  db.prepare('SELECT new_v, new_r FROM ev_hpte_write WHERE hpte_index = ? AND seq <= ? ORDER BY seq DESC LIMIT 1').get(index, upTo) as { new_v: bigint; new_r: bigint };

function hvaOf(db: Database.Database, gfn: number): bigint {
  const m = db.prepare("SELECT base_gfn, userspace_addr FROM ev_memslot WHERE op = 'create' AND base_gfn <= ? AND base_gfn + npages > ?").get(gfn, gfn) as { base_gfn: bigint; userspace_addr: bigint };
  return m.userspace_addr + (BigInt(gfn) - m.base_gfn) * 4096n;
}

/** The VMM's last host_page op on hva at or before seq (owner 0 = the VMM). */
const lastHostOp = (db: Database.Database, hva: bigint, upTo: number) =>
  (db.prepare('SELECT op FROM ev_host_page WHERE hva = ? AND owner = 0 AND seq <= ? ORDER BY seq DESC LIMIT 1').get(hva, upTo) as { op: string } | undefined)?.op;

const pinsAt = (db: Database.Database, hva: bigint, upTo: number) =>
  Number((db.prepare("SELECT count(*) FILTER (WHERE op = 'pin') - count(*) FILTER (WHERE op = 'unpin') AS n FROM ev_host_page WHERE hva = ? AND seq <= ?").get(hva, upTo) as { n: bigint }).n);

// The op: the first POWER7 guest operation whose own events include a virtual-mode page fault
// (page_fault_enter) on a frame outside the RMA that an MMU notifier invalidated before.
const p7 = sql(P7);
const pick = p7.prepare(`WITH RECURSIVE up(fseq, gfn, hpte_index, s) AS (
    SELECT f.seq, f.gfn, f.hpte_index, f.cause FROM ev_page_fault_enter f
    WHERE f.gfn >= ? AND EXISTS (SELECT 1 FROM ev_notifier n WHERE n.effect = 'invalidated' AND n.gfn = f.gfn AND n.seq < f.seq)
    UNION ALL SELECT up.fseq, up.gfn, up.hpte_index, e.cause FROM up JOIN events e ON e.seq = up.s WHERE e.kind <> 90 AND e.cause IS NOT NULL)
  SELECT g.op_id, up.gfn, up.hpte_index FROM up JOIN ev_guest_op g ON g.seq = up.s ORDER BY up.fseq LIMIT 1`).get(RMA_GFNS) as { op_id: bigint; gfn: bigint; hpte_index: bigint };
assert.ok(pick, 'the recorded POWER7 run has a fault after a notifier invalidation');
const OP = Number(pick.op_id);
const GFN = Number(pick.gfn);
const SLOT = Number(pick.hpte_index);

interface Json {
  a: { seq: number; after_seq: number; op_events: number };
  b: { seq: number; after_seq: number; op_events: number };
  same_operation: boolean;
  gfns: number[];
  pages: { gfn: number; before: { a: Record<string, unknown>; b: Record<string, unknown> }; after: { a: Record<string, unknown>; b: Record<string, unknown> } }[];
  differences: unknown[];
}

test('power7 vs ppc970 at an op that re-faults after a notifier invalidation: ABSENT then valid vs pinned', async () => {
  const s = await atOpSection(P7, P970, OP);
  const j = s.json as Json;
  assert.equal(s.key, 'at_op');
  assert.equal(s.differs, true);
  assert.equal(j.same_operation, true);
  const p970 = sql(P970);
  // Where the op is, and where its reaction ends, in each run (the op index's rule, as SQL).
  for (const [side, db] of [[j.a, p7], [j.b, p970]] as const) {
    const e = opEvents(db, OP);
    assert.deepEqual({ seq: side.seq, after_seq: side.after_seq, op_events: side.op_events }, { seq: e.seq, after_seq: e.last, op_events: e.count });
  }
  assert.ok(j.gfns.includes(GFN), `frames ${j.gfns} include the faulting frame ${GFN}`);
  const page = j.pages.find((p) => p.gfn === GFN)!;
  const k = `hpte[${SLOT}]`;
  // A (POWER7, notifiers): the invalidation left the HPTE ABSENT (kernel model rule 12) and the
  // host page out; the op's fault makes it valid with the page present again; never pinned.
  const ea = opEvents(p7, OP);
  const vb = lastHpteWrite(p7, SLOT, ea.seq).new_v;
  const va = lastHpteWrite(p7, SLOT, ea.last).new_v;
  assert.ok((vb & HPTE_V_ABSENT) !== 0n && (vb & HPTE_V_VALID) === 0n, 'SQL: ABSENT before the op');
  assert.ok((va & HPTE_V_VALID) !== 0n, 'SQL: VALID after the op');
  assert.equal(page.before.a[`${k}.v`], hex(vb));
  assert.equal(page.before.a[`${k}.state`], 'absent');
  assert.equal(page.before.a['rmap.present'], false, 'an ABSENT HPTE is not in the rmap chain (rule 8: chain of valid HPTEs)');
  assert.equal(page.after.a[`${k}.v`], hex(va));
  assert.equal(page.after.a[`${k}.state`], 'valid');
  assert.equal(page.after.a['rmap.present'], true);
  const hva7 = hvaOf(p7, GFN);
  const hostBefore = lastHostOp(p7, hva7, ea.seq);
  assert.ok(hostBefore === 'swap_out' || hostBefore === 'unmap', `SQL: last host op before the op is ${hostBefore}`);
  assert.equal(page.before.a['host.state'], hostBefore === 'swap_out' ? 'swapped' : 'unmapped');
  assert.ok(['map', 'swap_in'].includes(lastHostOp(p7, hva7, ea.last)!));
  assert.equal(page.after.a['host.state'], 'present');
  assert.equal(Number((p7.prepare("SELECT count(*) AS n FROM ev_host_page WHERE op = 'pin'").get() as { n: bigint }).n), 0, 'POWER7 pins nothing');
  assert.equal(page.before.a['host.pins'], 0);
  assert.equal(page.after.a['host.pins'], 0);
  // B (PPC970, no notifiers: rule 6): every page mapped by an HPTE is pinned; the notifiers did
  // nothing to this frame; the HPTE stays valid across the op.
  const eb = opEvents(p970, OP);
  const hva9 = hvaOf(p970, GFN);
  const effects = (p970.prepare('SELECT DISTINCT effect FROM ev_notifier WHERE gfn = ?').all(GFN) as { effect: string }[]).map((r) => r.effect);
  assert.ok(effects.every((e) => e === 'noop_pinned'), `PPC970 notifier effects on the frame: ${effects}`);
  for (const [point, upTo] of [['before', eb.seq], ['after', eb.last]] as const) {
    const pins = pinsAt(p970, hva9, upTo);
    assert.ok(pins >= 1, `SQL: pinned at ${point}`);
    assert.equal(page[point].b['host.pins'], pins);
    assert.equal(page[point].b['host.state'], 'present');
    const v = lastHpteWrite(p970, SLOT, upTo).new_v;
    assert.ok((v & HPTE_V_VALID) !== 0n);
    assert.equal(page[point].b[`${k}.state`], 'valid');
    assert.equal(page[point].b[`${k}.v`], hex(v));
  }
  // The human lines name the differences.
  assert.ok(s.lines.some((l) => l.includes(`before gfn ${GFN} ${k}.state`) && l.includes('A absent') && l.includes('B valid')), s.lines.join('\n'));
  assert.ok(s.summary.length >= 1 && s.summary.length <= 3);
});

test('a trace against itself, and SQLite against its Arrow copy: no difference', async () => {
  for (const [a, b] of [[P7, P7], [P7, P7A], [P970, P970]]) {
    const s = await atOpSection(a, b, OP);
    assert.equal(s.differs, false, s.lines.join('\n'));
    assert.deepEqual((s.json as Json).differences, []);
    assert.ok((s.json as Json).gfns.includes(GFN));
  }
  const g = await atOpSection(P7A, P7, OP, { gfn: GFN + 1 });
  assert.deepEqual((g.json as Json).gfns, [GFN + 1]);
  assert.equal(g.differs, false);
});

test('an unknown op id is a one-line UserError', async () => {
  const ops = Number((p7.prepare('SELECT count(*) AS n FROM ev_guest_op').get() as { n: bigint }).n);
  for (const t of [P7, P7A]) {
    await assert.rejects(atOpSection(t, P970, ops), (e: unknown) => e instanceof UserError && !e.message.includes('\n') && e.message.includes(`op_id ${ops}`) && e.message.includes(`0..${ops - 1}`));
  }
  await assert.rejects(atOpSection(P7, P970, -1), UserError);
});
