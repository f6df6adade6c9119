// hvtrace query / events / state as a user meets them (built CLI): typed columns, --limit and the
// table's counted default limit, an SQL that starts with --, one-line errors with exit 2 that leave
// both recordings byte-identical, and one print rule for a field in every command.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONTRACT_VIEWS } from '../../src/trace/sqlite-schema.js';
import { readAll, sha256, tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const TV11 = join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json');

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function record(dir: string, ...args: string[]): { sq: string; ar: string } {
  const sq = join(dir, 't.sqlite');
  const ar = join(dir, 't.arrow');
  const r = hv('record', ...args, '-o', sq, '--arrow', ar, '-q', '--no-index');
  assert.equal(r.code, 0, r.err);
  return { sq, ar };
}

const lines = (s: string) => s.split('\n').filter(Boolean);

test('query: types come from the views, not from column names; both formats print the same', () => {
  const d = tmpDir();
  const { sq, ar } = record(d, '--scenario', TV11);
  // Every case on SQLite; on Arrow (its cache: the golden tests compare both formats) the join and JSON.
  for (const t of [sq, ar]) {
    if (t === sq) {
      assert.equal(hv('query', t, 'SELECT 42 AS ea', '--csv', '-q').out, 'ea\n42\n');
      assert.equal(hv('query', t, 'SELECT ea, gfn, hpte_index FROM faults', '--csv', '-q').out, 'ea,gfn,hpte_index\n0x10006000,-1,-1\n');
      assert.equal(hv('query', t, 'SELECT ea AS address FROM faults', '--csv', '-q').out, 'address\n0x10006000\n', 'an alias keeps the type');
    }
    assert.equal(hv('query', t, 'SELECT f.ea, p.pfn FROM faults f JOIN host_pages p ON 1 = 1', '--csv', '-q').out, 'ea,pfn\n0x10006000,0x69ab\n');
    // A state table's declared word columns print 0x… too (the H_ENTER's write of slot 0x1a298 at
    // 8204, TV11: v = AVPN 0x123456 | VALID, r = host pfn 0x69ab << 12 | 0x112); an expression does not.
    assert.equal(
      hv('query', t, 'SELECT h.hpte_index, h.v, h.r, 7 AS v2 FROM hpte_at(8204) h WHERE h.lpid = 1 AND h.hpte_index = 107160', '--csv', '-q').out,
      'hpte_index,v,r,v2\n107160,0x123456001,0x69ab112,7\n',
    );
    const j = JSON.parse(hv('query', t, 'SELECT gfn, ea, 42 AS ea2, count(*) AS n FROM faults', '--json', '-q').out);
    assert.deepEqual(j, [{ gfn: -1, ea: '0x10006000', ea2: 42, n: 1 }]);
  }
});

test('query: --limit stops after N rows in every format; a table shows 1000 rows and counts the rest', () => {
  const d = tmpDir();
  const { sq, ar } = record(d, '--scenario', TV11);
  const total = Number(hv('query', sq, 'SELECT count(*) FROM events', '--csv').out.split('\n')[1]);
  assert.ok(total > 1000, `${total} events`);
  for (const t of [sq, ar]) {
    const table = lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '-q').out);
    assert.equal(table.length, 2 + 1000 + 1);
    assert.match(table.at(-1)!, new RegExp(`^… ${total - 1000} more rows not shown`));
    assert.equal(lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '--csv', '-q').out).length, total + 1, 'CSV: every row');
    if (t === ar) continue; // the rest on SQLite only
    assert.equal(lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '--csv', '-n', '5', '-q').out).length, 6);
    assert.equal(JSON.parse(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '--json', '--limit', '7', '-q').out).length, 7);
    assert.equal(lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '--format', 'ndjson', '-n', '3', '-q').out).length, 3);
    const limited = lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq', '-n', '4', '-q').out);
    assert.deepEqual(limited.slice(2).map((l) => l.trim()), ['0', '1', '2', '3'], '--limit 4: four rows, no note');
    // Counted inside SQLite (wrapped in a count) or, when it cannot be wrapped, by stepping: the same.
    const stepped = lines(hv('query', t, 'SELECT seq FROM events ORDER BY seq; -- cannot be wrapped in a count', '-q').out);
    assert.match(stepped.at(-1)!, new RegExp(`^… ${total - 1000} more rows not shown`));
    const limited2 = lines(hv('query', t, 'SELECT seq FROM events LIMIT 1500', '-q').out);
    assert.match(limited2.at(-1)!, /^… 500 more rows not shown/);
  }
});

test('query: an SQL that starts with a -- comment is an operand, with or without the -- separator', () => {
  const d = tmpDir();
  const { sq } = record(d, '--scenario', TV11);
  const sql = '-- how many faults\nSELECT count(*) AS n FROM faults';
  assert.equal(hv('query', sq, sql, '--csv').out, 'n\n1\n');
  assert.equal(hv('query', sq, '--csv', '--', sql).out, 'n\n1\n');
  assert.equal(hv('query', '--csv', sq, sql).out, 'n\n1\n');
});

test('query: bad SQL, unknown names, missing parameters and writes are one line, exit 2; the recordings are untouched', () => {
  const d = tmpDir();
  const { sq, ar } = record(d, '--scenario', TV11);
  hv('query', ar, 'SELECT 1', '-q'); // build the Arrow cache first: what is checked below is the trace itself
  const before = [sha256(sq), sha256(ar)];
  const cases: [string[], RegExp][] = [
    [['SELEC 1'], /SQL error: near "SELEC": syntax error/],
    [['SELECT nosuch FROM faults'], /no such column: nosuch/],
    [['SELECT * FROM nosuch'], /no such table: nosuch/],
    [['SELECT * FROM faults WHERE gfn = @g'], /missing parameter @g/],
    [['SELECT 1', '--param', 'g=1'], /no parameter @g/],
    [['DELETE FROM events'], /read-only: the statement would write/],
    [['SELECT 1; DROP TABLE meta'], /one statement at a time/],
    [["ATTACH 'x.db' AS x"], /ATTACH is refused/],
    [['PRAGMA query_only = 0'], /changes a setting/],
    [['SELECT 1', '--format', 'xml'], /--format/],
  ];
  // All on SQLite; on Arrow (its cache) a parse error, a missing parameter and a write.
  for (const [t, which] of [[sq, cases], [ar, [cases[0], cases[3], cases[5]]]] as const) {
    for (const [args, why] of which) {
      const r = hv('query', t, ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.out, '');
      const l = lines(r.err);
      assert.equal(l.length, 1, r.err);
      assert.match(l[0], /^hvtrace: error: /);
      assert.match(l[0], why, args.join(' '));
    }
  }
  assert.equal(hv('query', join(d, 'missing.arrow'), 'SELECT 1').code, 2);
  assert.deepEqual([sha256(sq), sha256(ar)], before);
});

test('query --help lists the views and an example', () => {
  const h = hv('query', '--help');
  assert.equal(h.code, 0);
  for (const v of Object.keys(CONTRACT_VIEWS)) assert.match(h.out, new RegExp(`\\b${v}\\b`), v);
  assert.match(h.out, /ev_<kind>/);
  assert.match(h.out, /Examples:\n\s+hvtrace query \S+ "SELECT/);
});

test('query on a truncated Arrow stream: the readable events, and the reader\'s warning on stderr', async () => {
  const d = tmpDir();
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '--synthetic', '150000', '--arrow', ar, '-q', '--no-index').code, 0);
  const cut = join(d, 'cut.arrow');
  copyFileSync(ar, cut);
  truncateSync(cut, Math.floor(statSync(ar).size * 0.6));
  const readable = (await readAll(cut)).events.length;
  assert.ok(readable > 0 && readable < 150000, `${readable} readable events`);
  for (let i = 0; i < 2; i++) {
    const r = hv('query', cut, 'SELECT count(*) AS n FROM events', '--csv', '-q');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `n\n${readable}\n`);
    assert.match(r.err, /^hvtrace: warning: .*cut\.arrow: stream truncated after \d+ events/);
  }
});

