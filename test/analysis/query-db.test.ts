// query-db: a trace opened for SQL. Column types come from the view definitions (the probe schema),
// checked against kinds.ts field by field; an Arrow trace is queried through a .hvq SQLite copy that
// holds exactly the events and meta of the SQLite recording of the same run, is byte-identical when
// built twice, is stamped with the trace's fingerprint and rebuilt when the trace changes or the
// cache is damaged, never leaves a temporary file, and keeps what a truncated stream had readable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { buildQueryCache, CACHE_VERSION, openQueryDb, queryCachePaths, readCacheStamp } from '../../src/analysis/query-db.js';
import { fingerprint } from '../../src/replay/checkpoints.js';
import { KINDS, KIND_NAMES } from '../../src/trace/kinds.js';
import { CONTRACT_VIEWS } from '../../src/trace/sqlite-schema.js';
import { readAll, sha256, tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const TV11 = join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json');
const MMIO = join(import.meta.dirname, '../../traces/mmio-roundtrip.scenario.json');

function record(dir: string, scenario = TV11, name = 't'): { sq: string; ar: string } {
  const sq = join(dir, `${name}.sqlite`);
  const ar = join(dir, `${name}.arrow`);
  const r = spawnSync(process.execPath, [BIN, 'record', '--scenario', scenario, '-o', sq, '--arrow', ar, '-q', '--no-index'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { sq, ar };
}

const expectType = (t: string) => (t === 'hex' ? 'hex' : t === 'u' || t === 'i' ? 'int' : 'text');

test('column types: every ev_<kind> column has its kinds.ts type; views keep them; expressions have none', async () => {
  const d = tmpDir();
  const { sq } = record(d);
  const q = await openQueryDb(sq);
  for (const k of KIND_NAMES) {
    const { columns } = q.prepare(`SELECT * FROM ev_${k}`);
    const want = [...['seq', 'time', 'lpid', 'vcpu', 'core', 'cause'].map((name) => ({ name, type: 'int' })), ...KINDS[k].fields.map((f) => ({ name: f.name, type: expectType(f.type) }))];
    assert.deepEqual(columns, want, k);
  }
  // Every column of a contract view that names a field of the kind behind it has the field's type.
  const fieldType = new Map<string, string>(KIND_NAMES.flatMap((k) => KINDS[k].fields.map((f) => [f.name, expectType(f.type)] as [string, string])));
  for (const v of Object.keys(CONTRACT_VIEWS)) {
    const { columns } = q.prepare(`SELECT * FROM ${v}`);
    assert.ok(columns.length > 0, v);
    for (const c of columns) if (c.type !== null && fieldType.has(c.name)) assert.equal(c.type, fieldType.get(c.name), `${v}.${c.name}`);
  }
  const types = (sql: string) => q.prepare(sql).columns.map((c) => c.type);
  assert.deepEqual(types('SELECT 42 AS ea'), [null], 'a literal named like a field is not typed by its name');
  assert.deepEqual(types('SELECT ea, gfn, decision, hpte_index FROM faults'), ['hex', 'int', 'text', 'int']);
  assert.deepEqual(types('SELECT f.ea, h.new_v, h.hpte_index FROM faults f JOIN hpte_updates h ON h.cause = f.seq'), ['hex', 'hex', 'int']);
  assert.deepEqual(types('SELECT x FROM (SELECT ea AS x FROM faults)'), ['hex']);
  assert.deepEqual(types('WITH c AS (SELECT new_r FROM hpte_updates) SELECT new_r FROM c'), ['hex']);
  assert.deepEqual(types('SELECT max(ea), count(*), ea + 0 FROM faults'), [null, null, null]);
  assert.deepEqual(types('SELECT name, r4, duration FROM hcalls'), [null, 'hex', null], 'a CASE and a difference are expressions');
  assert.deepEqual(types('SELECT seq, kind, w0, w11 FROM events'), ['int', 'int', 'int', 'int'], 'raw words stay untyped integers');
  assert.deepEqual(types('SELECT key, value FROM meta'), ['text', 'text']);
  q.close();
});

test('a SQLite trace is opened in place, read-only, and leaves nothing beside it', async () => {
  const d = tmpDir();
  const { sq } = record(d);
  const before = readdirSync(d).sort();
  const q = await openQueryDb(sq);
  assert.equal(q.dbPath, sq);
  assert.equal(q.db.readonly, true);
  assert.equal(q.db.pragma('query_only', { simple: true }), 1);
  q.close();
  assert.deepEqual(readdirSync(d).sort(), before);
});

test('Arrow: the .hvq cache holds the SQLite recording\'s events and meta, is byte-identical when rebuilt, stamped, and reused', async () => {
  const d = tmpDir();
  const { sq, ar } = record(d, MMIO);
  const q = await openQueryDb(ar);
  assert.equal(q.built, true);
  assert.equal(q.dbPath, `${ar}.hvq`);
  const s = new Database(sq, { readonly: true });
  s.defaultSafeIntegers(true);
  for (const sql of ['SELECT * FROM events ORDER BY seq', 'SELECT * FROM meta ORDER BY key', 'SELECT * FROM kinds', 'SELECT * FROM kind_fields', 'SELECT * FROM enums',
    "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name != '_hvq' ORDER BY name"]) {
    assert.deepEqual(q.db.prepare(sql).safeIntegers(true).raw(true).all(), s.prepare(sql).raw(true).all(), sql);
  }
  s.close();
  q.close();
  const cache = `${ar}.hvq`;
  const stamp = readCacheStamp(cache)!;
  assert.equal(stamp.version, CACHE_VERSION);
  assert.deepEqual(stamp.fingerprint, fingerprint(ar, 'arrow'));
  assert.equal(stamp.truncation, null);
  const other = join(d, 'again.hvq');
  await buildQueryCache(ar, other, fingerprint(ar, 'arrow'));
  assert.equal(sha256(other), sha256(cache), 'deterministic: byte-identical for the same trace');
  assert.deepEqual(readdirSync(d).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
  const again = await openQueryDb(ar);
  assert.equal(again.built, false, 'a valid cache is reused');
  again.close();
});

test('Arrow: a cache is rebuilt when the trace changes or the cache is damaged', async () => {
  const d = tmpDir();
  const a = record(d, TV11, 'a');
  const b = record(d, MMIO, 'b');
  const t = join(d, 'trace.arrow');
  copyFileSync(a.ar, t);
  const count = async () => {
    const q = await openQueryDb(t);
    const n = q.db.prepare('SELECT count(*) FROM events').pluck().get();
    q.close();
    return { n, built: q.built };
  };
  const nA = (await readAll(a.ar)).events.length;
  const nB = (await readAll(b.ar)).events.length;
  assert.notEqual(nA, nB);
  assert.deepEqual(await count(), { n: nA, built: true });
  copyFileSync(b.ar, t); // another run under the same name
  assert.deepEqual(await count(), { n: nB, built: true }, 'stale: rebuilt');
  assert.deepEqual(await count(), { n: nB, built: false });
  writeFileSync(`${t}.hvq`, 'not a database at all, just bytes');
  assert.deepEqual(await count(), { n: nB, built: true }, 'damaged: rebuilt');
  const q = await openQueryDb(t, { rebuild: true });
  assert.equal(q.built, true);
  q.close();
});

test('Arrow: a truncated stream gets a cache of its readable events and keeps the warning', async () => {
  const d = tmpDir();
  const { ar } = record(d, TV11);
  const cut = join(d, 'cut.arrow');
  copyFileSync(ar, cut);
  truncateSync(cut, Math.floor(statSync(ar).size * 0.6));
  const readable = await readAll(cut);
  assert.ok(readable.truncation, 'the reader says the stream is cut');
  for (let i = 0; i < 2; i++) {
    const q = await openQueryDb(cut);
    assert.equal(q.built, i === 0);
    assert.equal(q.truncation, readable.truncation, 'the reader\'s message, also when the cache is reused');
    assert.equal(q.db.prepare('SELECT count(*) FROM events').pluck().get(), readable.events.length);
    assert.equal(q.db.prepare("SELECT value FROM meta WHERE key = 'complete'").pluck().get(), '0');
    q.close();
  }
});

test('Arrow: a directory that is not writable puts the cache in the fallback directory', async (t) => {
  const d = tmpDir();
  const { ar } = record(d, TV11);
  const ro = join(d, 'ro');
  mkdirSync(ro);
  const trace = join(ro, 'r.arrow');
  copyFileSync(ar, trace);
  const fallbackDir = join(d, 'fallback');
  // chmod is enough for a user; root ignores it, so there the directory is made immutable.
  chmodSync(ro, 0o555);
  let immutable = false;
  try {
    if (canWrite(ro)) immutable = spawnSync('chattr', ['+i', ro]).status === 0;
    assert.ok(!canWrite(ro), `could not make ${ro} unwritable (chmod${immutable ? ', chattr' : ''})`);
    t.diagnostic(`unwritable through ${immutable ? 'chattr +i' : 'chmod 555'}`);
    const q = await openQueryDb(trace, { fallbackDir });
    assert.equal(q.dbPath, queryCachePaths(trace, fallbackDir).fallback);
    assert.ok(existsSync(q.dbPath));
    assert.equal(q.db.prepare('SELECT count(*) FROM faults').pluck().get(), 1);
    q.close();
    const again = await openQueryDb(trace, { fallbackDir });
    assert.equal(again.built, false, 'the fallback cache is found again');
    again.close();
  } finally {
    // Before tmpDir's cleanup: it cannot remove files from an immutable directory.
    if (immutable) spawnSync('chattr', ['-i', ro]);
    chmodSync(ro, 0o755);
  }
});

function canWrite(dir: string): boolean {
  try {
    writeFileSync(join(dir, '.probe'), '');
    rmSync(join(dir, '.probe'));
    return true;
  } catch {
    return false;
  }
}
