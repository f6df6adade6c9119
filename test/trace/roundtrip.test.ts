import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { batchOf, type TraceEvent } from '../../src/trace/event.js';
import { K, KINDS, KIND_NAMES, type EventKind } from '../../src/trace/kinds.js';
import { Prng } from '../../src/base/prng.js';
import { Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { readAll, tmpDir } from '../helpers.js';

// Values at the edges of the 64-bit range: SQLite must keep the signed bit pattern, Arrow the
// unsigned word, JSON the hex string, with no rounding above 2^53.
const EDGE = [0n, 1n, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n,
  2n ** 64n - 2n, 2n ** 64n - 1n, 0x4001ffffff000000n, 0x8000000000000000n | 0x7e5a1192n];

function randomEvents(n: number, seed: number): TraceEvent[] {
  const rng = new Prng(seed);
  const out: TraceEvent[] = [];
  let t = 0;
  for (let seq = 0; seq < n; seq++) {
    const kind = KIND_NAMES[rng.below(KIND_NAMES.length)] as EventKind;
    const nf = KINDS[kind].fields.length;
    const words: bigint[] = [];
    for (let j = 0; j < nf; j++) {
      const r = rng.below(4);
      words.push(r === 0 ? 0n : r === 1 ? EDGE[rng.below(EDGE.length)] : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
    }
    t += rng.below(1000);
    out.push({ seq, time: seq === n - 1 ? 2 ** 53 - 1 : t, kind, lpid: rng.below(3) - 1, vcpu: rng.below(70) - 1,
      core: rng.below(5) - 1, cause: seq > 0 && rng.chance(0.7) ? rng.below(seq) : null, words });
  }
  return out;
}

/** Write events through a sink exactly as the recorder would (batches of `batch`). */
function writeThrough(sink: EventSink, events: TraceEvent[], batch: number): void {
  sink.open(runInfo('synthetic', 7, { test: 'roundtrip' }));
  for (let i = 0; i < events.length; i += batch) sink.writeBatch(batchOf(events.slice(i, i + batch), i));
  sink.close(true, events.length);
}

const events = randomEvents(5000, 42);

for (const [name, make] of [
  ['sqlite', (p: string) => new SqliteSink(p)],
  ['arrow', (p: string) => new ArrowStreamSink(p)],
  ['arrow+zstd', (p: string) => new ArrowStreamSink(p, { compress: 'zstd' })],
] as const) {
  test(`${name}: events read back identical, including 64-bit edge values`, async () => {
    const path = join(tmpDir(), `t.${name === 'sqlite' ? 'sqlite' : 'arrow'}`);
    writeThrough(make(path), events, 777);
    const back = await readAll(path);
    assert.equal(back.events.length, events.length);
    assert.deepEqual(back.events, events);
    assert.equal(back.truncation, undefined);
  });
}

test('recorder frames a run with run_start (seq 0) and run_end, in both formats', async () => {
  const dir = tmpDir();
  const sq = join(dir, 'r.sqlite');
  const ar = join(dir, 'r.arrow');
  const rec = new Recorder([new SqliteSink(sq), new ArrowStreamSink(ar)], runInfo('synthetic', 99, {}), 4);
  rec.now = 5;
  for (let i = 0; i < 10; i++) {
    rec.emit(K.tlbie, 1, 0, 0, i === 0 ? -1 : i).rb(0xffffffff, 0xfffff000).scope(1).sets(0);
  }
  rec.close(true);
  for (const p of [sq, ar]) {
    const { events: ev, complete } = await readAll(p);
    assert.equal(complete, true);
    assert.equal(ev.length, 12);
    assert.equal(ev[0].kind, 'run_start');
    assert.deepEqual(ev[0].words, [99n]);
    assert.equal(ev[11].kind, 'run_end');
    assert.deepEqual(ev[11].words, [11n]);
    // trailing zero word (sets = 0) is trimmed on disk and restored as 0n
    assert.deepEqual(ev[1].words, [0xfffffffffffff000n, 1n, 0n]);
    assert.equal(ev[1].cause, null);
    assert.equal(ev[2].cause, 1);
  }
});
