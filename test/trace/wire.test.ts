// The recorder writes events in the batch's wire form (the Arrow encoding) and the Arrow sink wraps
// it. These tests hold that form to its definition (arrow-schema.ts, batch.ts WireColumns): by the
// rules for one hand-written event, and against encoding the same events afresh from numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Prng } from '../../src/base/prng.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { type RecordBatch, RecordBatchReader } from 'apache-arrow';
import { EventBatch, type WireColumns } from '../../src/trace/batch.js';
import { batchOf, eventsOf, type TraceEvent } from '../../src/trace/event.js';
import { F, fieldIndex, type KindCode } from '../../src/trace/fields.js';
import { type FieldDef, K, KINDS, KIND_NAMES } from '../../src/trace/kinds.js';
import { NO_CAUSE, Recorder, type EventSink } from '../../src/trace/recorder.js';
import { decodeArrowBatch } from '../../src/trace/reader.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { readAll, tmpDir } from '../helpers.js';

const HALVES = [0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0x1234, 0xfffff000];
/** Values for non-hex fields (numbers, exact as 64-bit words): zero/nonzero low and high halves. */
const NUMBERS = [0, 1, -1, 0x1234, 2 ** 32, 2 ** 40 + 5, -4096];

/** An emitter seen without its kind, for writing a kind chosen at run time through its setters. */
type AnyEmitter = { [field: string]: (a: number, b?: number) => AnyEmitter };

/** Record `n` events with random words: zero and nonzero halves, zero words inside and at the end. */
function recordRandom(n: number, batchSize: number, sinks: EventSink[]): void {
  const rng = new Prng(5);
  const rec = new Recorder(sinks, runInfo('synthetic', 5, { test: 'wire' }), batchSize);
  for (let i = 0; i < n; i++) {
    rec.now += rng.below(3) === 0 ? 2 ** 33 + rng.below(1000) : rng.below(100);
    const kind = KINDS[KIND_NAMES[rng.below(KIND_NAMES.length)]];
    const cause = rng.chance(0.4) ? NO_CAUSE : rng.below(rec.eventCount);
    let e = rec.emit(kind.code as KindCode, rng.below(3) - 1, rng.below(8) - 1, rng.below(3) - 1, cause) as unknown as AnyEmitter;
    for (const d of kind.fields as readonly FieldDef[]) {
      const r = rng.below(4);
      if (r === 0) e = e[d.name](0);
      else if (r === 1) e = e[d.name](rng.below(1 << 20));
      else if (d.type === 'hex') e = e[d.name](HALVES[rng.below(HALVES.length)], HALVES[rng.below(HALVES.length)]);
      else e = e[d.name](NUMBERS[rng.below(NUMBERS.length)]);
    }
  }
  rec.close(true);
}

const collector = (out: EventBatch[]): EventSink => ({ open() {}, writeBatch: (b) => void out.push(b.clone()), close() {} });

function wireOf(w: WireColumns, n: number) {
  return {
    seq: [...w.seq.subarray(0, 2 * n)],
    time: [...w.time.subarray(0, 2 * n)],
    cause: [...w.cause.subarray(0, 2 * n)],
    causeValid: w.causeNulls > 0 ? [...w.causeValid.subarray(0, (n + 7) >> 3)] : 'all valid',
    causeNulls: w.causeNulls,
    wofs: [...w.wofs.subarray(0, n + 1)],
    words: [...w.words.subarray(0, w.wofs[n])],
    wmask: [...w.wmask.subarray(0, n)],
  };
}

test('wire form by the rules: 64-bit halves, cause validity, zero suppression and the mask', () => {
  const batches: EventBatch[] = [];
  const rec = new Recorder([collector(batches)], runInfo('synthetic', 1, {}), 16);
  rec.now = 2 ** 32 + 7; // time crosses into the high half
  rec
    .emit(K.mmio_exit, 1, 0, 0, 0)
    .gpa(0xabc, 0) // word 0: high half only → mask bit 1
    .len(0) // word 1: zero → no bits
    .is_write(5) // word 2: low half only → mask bit 4
    .data(0); // trailing zero word: no bits, not stored
  // The open event's words can be read back before the next event starts.
  assert.deepEqual([0, 1, 2, 3, 4].map((j) => rec.openWord(fieldIndex(j))), [0xabc * 2 ** 32, 0, 5, 0, 0]);
  rec.close(true);
  const b = batches[0];
  assert.equal(b.wireValid, true);
  assert.equal(b.denseValid, false, 'the recorder writes the wire form only');
  const w = b.wire!;
  const i = 1; // event 0 is run_start
  assert.deepEqual([w.seq[2 * i], w.seq[2 * i + 1]], [1, 0]);
  assert.deepEqual([w.time[2 * i], w.time[2 * i + 1]], [7, 1]);
  assert.equal(w.causeNulls, 2, 'run_start and run_end have no cause');
  assert.equal(w.causeValid[0] & 0b111, 0b010);
  assert.equal(w.wmask[i], (1 << 1) | (1 << 4));
  assert.deepEqual([...w.words.subarray(w.wofs[i], w.wofs[i + 1])], [0xabc, 5]);
  // The dense form expanded from it: three words, the trailing zero one dropped.
  b.toDense();
  assert.equal(b.nwords(i), 3);
  assert.deepEqual([F.mmio_exit.gpa, F.mmio_exit.len, F.mmio_exit.is_write].map((j) => b.big(i, j)), [0xabc00000000n, 0n, 5n]);
  assert.equal(b.time[i], 2 ** 32 + 7);
  assert.equal(b.cause[i], 0);
  assert.equal(b.cause[0], NO_CAUSE);
});

test('the wire form the recorder writes equals encoding the same events afresh', () => {
  const batches: EventBatch[] = [];
  recordRandom(5000, 333, [collector(batches)]);
  assert.ok(batches.length > 10);
  for (const b of batches) {
    const recorded = wireOf(b.wire!, b.length);
    const fresh = batchOf([...eventsOf(b)], b.firstSeq);
    assert.equal(fresh.wireValid, false);
    assert.deepEqual(recorded, wireOf(fresh.toWire(), fresh.length), `batch from seq ${b.firstSeq}`);
  }
});

test('Arrow bytes from the recorder equal the bytes of the same events re-encoded; SQLite reads back the same events', async () => {
  const dir = tmpDir();
  const direct = join(dir, 'direct.arrow');
  const sq = join(dir, 'direct.sqlite');
  const batches: EventBatch[] = [];
  recordRandom(3000, 500, [new ArrowStreamSink(direct), new SqliteSink(sq), collector(batches)]);
  const events: TraceEvent[] = batches.flatMap((b) => [...eventsOf(b)]);
  const again = join(dir, 'again.arrow');
  const sink = new ArrowStreamSink(again);
  sink.open(runInfo('synthetic', 5, { test: 'wire' }));
  for (const b of batches) sink.writeBatch(batchOf(events.slice(b.firstSeq, b.firstSeq + b.length), b.firstSeq));
  sink.close(true, events.length);
  assert.deepEqual(readFileSync(again), readFileSync(direct));
  assert.deepEqual((await readAll(sq)).events, events);
  assert.deepEqual((await readAll(direct)).events, events);
});

test('a batch decoded from a file never encodes into the file buffers it borrowed', async () => {
  const dir = tmpDir();
  const p = join(dir, 'sixteen.arrow');
  const rec = new Recorder([new ArrowStreamSink(p)], runInfo('synthetic', 1, {}), 16);
  for (let i = 0; i < 40; i++) {
    rec.emit(K.tlbie, 1, 0, 0, i).rb(i); // every event has a cause: no validity bitmap in the file
  }
  rec.close(true);
  const reader = RecordBatchReader.from(readFileSync(p));
  const rb = reader.next().value as RecordBatch;
  assert.equal(rb.numRows, 16);
  const b = decodeArrowBatch(p, rb, 0, new EventBatch(16)); // capacity == rows, as for 65,536-row batches
  const seqBefore = [...(rb.getChild('seq')!.data[0].values as BigUint64Array)];
  // Refill the same batch as numbers, half of them without a cause, and encode it.
  b.reset(100);
  for (let i = 0; i < 16; i++) {
    b.time[i] = i;
    b.kind[i] = KINDS.tlbie.code;
    b.cause[i] = i % 2 ? NO_CAUSE : i;
    b.wofs[i + 1] = 0;
  }
  b.length = 16;
  const w = b.toWire();
  assert.equal(w.causeNulls, 8);
  assert.deepEqual([w.causeValid[0], w.causeValid[1]], [0b01010101, 0b01010101]);
  assert.deepEqual([w.seq[0], w.seq[30]], [100, 115]);
  assert.deepEqual([...(rb.getChild('seq')!.data[0].values as BigUint64Array)], seqBefore, "the file's buffers are untouched");
});

test('halves are normalised to u32 before the zero test (2^32 as a low half stores 0 and no mask bit)', () => {
  const batches: EventBatch[] = [];
  const rec = new Recorder([collector(batches)], runInfo('synthetic', 1, {}), 8);
  rec.emit(K.guest_enter, 1, 0, 0, NO_CAUSE).pc(0, 1).msr(0, 2 ** 32); // ToUint32(2^32) = 0: a zero word
  rec.close(true);
  const b = batches[0];
  assert.equal(b.wire!.wmask[1], 0b1);
  const fresh = batchOf([...eventsOf(b)], b.firstSeq);
  assert.deepEqual(wireOf(b.wire!, b.length), wireOf(fresh.toWire(), fresh.length));
});
