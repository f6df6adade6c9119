// SQLite batches read in a worker thread (src/trace/worker-batches.ts): the same events as the
// direct reader, field by field; a corrupt trace's error reaches the caller as the same error; the
// CLI reports it on one line, exit 2; stopping early stops the worker.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { alignRuns } from '../../src/analysis/diff-align.js';
import type { EventBatch } from '../../src/trace/batch.js';
import { TraceFormatError } from '../../src/trace/errors.js';
import { SqliteTraceReader } from '../../src/trace/reader.js';
import { sqliteBatchesInWorker } from '../../src/trace/worker-batches.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'hvtrace.js');
const dir = tmpDir('hvtrace-wbatch-');
const GOOD = join(dir, 'good.sqlite');
const GAP = join(dir, 'gap.sqlite');
const GAP_SEQ = 5000;

before(() => {
  execFileSync(process.execPath, [BIN, 'record', '-w', 'mix', '--accesses', '1500', '--seed', '3', '-o', GOOD, '-q', '--no-index'], { stdio: 'pipe' });
  copyFileSync(GOOD, GAP);
  const db = new Database(GAP);
  db.prepare('DELETE FROM events WHERE seq = ?').run(GAP_SEQ);
  db.close();
});

/** Every field of every event of a batch, as plain values. */
function rows(b: EventBatch): unknown[][] {
  const out: unknown[][] = [];
  for (let i = 0; i < b.length; i++) {
    const words = Array.from(b.words.subarray(b.wofs[i] * 2, b.wofs[i + 1] * 2));
    out.push([b.firstSeq + i, b.time[i], b.kind[i], b.lpid[i], b.vcpu[i], b.core[i], b.cause[i], words]);
  }
  return out;
}

test('worker batches equal the direct reader batches, every field of every event, with a small batch size and from', async () => {
  const sqlCount = (() => {
    const db = new Database(GOOD, { readonly: true });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    db.close();
    return n;
  })();
  assert.ok(sqlCount > 5 * 777, `trace large enough for several batches (${sqlCount} events)`);
  for (const opts of [{ batchSize: 777 }, { batchSize: 500, from: 1234 }]) {
    const r = SqliteTraceReader.open(GOOD);
    const direct: { first: number; len: number; rows: unknown[][] }[] = [];
    for (const b of r.batchesSync(opts)) direct.push({ first: b.firstSeq, len: b.length, rows: rows(b) });
    r.close();
    const viaWorker: { first: number; len: number; rows: unknown[][] }[] = [];
    const kept: EventBatch[] = [];
    for await (const b of sqliteBatchesInWorker(GOOD, opts)) {
      assert.equal(b.denseValid, true);
      assert.equal(b.wireValid, false);
      kept.push(b);
    }
    // Batches are fresh: ones kept by the consumer are not overwritten by later ones.
    for (const b of kept) viaWorker.push({ first: b.firstSeq, len: b.length, rows: rows(b) });
    assert.equal(viaWorker.length, Math.ceil((sqlCount - (opts.from ?? 0)) / opts.batchSize));
    assert.equal(viaWorker.reduce((s, b) => s + b.len, 0), sqlCount - (opts.from ?? 0));
    assert.deepEqual(viaWorker, direct);
  }
});

test('a gap in the events table: the worker rejects with the TraceFormatError the direct reader throws', async () => {
  const r = SqliteTraceReader.open(GAP);
  let expected: Error | undefined;
  try {
    for (const _ of r.batchesSync({ batchSize: 1000 }));
  } catch (e) {
    expected = e as Error;
  }
  r.close();
  assert.ok(expected instanceof TraceFormatError);
  assert.match(expected.message, /gap between seq 5000 and 6000/);
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const b of sqliteBatchesInWorker(GAP, { batchSize: 1000 })) seen.push(b.firstSeq);
    })(),
    (e: unknown) => e instanceof TraceFormatError && e.message === expected!.message && e.exitCode === 3,
  );
  assert.deepEqual(seen, [0, 1000, 2000, 3000, 4000]);
  // Through the alignment (side B is read by a worker).
  await assert.rejects(alignRuns(GOOD, GAP, { batchSize: 1000 }), (e: unknown) => e instanceof TraceFormatError && e.message === expected!.message);
});

test('hvtrace diff good.sqlite gap.sqlite: one line on stderr, exit 2', () => {
  const r = spawnSync(process.execPath, [BIN, 'diff', GOOD, GAP, '-q'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^hvtrace: error: .*gap\.sqlite: events table has a gap between seq \d+ and \d+\n$/);
});

test('stopping early (return) ends the iteration and stops the worker', async () => {
  const it = sqliteBatchesInWorker(GOOD, { batchSize: 100 });
  const a = await it.next();
  const b = await it.next();
  assert.equal(a.done, false);
  assert.equal(b.done, false);
  assert.equal(b.value!.firstSeq, 100);
  assert.deepEqual(await it.return(), { done: true, value: undefined });
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});
