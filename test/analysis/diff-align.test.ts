// hvtrace diff, alignment on guest operations and per-page differences (src/analysis/diff-align.ts).
// Expected values come from independent SQL over the events tables (the op of every event by a
// recursive walk of its cause chain, the reaction signature as a group_concat of the kept fields),
// from hand edits of a copy of a recorded trace (the op and the kind of difference are known because
// the test made them), and from the kernel model (PPC970 pins guest RAM and takes no HDSI/HISI).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { alignRuns, alignSections, opsSection, pagesSection, PAGE_COUNTERS } from '../../src/analysis/diff-align.js';
import { CAUSE_WINDOW } from '../../src/replay/handlers/ops.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'hvtrace.js');
const dir = tmpDir('hvtrace-align-');
const P7 = () => join(dir, 'p7.sqlite');
const P7A = () => join(dir, 'p7.arrow');
const P970 = () => join(dir, 'p970.sqlite');
const P970A = () => join(dir, 'p970.arrow');

function record(profile: string, out: string, arrow: string): void {
  execFileSync(process.execPath, [BIN, 'record', '-w', 'mix', '--accesses', '3000', '--seed', '5', '--profile', profile, '--pressure', '0.5', '-o', out, '--arrow', arrow, '-q', '--no-index'], { stdio: 'pipe' });
}

before(() => {
  record('power7', P7(), P7A());
  record('ppc970', P970(), P970A());
});

// The signature of each op in SQL, written from the rules in diff-align.ts's header, not its code:
// attribution by a recursive cause walk; an event whose chain starts at an event with no cause
// (other than a guest_op) is background work of the latest guest_op before it (op ids rise with seq,
// checked below, so that is a running max).
const TOKEN = `CASE kind
  WHEN 10 THEN 'h' || w0
  WHEN 11 THEN 'x' || w0 || ',' || IFNULL(w1, 0) || ',' || IFNULL(w2, 0)
  WHEN 20 THEN 'w' || (CASE WHEN IFNULL(w1, 0) & 1 THEN 2 WHEN IFNULL(w1, 0) & 32 THEN 1 ELSE 0 END) || '>' ||
    (CASE WHEN IFNULL(w3, 0) & 1 THEN 2 WHEN IFNULL(w3, 0) & 32 THEN 1 ELSE 0 END) || ((IFNULL(w2, 0) & 384) <> (IFNULL(w4, 0) & 384))
  WHEN 21 THEN 'r' || IFNULL(w0, 0) || ',' || IFNULL(w1, 0)
  WHEN 22 THEN 't' || IFNULL(w1, 0)
  WHEN 30 THEN 'f' || IFNULL(w0, 0) || ',' || IFNULL(w5, 0) || ',' || IFNULL(w8, 0) || ',' || IFNULL(w7, 0)
  WHEN 31 THEN 'p' || IFNULL(w8, 0)
  WHEN 32 THEN 'q' || IFNULL(w3, 0) || ',' || IFNULL(w2, 0)
  WHEN 40 THEN 'n' || IFNULL(w0, 0) || ',' || IFNULL(w4, 0) || ',' || IFNULL(w5, 0) || ',' || IFNULL(w3, 0)
  WHEN 41 THEN 'o' || IFNULL(w0, 0) || ',' || IFNULL(w5, 0)
  WHEN 52 THEN 'e' || IFNULL(w0, 0)
  WHEN 53 THEN 'm' || IFNULL(w0, 0) || ',' || IFNULL(w1, 0) || ',' || IFNULL(w2, 0)
  WHEN 64 THEN 's' || IFNULL(w0, 0)
  WHEN 60 THEN 'M' || IFNULL(w0, 0)
  WHEN 80 THEN 'A' || IFNULL(w0, 0)
  WHEN 1 THEN 'S' WHEN 2 THEN 'E' WHEN 61 THEN 'V'
  ELSE NULL END`;

function sigSql(schema: string): string {
  return `WITH RECURSIVE attr(seq, op) AS (
      SELECT seq, CASE WHEN kind = 90 THEN w0 ELSE -1 END FROM ${schema}.events WHERE cause IS NULL
      UNION ALL
      SELECT e.seq, attr.op FROM ${schema}.events e JOIN attr ON e.cause = attr.seq),
    cur AS (
      SELECT seq, max(CASE WHEN kind = 90 THEN w0 END) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS op FROM ${schema}.events),
    eff AS (
      SELECT a.seq, CASE WHEN a.op >= 0 THEN a.op ELSE cur.op END AS op, a.op < 0 AS bg
      FROM attr a JOIN cur ON cur.seq = a.seq)
    SELECT eff.op AS op, group_concat(eff.bg || (${TOKEN}), ';' ORDER BY eff.seq) AS sig
    FROM eff JOIN ${schema}.events ev ON ev.seq = eff.seq
    WHERE eff.op IS NOT NULL AND ev.kind <> 90
    GROUP BY eff.op`;
}

/** Ops whose SQL signatures differ between a and b (both SQLite), in op order. */
function sqlDifferingOps(a: string, b: string): number[] {
  const db = new Database(':memory:');
  try {
    db.prepare('ATTACH ? AS a').run(a);
    db.prepare('ATTACH ? AS b').run(b);
    db.exec(`CREATE TEMP TABLE sa AS ${sigSql('a')}; CREATE TEMP TABLE sb AS ${sigSql('b')};`);
    db.exec(`CREATE TEMP TABLE ops AS SELECT w0 AS op FROM a.events WHERE kind = 90 UNION SELECT w0 FROM b.events WHERE kind = 90`);
    return (db.prepare(`SELECT ops.op FROM ops LEFT JOIN sa ON sa.op = ops.op LEFT JOIN sb ON sb.op = ops.op
        WHERE IFNULL(sa.sig, '') IS NOT IFNULL(sb.sig, '') ORDER BY ops.op`).pluck().all() as number[]);
  } finally {
    db.close();
  }
}

test('op ids agree between power7 and ppc970 runs of one seed (SQL), and name the same operations', () => {
  const db = new Database(P7(), { readonly: true });
  db.prepare('ATTACH ? AS b').run(P970());
  const r = db.prepare(`SELECT (SELECT count(*) FROM events WHERE kind = 90) AS na, (SELECT count(*) FROM b.events WHERE kind = 90) AS nb,
      (SELECT count(*) FROM events x JOIN b.events y ON x.kind = 90 AND y.kind = 90 AND x.w0 = y.w0
        AND x.w1 IS y.w1 AND x.w2 IS y.w2 AND x.w3 IS y.w3 AND x.w4 IS y.w4 AND x.vcpu = y.vcpu) AS same,
      (SELECT count(*) FROM (SELECT w0, lag(w0) OVER (ORDER BY seq) AS p FROM events WHERE kind = 90) WHERE w0 <= p) +
      (SELECT count(*) FROM (SELECT w0, lag(w0) OVER (ORDER BY seq) AS p FROM b.events WHERE kind = 90) WHERE w0 <= p) AS unordered`)
    .get() as { na: number; nb: number; same: number; unordered: number };
  db.close();
  assert.ok(r.na > 3000);
  assert.equal(r.nb, r.na);
  assert.equal(r.same, r.na);
  assert.equal(r.unordered, 0, 'guest_op ids rise with seq');
});

test('power7 vs ppc970: the differing ops and the first one are those of independent SQL; the model differences appear', async () => {
  const expected = sqlDifferingOps(P7(), P970());
  assert.ok(expected.length > 0);
  const { ops, pages, result } = await alignSections(P7(), P970A());
  const nops = new Database(P7(), { readonly: true });
  assert.equal(result.compared, nops.prepare('SELECT count(*) FROM events WHERE kind = 90').pluck().get());
  nops.close();
  assert.equal(result.onlyA + result.onlyB + result.mismatched, 0);
  assert.equal(result.differing, expected.length);
  assert.equal(result.first?.id, expected[0]);
  assert.equal(ops.differs, true);
  const j = ops.json as { first: { op_id: number; a: { kind: string }[]; b: { kind: string }[] }; kinds: Record<string, number> };
  assert.equal(j.first.op_id, expected[0]);
  // both sides' events of the first op begin with its guest_op
  assert.equal(j.first.a[0].kind, 'guest_op');
  assert.equal(j.first.b[0].kind, 'guest_op');
  // PPC970 (kernel model): no HDSI/HISI (no VPM), guest RAM pinned; POWER7 faults to the hypervisor
  assert.ok((j.kinds['A faults to the hypervisor, B does not'] ?? 0) > 0);
  assert.equal(j.kinds['B faults to the hypervisor, A does not'], undefined);
  assert.ok(ops.lines.some((l) => l.startsWith('first differing op: ')));
  // pins: every pin of guest RAM in B lands on a page (SQL count of host_page pin, owner 0)
  const db = new Database(P970(), { readonly: true });
  const pinsSql = db.prepare('SELECT count(*) FROM events WHERE kind = 41 AND w0 = 4 AND IFNULL(w5, 0) = 0').pluck().get() as number;
  const hdsiSql = db.prepare('SELECT count(*) FROM events WHERE kind = 30 AND IFNULL(w0, 0) IN (0, 1)').pluck().get() as number;
  db.close();
  assert.ok(pinsSql > 0);
  assert.equal(hdsiSql, 0);
  const pin = PAGE_COUNTERS.indexOf('pins');
  let pinsB = 0;
  let pinsA = 0;
  for (const c of result.pagesB.values()) pinsB += c[pin];
  for (const c of result.pagesA.values()) pinsA += c[pin];
  assert.equal(pinsB, pinsSql);
  assert.equal(pinsA, 0);
  assert.equal(pages.differs, true);
  const pj = pages.json as { pages: { gfn: number; score: number; command: string }[] };
  assert.ok(pj.pages.length > 0 && pj.pages.length <= 10);
  for (let k = 1; k < pj.pages.length; k++) assert.ok(pj.pages[k - 1].score >= pj.pages[k].score);
  assert.equal(pj.pages[0].command, `hvtrace history ${P7()} --gfn ${pj.pages[0].gfn}`);
});

test('a run against itself, and a SQLite trace against its Arrow copy: no differing op, no differing page', async () => {
  for (const [a, b] of [[P7(), P7()], [P7(), P7A()], [P970A(), P970()]]) {
    const o = await opsSection(a, b, {});
    const p = await pagesSection(a, b, {});
    assert.equal(o.differs, false, `${a} vs ${b}`);
    assert.equal((o.json as { differing: number }).differing, 0);
    assert.equal((o.json as { compared: number }).compared, 3021);
    assert.equal(p.differs, false);
  }
});

test('hand-edited copy: the edited ops are found, first by op id, with the kinds the edits make', async () => {
  const b = join(dir, 'edited.sqlite');
  copyFileSync(P7(), b);
  const db = new Database(b);
  // op X: an H_ENTER issued straight by the op (hcall_enter caused by its guest_op) after op 1000:
  // its hcall_exit's return becomes H_PARAMETER (-4).
  const hx = db.prepare(`SELECT g.w0 AS op, x.seq AS seq FROM events g JOIN events e ON e.cause = g.seq AND e.kind = 10 AND e.w0 = 8
      JOIN events x ON x.cause = e.seq AND x.kind = 11 WHERE g.kind = 90 AND g.w0 > 1000 ORDER BY g.seq LIMIT 1`).get() as { op: number; seq: number };
  // op Y (< X): a page fault installed after op 500 becomes a notifier retry (outcome 3).
  const pf = db.prepare(`SELECT seq FROM events WHERE kind = 32 AND IFNULL(w3, 0) = 0 AND seq > (SELECT seq FROM events WHERE kind = 90 AND w0 = 500) ORDER BY seq LIMIT 1`).pluck().get() as number;
  // op Z (> X): an rmap link after op 2000 becomes an update: one HPTE map fewer on its gfn in B.
  const rl = db.prepare(`SELECT seq, w1 AS gfn FROM events WHERE kind = 21 AND IFNULL(w0, 0) = 0 AND seq > (SELECT seq FROM events WHERE kind = 90 AND w0 = 2000) ORDER BY seq LIMIT 1`).get() as { seq: number; gfn: number };
  // op W (> Z): background work in W's window (a host_page map with no cause, after op 2500) becomes an unmap.
  const bg = db.prepare(`SELECT seq FROM events WHERE kind = 41 AND cause IS NULL AND IFNULL(w0, 0) = 0 AND seq > (SELECT seq FROM events WHERE kind = 90 AND w0 = 2500) ORDER BY seq LIMIT 1`).pluck().get() as number;
  const bgOp = db.prepare('SELECT max(w0) FROM events WHERE kind = 90 AND seq < ?').pluck().get(bg) as number;
  db.prepare('UPDATE events SET w0 = 1 WHERE seq = ?').run(bg);
  db.prepare('UPDATE events SET w1 = -4 WHERE seq = ?').run(hx.seq);
  db.prepare('UPDATE events SET w3 = 3 WHERE seq = ?').run(pf);
  db.prepare('UPDATE events SET w0 = 2 WHERE seq = ?').run(rl.seq);
  db.close();
  const expected = sqlDifferingOps(P7(), b);
  assert.equal(expected.length, 4);
  assert.ok(expected[0] < hx.op && expected[1] === hx.op && expected[2] > hx.op);
  assert.equal(expected[3], bgOp);
  const r = await alignRuns(P7A(), b);
  assert.equal(r.differing, 4);
  assert.equal(r.first?.id, expected[0]);
  assert.deepEqual(r.first?.kinds, ['different page-fault outcome']);
  assert.equal(r.kinds.get('different hcall return'), 1);
  assert.equal(r.kinds.get('different page-fault outcome'), 1);
  // the rmap edit and the background edit change no count the kinds look at
  assert.equal(r.kinds.get('other (same counts, different events)'), 2);
  // the first op's events on both sides, the edited one among B's
  const bpf = r.first?.b.find((e) => e.kind === 'page_fault_exit');
  assert.equal(bpf?.seq, pf);
  // pages: only the rmap edit changes a counter (the outcome and return edits do not): gfn G, A maps it once more
  const p = await pagesSection(P7(), b, { limit: 5 });
  const pj = p.json as { differing: number; pages: { gfn: number; score: number; a: Record<string, number>; b: Record<string, number>; story: string }[] };
  assert.equal(p.differs, true);
  assert.equal(pj.differing, 1);
  assert.equal(pj.pages[0].gfn, rl.gfn);
  assert.equal(pj.pages[0].score, 1);
  assert.equal(pj.pages[0].a.hpte_maps - pj.pages[0].b.hpte_maps, 1);
  // --gfn restricts to that page; another page shows no difference
  const only = await pagesSection(P7(), b, { gfn: rl.gfn });
  assert.equal((only.json as { pages: unknown[] }).pages.length, 1);
  const other = await pagesSection(P7(), b, { gfn: rl.gfn + 1 });
  assert.equal(other.differs, false);
});

test('memory: the pass holds the events of the ops in flight (about a cause window and a batch a side), not the trace', async () => {
  const batch = 1024;
  const r = await alignRuns(P7(), P970A(), { batchSize: batch });
  const db = new Database(P7(), { readonly: true });
  const total = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  db.close();
  // per side: the open ops (their events in the last CAUSE_WINDOW events plus one batch) and the
  // closed ops the other side has not closed yet (as many again)
  const bound = 2 * (2 * (CAUSE_WINDOW + batch));
  assert.ok(r.peakPending > 0);
  assert.ok(r.peakPending <= bound, `peak ${r.peakPending} > ${bound}`);
  assert.ok(r.peakPending < total, `peak ${r.peakPending} vs ${total} events in A`);
});
