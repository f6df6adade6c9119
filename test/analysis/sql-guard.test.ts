// sql-guard: read-only by construction. Each refusal is one UserError line, nothing runs, the trace is
// byte-identical afterwards and no file appears (VACUUM INTO, ATTACH); parameters are bound with the
// documented types.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openQueryDb } from '../../src/analysis/query-db.js';
import { paramValue, parseParams, prepareReadOnly, scanSql } from '../../src/analysis/sql-guard.js';
import { UserError } from '../../src/trace/errors.js';
import { sha256, tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const SCENARIO = join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json');

function record(dir: string): string {
  const sq = join(dir, 't.sqlite');
  const r = spawnSync(process.execPath, [BIN, 'record', '--scenario', SCENARIO, '-o', sq, '-q', '--no-index'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return sq;
}

test('scanSql: statements split on ; outside strings, comments and quoted names; parameters found', () => {
  assert.equal(scanSql("SELECT ';' AS x; -- trailing ; comment").statements.length, 1);
  assert.equal(scanSql('SELECT 1 /* ; */ ;').statements.length, 1);
  assert.equal(scanSql('SELECT "a;b" FROM [c;d]').statements.length, 1);
  assert.equal(scanSql('SELECT 1; SELECT 2').statements.length, 2);
  assert.equal(scanSql(';;').statements.length, 0);
  const s = scanSql("SELECT @a, :b, $c, '@d' -- @e\n FROM t WHERE x = @a");
  assert.deepEqual([...s.named].sort(), ['a', 'b', 'c']);
  assert.equal(s.positional, false);
  assert.equal(scanSql('SELECT ?1').positional, true);
  assert.deepEqual(scanSql("select 'x' from events").statements[0], ['SELECT', 'FROM', 'EVENTS']);
});

test('every statement that could write or change the connection is refused in one line, the trace unchanged', async () => {
  const d = tmpDir();
  const sq = record(d);
  const before = sha256(sq);
  const q = await openQueryDb(sq);
  const files = () => readdirSync(d).sort();
  const had = files();
  const refused: [string, RegExp][] = [
    ['SELECT 1; SELECT 2', /one statement at a time/],
    ['SELECT 1; DELETE FROM events', /one statement at a time/],
    ['DELETE FROM events', /would write/],
    ['UPDATE meta SET value = 1', /would write/],
    ["INSERT INTO meta VALUES ('k', 'v')", /would write/],
    ['WITH x AS (SELECT 1) DELETE FROM events RETURNING seq', /would write/],
    ['CREATE TABLE t (x)', /would write/],
    ['DROP VIEW faults', /would write/],
    [`VACUUM INTO '${join(d, 'copy.db')}'`, /would write/],
    ['VACUUM', /would write/],
    ['ANALYZE', /would write/],
    ['REINDEX', /would write|returns no rows/],
    ['BEGIN', /returns no rows/],
    ['SAVEPOINT s', /returns no rows/],
    [`ATTACH '${join(d, 'other.db')}' AS o`, /ATTACH is refused/],
    ['DETACH main', /DETACH is refused/],
    ['PRAGMA query_only = 0', /PRAGMA query_only = … changes a setting/],
    ['PRAGMA main.user_version = 7', /changes a setting/],
    ['PRAGMA journal_mode(WAL)', /journal_mode\(…\) is refused/],
    ['PRAGMA journal_mode = DELETE', /changes a setting/],
    ['PRAGMA wal_checkpoint', /not one of the read-only PRAGMAs/],
    ['PRAGMA optimize', /not one of the read-only PRAGMAs/],
    ["SELECT load_extension('/tmp/x.so')", /load_extension\(\) is refused/],
    ['EXPLAIN DELETE FROM events', /would write/],
    ["EXPLAIN ATTACH 'x' AS y", /ATTACH is refused/],
    ['', /no SQL statement/],
    ['-- only a comment', /no SQL statement/],
  ];
  for (const [sql, why] of refused) {
    assert.throws(() => q.prepare(sql), (e: Error) => e instanceof UserError && why.test(e.message) && !e.message.includes('\n'), sql);
  }
  q.close();
  assert.equal(sha256(sq), before, 'the trace is byte-identical');
  assert.deepEqual(files(), had, 'no file was created (VACUUM INTO, ATTACH)');
  assert.ok(!existsSync(join(d, 'copy.db')));
});

test('reads run: SELECT, WITH, VALUES, EXPLAIN, read PRAGMAs; the connection is read-only even below the guard', async () => {
  const d = tmpDir();
  const sq = record(d);
  const q = await openQueryDb(sq);
  for (const sql of ['SELECT count(*) FROM events;', 'WITH c AS (SELECT seq FROM faults) SELECT * FROM c', 'VALUES (1, 2)', 'EXPLAIN QUERY PLAN SELECT * FROM faults',
    'PRAGMA table_info(events)', 'PRAGMA user_version', "SELECT * FROM pragma_table_info('faults')", "SELECT 'load_extension' AS word", '/* c */ SELECT 1 -- end']) {
    const p = q.prepare(sql);
    assert.ok(Array.isArray(p.stmt.all()), sql);
  }
  assert.equal(q.db.readonly, true);
  assert.equal(q.db.pragma('query_only', { simple: true }), 1);
  assert.throws(() => q.db.exec('DELETE FROM events'), /readonly|query_only|attempt to write/i, 'the connection itself refuses writes');
  q.close();
});

test('parameters: bound by name with typed values; missing, unused and positional ones are errors', async () => {
  assert.equal(paramValue('42'), 42n);
  assert.equal(paramValue('-1'), -1n);
  assert.equal(paramValue('0x10'), 16n);
  assert.equal(paramValue('0xffffffffffffffff'), -1n, 'a 64-bit word binds as its signed bit pattern (how words are stored)');
  assert.equal(paramValue('18446744073709551615'), -1n);
  assert.equal(paramValue('1.5'), 1.5);
  assert.equal(paramValue('H_ENTER'), 'H_ENTER');
  assert.equal(paramValue('0x1g'), '0x1g');
  assert.throws(() => paramValue('0x10000000000000000'), /64 bits/);
  assert.throws(() => parseParams(['novalue']), /name=value/);
  assert.throws(() => parseParams(['a=1', 'a=2']), /twice/);
  assert.deepEqual([...parseParams(['@a=1', 'b=x=y'])], [['a', 1n], ['b', 'x=y']]);

  const d = tmpDir();
  const sq = record(d);
  const q = await openQueryDb(sq);
  // lpcr of the VM, stored as a signed 64-bit pattern (bit 63 set on POWER7's LPCR here): equality with the 0x… param.
  const lpcrHex = (q.db.prepare("SELECT printf('0x%x', lpcr) FROM ev_vm_create").pluck().get() as string);
  assert.match(lpcrHex, /^0x[89a-f][0-9a-f]{15}$/, 'a word with bit 63 set');
  const p = q.prepare('SELECT count(*) FROM ev_vm_create WHERE lpcr = @w', parseParams([`w=${lpcrHex}`]));
  assert.deepEqual(p.stmt.all(p.bind), [[1n]]);
  const h = q.prepare("SELECT count(*) FROM hcalls WHERE name = :n AND r5 = $slot", parseParams(['n=H_ENTER', 'slot=0x1a298']));
  assert.deepEqual(h.stmt.all(h.bind), [[1n]]);
  const text = q.prepare('SELECT typeof(@a), typeof(@b), typeof(@c)', parseParams(['a=7', 'b=2.5', 'c=seven']));
  assert.deepEqual(text.stmt.all(text.bind), [['integer', 'real', 'text']]);
  assert.throws(() => q.prepare('SELECT @x'), /missing parameter @x: pass --param x=VALUE/);
  assert.throws(() => q.prepare('SELECT 1', parseParams(['y=2'])), /--param y: the statement has no parameter/);
  assert.throws(() => q.prepare('SELECT ?'), /positional parameters/);
  assert.throws(() => prepareReadOnly(q.db, 'SELEC 1'), /SQL error: near "SELEC": syntax error/);
  assert.throws(() => q.prepare('SELECT nosuch FROM faults'), /SQL error: no such column: nosuch/);
  assert.throws(() => q.prepare('SELECT * FROM nosuch'), /SQL error: no such table: nosuch/);
  q.close();
});
