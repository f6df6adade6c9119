// Replay handlers: two replays of different traces live side by side in one process (folded
// interleaved, batch by batch, they end exactly as each folded alone); the op index attributes
// every event to the guest operation its cause chain leads to (checked against a naive map).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { summaryOf } from '../../src/analysis/summary.js';
import { topoSort, type ReplayHandler } from '../../src/replay/handlers/handler.js';
import { CAUSE_WINDOW, NO_OP, UNKNOWN_OP } from '../../src/replay/handlers/ops.js';
import { StateFold } from '../../src/replay/state.js';
import type { EventBatch } from '../../src/trace/batch.js';
import { F } from '../../src/trace/fields.js';
import { K } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { tmpDir } from '../helpers.js';
import { foldHash } from './emu-state.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

async function batches(path: string): Promise<EventBatch[]> {
  const r = await openTrace(path);
  const out: EventBatch[] = [];
  // Batches are reused by some readers: keep a copy of each.
  for await (const b of r.batches()) out.push(b.clone());
  r.close();
  return out;
}

test('two replays of different traces, folded interleaved in one process, equal each alone', async () => {
  const dir = tmpDir();
  const a = join(dir, 'p7.arrow');
  const b = join(dir, '970.arrow');
  assert.equal(hv('record', '-w', 'random-ws', '--host-mb', '96', '--pressure', '0.8', '--accesses', '3000', '--arrow', a, '-q', '--no-index').status, 0);
  assert.equal(hv('record', '-w', 'mix', '--profile', 'ppc970', '--accesses', '3000', '--arrow', b, '-q', '--no-index').status, 0);
  const alone = async (p: string) => {
    const f = new StateFold();
    for (const x of await batches(p)) f.foldBatch(x);
    return f;
  };
  const [fa, fb] = [await alone(a), await alone(b)];
  const ba = await batches(a);
  const bb = await batches(b);
  const ia = new StateFold();
  const ib = new StateFold();
  for (let k = 0; k < Math.max(ba.length, bb.length); k++) {
    if (k < ba.length) ia.foldBatch(ba[k]);
    if (k < bb.length) ib.foldBatch(bb[k]);
  }
  assert.notEqual(foldHash(fa), foldHash(fb), 'the two traces differ');
  assert.equal(foldHash(ia), foldHash(fa));
  assert.equal(foldHash(ib), foldHash(fb));
  assert.deepEqual(summaryOf(ia, 'a', 1), summaryOf(fa, 'a', 1));
  assert.deepEqual(summaryOf(ib, 'b', 1), summaryOf(fb, 'b', 1));
  // Reset brings a replay back to the empty state.
  ia.reset();
  assert.equal(foldHash(ia), foldHash(new StateFold()));
});

test('op index: every event serves the guest op its cause chain leads to', async () => {
  const t = join(tmpDir(), 'ops.arrow');
  assert.equal(hv('record', '-w', 'mix', '--accesses', '2000', '--arrow', t, '-q', '--no-index').status, 0);
  const f = new StateFold({ opIndex: true });
  const naive: number[] = [];
  let ops = 0;
  for (const b of await batches(t)) {
    for (let i = 0; i < b.length; i++) {
      const c = b.cause[i];
      if (b.kind[i] === K.guest_op) (naive.push(b.num(i, F.guest_op.op_id)), ops++);
      else naive.push(c < 0 ? NO_OP : naive[c]);
    }
    f.foldBatch(b);
  }
  assert.ok(ops > 1000);
  const served = naive.filter((o) => o !== NO_OP).length;
  assert.ok(served > naive.length / 2, 'most events serve some op');
  const idx = f.h.ops;
  for (let s = 0; s < naive.length; s++) if (idx.opOf(s) !== naive[s]) assert.fail(`seq ${s}: op ${idx.opOf(s)}, expected ${naive[s]}`);
  assert.ok(idx.data().runs < naive.length / 4, 'runs, not one entry per event');
  // Without the op index (the default) the rest of the state is the same and no op is claimed.
  const g = new StateFold();
  for (const b of await batches(t)) g.foldBatch(b);
  assert.equal(g.h.ops.opOf(naive.length - 1), UNKNOWN_OP);
  assert.equal(foldHash(g), foldHash(f, true, false));
  assert.notEqual(foldHash(f), foldHash(f, true, false));
});

test('handler order: dependencies first; a cycle or an unknown dependency is refused', () => {
  const h = (name: string, deps: string[]) => ({ name, deps }) as unknown as ReplayHandler;
  assert.deepEqual(topoSort([h('rmap', ['hpt', 'memslots']), h('memslots', ['hpt']), h('hpt', [])]).map((x) => x.name), ['hpt', 'memslots', 'rmap']);
  assert.throws(() => topoSort([h('hpt', ['rmap']), h('rmap', ['hpt'])]), /cycle: hpt → rmap → hpt/);
  assert.throws(() => topoSort([h('hpt', ['nope'])]), /unknown handler nope/);
  const f = new StateFold();
  const names = f.order.map((x) => x.name);
  for (const x of f.order) for (const d of x.deps) assert.ok(names.indexOf(d) < names.indexOf(x.name), `${d} before ${x.name}`);
});

test('op index from a checkpoint: saved at any point, restored, folded on, it attributes as a linear fold', async () => {
  const t = join(tmpDir(), 'ops-restore.arrow');
  assert.equal(hv('record', '-w', 'mix', '--accesses', '3000', '--arrow', t, '-q', '--no-index').status, 0);
  const bs = await batches(t);
  const linear = new StateFold({ opIndex: true });
  for (const b of bs) linear.foldBatch(b);
  const n = linear.lastSeq + 1;
  assert.ok(n > 4 * CAUSE_WINDOW, `trace long enough (${n} events)`);
  for (const cut of [1, 5000, Math.floor(n / 2), n - 2]) {
    const a = new StateFold({ opIndex: true });
    const rest = new StateFold({ opIndex: true });
    let restored = false;
    for (const b of bs) {
      if (restored) rest.foldBatch(b);
      else if (!a.foldBatch(b, cut - 1)) {
        // The checkpoint (through JSON, as the index stores it), then the rest of this batch.
        rest.h.ops.restore(JSON.parse(JSON.stringify(a.h.ops.save())));
        rest.foldRange(b, cut - b.firstSeq, b.length);
        restored = true;
      }
    }
    assert.ok(restored, `cut ${cut}`);
    for (let q = cut; q < n; q++) if (rest.h.ops.opOf(q) !== linear.h.ops.opOf(q)) assert.fail(`cut ${cut}, seq ${q}: ${rest.h.ops.opOf(q)} != ${linear.h.ops.opOf(q)}`);
    // History older than the checkpoint's window is not claimed.
    if (cut > 2 * CAUSE_WINDOW) assert.equal(rest.h.ops.opOf(0), UNKNOWN_OP);
  }
});
