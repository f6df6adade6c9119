import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MessageReader } from 'apache-arrow';
import { createRequire } from 'node:module';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { Recorder } from '../../src/trace/recorder.js';
import { openTrace } from '../../src/trace/reader.js';
import { TraceFormatError } from '../../src/trace/errors.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { writeSyntheticEvents } from '../../src/trace/synthetic.js';
import { Prng } from '../../src/base/prng.js';
import { readAll, sha256, tmpDir } from '../helpers.js';

function record(paths: { sqlite?: string; arrow?: string; zstd?: string }, n: number, batch: number): number {
  const sinks = [];
  if (paths.sqlite) sinks.push(new SqliteSink(paths.sqlite));
  if (paths.arrow) sinks.push(new ArrowStreamSink(paths.arrow));
  if (paths.zstd) sinks.push(new ArrowStreamSink(paths.zstd, { compress: 'zstd' }));
  const rec = new Recorder(sinks, runInfo('synthetic', 11, {}), batch);
  writeSyntheticEvents(rec, n, 11);
  rec.close(true);
  return rec.eventCount;
}

test('truncated Arrow stream yields every complete batch, then reports the truncation', async () => {
  const dir = tmpDir();
  const full = join(dir, 'full.arrow');
  const total = record({ arrow: full }, 3000, 500);
  const all = (await readAll(full)).events;
  assert.equal(all.length, total);
  const size = statSync(full).size;
  for (const frac of [0.13, 0.5, 0.77, 0.999]) {
    const cut = join(dir, `cut-${frac}.arrow`);
    copyFileSync(full, cut);
    truncateSync(cut, Math.floor(size * frac));
    const before = sha256(cut);
    const { events, truncation, complete } = await readAll(cut);
    assert.equal(events.length % 500, 0, 'only whole batches are yielded');
    assert.ok(events.length < total);
    assert.deepEqual(events, all.slice(0, events.length));
    assert.equal(complete, false);
    assert.match(truncation ?? '', /truncated after \d+ events/);
    assert.equal(sha256(cut), before, 'reading never writes to the input');
  }
});

test('bad inputs are refused with a clear TraceFormatError and left untouched', async () => {
  const dir = tmpDir();
  const rng = new Prng(5);
  const random = join(dir, 'random.bin');
  writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, () => rng.below(256))));
  const empty = join(dir, 'empty.sqlite');
  writeFileSync(empty, '');
  const other = join(dir, 'other.sqlite');
  const db = new Database(other);
  db.exec('CREATE TABLE t (x)');
  db.close();
  const good = join(dir, 'good.sqlite');
  const goodArrow = join(dir, 'good.arrow');
  record({ sqlite: good, arrow: goodArrow }, 100, 50);
  const newer = join(dir, 'newer.sqlite');
  copyFileSync(good, newer);
  const db2 = new Database(newer);
  db2.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
  db2.close();
  const truncSqlite = join(dir, 'trunc.sqlite');
  copyFileSync(good, truncSqlite);
  truncateSync(truncSqlite, 3000);
  const arrowHead = join(dir, 'head.arrow');
  copyFileSync(goodArrow, arrowHead);
  truncateSync(arrowHead, 6);

  const cases: [string, RegExp][] = [
    [random, /not an hvtrace trace/],
    [empty, /empty file/],
    [other, /not an hvtrace trace \(no meta\/events tables\)/],
    [newer, /schema version 99 is newer than this hvtrace understands \(1\)/],
    [truncSqlite, /not a readable hvtrace trace|cannot open|malformed|not an hvtrace/],
    [arrowHead, /not a readable Arrow IPC stream/],
    [join(dir, 'missing.arrow'), /no such file/],
  ];
  for (const [path, re] of cases) {
    const before = existsSync(path) ? sha256(path) : undefined;
    const filesBefore = readdirSync(dir).sort();
    await assert.rejects(
      async () => {
        const r = await openTrace(path);
        for await (const _ of r.batches()) void _;
      },
      (e: unknown) => e instanceof TraceFormatError || (e as Error).name === 'UserError',
      path,
    );
    await assert.rejects(async () => {
      const r = await openTrace(path);
      for await (const _ of r.batches()) void _;
    }, re);
    if (before) assert.equal(sha256(path), before, `${path} unchanged`);
    assert.deepEqual(readdirSync(dir).sort(), filesBefore, 'no sidecar files created');
  }
});

test('a newer Arrow schema version is refused', async () => {
  const dir = tmpDir();
  const p = join(dir, 'v2.arrow');
  const sink = new ArrowStreamSink(p);
  const rec = new Recorder([sink], { ...runInfo('synthetic', 1, {}), schemaVersion: 2 }, 10);
  rec.close(true);
  await assert.rejects(openTrace(p), /schema version 2 is newer than this hvtrace understands \(1\)/);
});

test('zstd buffers carry the uncompressed length in their prefix (Arrow spec), checked independently', async () => {
  const dir = tmpDir();
  const p = join(dir, 'z.arrow');
  record({ zstd: p }, 2000, 1000);
  const zstd = createRequire(import.meta.url)('zstd-napi') as { decompress(b: Uint8Array): Buffer };
  const reader = new MessageReader(readFileSync(p));
  let checked = 0;
  for (let msg = reader.readMessage(); msg; msg = reader.readMessage()) {
    const body = reader.readMessageBody(msg.bodyLength);
    if (!msg.isRecordBatch()) continue;
    const header = msg.header();
    assert.ok(header.compression, 'record batch declares compression');
    for (const region of header.buffers) {
      if (region.length === 0) continue;
      const bytes = body.subarray(region.offset, region.offset + region.length);
      const prefix = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true);
      if (prefix === -1n) continue; // stored uncompressed
      const raw = zstd.decompress(bytes.subarray(8));
      assert.equal(prefix, BigInt(raw.length));
      checked++;
    }
  }
  assert.ok(checked > 10, `checked ${checked} compressed buffers`);
});

test('a recorder killed with SIGKILL leaves readable traces holding every committed batch', async () => {
  const dir = tmpDir();
  const sq = join(dir, 'crash.sqlite');
  const ar = join(dir, 'crash.arrow');
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../fixtures/record-child.ts'), sq, ar], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let committed = 0;
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      for (const m of s.matchAll(/flushed (\d+)/g)) committed = Number(m[1]);
      if (committed >= 5000) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => resolve());
    child.on('error', reject);
  });
  await new Promise((r) => child.once('exit', r).once('close', r));
  const s = await openTrace(sq);
  assert.equal(s.complete, false, 'meta says incomplete');
  s.close();
  const sqEvents = (await readAll(sq)).events;
  const arEvents = (await readAll(ar));
  assert.ok(sqEvents.length >= committed, `sqlite holds ${sqEvents.length} ≥ ${committed}`);
  assert.ok(arEvents.events.length >= committed, `arrow holds ${arEvents.events.length} ≥ ${committed}`);
  assert.equal(arEvents.complete, false);
  const n = Math.min(sqEvents.length, arEvents.events.length);
  assert.deepEqual(arEvents.events.slice(0, n), sqEvents.slice(0, n));
  assert.equal(sqEvents[0].kind, 'run_start');
  assert.ok(!sqEvents.some((e) => e.kind === 'run_end'));
});

test('an Arrow batch whose seq column is not dense is refused, naming the row', async () => {
  const dir = tmpDir();
  const good = join(dir, 'good.arrow');
  record({ arrow: good }, 200, 100);
  const bytes = readFileSync(good);
  // The seq column holds consecutive little-endian u64s: find 36, 37, 38 and make 37 into 99.
  const le = (v: number) => Buffer.from(new BigUint64Array([BigInt(v)]).buffer);
  const at = bytes.indexOf(Buffer.concat([le(36), le(37), le(38)]));
  assert.ok(at > 0, 'seq column found');
  const bad = join(dir, 'bad.arrow');
  const patched = Buffer.from(bytes);
  le(99).copy(patched, at + 8);
  writeFileSync(bad, patched);
  const before = sha256(bad);
  await assert.rejects(async () => {
    const r = await openTrace(bad);
    for await (const _ of r.batches()) void _;
  }, /seq not dense: row 37 of the batch from seq 0 holds 99/);
  assert.equal(sha256(bad), before);
});

test('a SQLite sink never writes into an existing trace', () => {
  const dir = tmpDir();
  const p = join(dir, 'old.sqlite');
  record({ sqlite: p }, 300, 100);
  const before = sha256(p);
  assert.throws(() => new Recorder([new SqliteSink(p)], runInfo('synthetic', 12, {})), /old\.sqlite exists; a SQLite trace is only written to a new file/);
  assert.equal(sha256(p), before);
});
