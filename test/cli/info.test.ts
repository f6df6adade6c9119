// info from the checkpoint index (last checkpoint + the events after it) says exactly what a full
// replay says: events by kind, last time, anomalies (one planted before the last checkpoint, so it
// comes back from a snapshot), completeness, on SQLite and Arrow.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { defaultIndexPath, loadIndex } from '../../src/replay/checkpoints.js';
import { Seeker } from '../../src/replay/seek.js';
import { StateFold } from '../../src/replay/state.js';
import { KIND_BY_CODE } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The reference: every event folded from seq 0 with the op index, as info did before the index. */
async function fullReplay(path: string) {
  const r = await openTrace(path);
  const fold = new StateFold({ opIndex: true });
  for await (const b of r.batches()) fold.foldBatch(b);
  r.close();
  fold.finalize();
  const kinds: Record<string, number> = {};
  let events = 0;
  fold.counters.byKind.forEach((n, k) => {
    if (n) {
      kinds[KIND_BY_CODE[k]!] = n;
      events += n;
    }
  });
  return { events, last_time: fold.lastTime, kinds, anomalies: JSON.parse(JSON.stringify(fold.anomalies.data())), complete: r.complete };
}

test('info from the checkpoint index equals a full replay (counts, last time, anomalies, completeness) on SQLite and Arrow', async () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '--workload', 'mix', '--accesses', '400', '--seed', '11', '-o', sq, '--arrow', ar, '-q', '--no-index').code, 0);
  // A copy with one hpte_write's old_v altered early on: a before-value anomaly (error) the replay detects.
  const bad = join(d, 'bad.sqlite');
  copyFileSync(sq, bad);
  const db = new Database(bad);
  const seq = db.prepare("SELECT min(seq) FROM ev_hpte_write WHERE seq > 3000 AND old_v != 0").pluck().get() as number;
  db.prepare('UPDATE events SET w1 = (w1 | 4) - (w1 & 4) WHERE seq = ?').run(seq);
  db.close();
  for (const p of [sq, ar, bad]) {
    // Checkpoints every 1000 events: info restores the last one (after seq 16999) and folds the rest.
    const s = await Seeker.open(p, { interval: 1000, fullEvery: 4 });
    s.close();
    const r = hv('info', p, '--json');
    const info = JSON.parse(r.out);
    const ref = await fullReplay(p);
    assert.equal(loadIndex(defaultIndexPath(p), p, p.endsWith('.arrow') ? 'arrow' : 'sqlite')!.header.interval, 1000, 'the index info read is the one built here');
    assert.ok(ref.events > 16000, `${ref.events} events: several checkpoints`);
    assert.deepEqual({ events: info.events, last_time: info.last_time, kinds: info.kinds, anomalies: info.anomalies, complete: info.complete },
      { ...ref, complete: true }, p);
    if (p === bad) {
      assert.equal(r.code, 6, 'an error-level anomaly: exit 6');
      assert.ok(info.anomalies.some((a: { first_seq: number; severity: string }) => a.first_seq === seq && a.severity === 'error'), `the anomaly at seq ${seq}`);
    } else assert.equal(r.code, 0, r.err);
  }
});
