// The checkpoint index is a cache beside the trace: reused when it matches, rebuilt when it is
// missing, stale (trace changed) or corrupt (bad snapshot CRC, truncated), never trusted blindly.
import assert from 'node:assert/strict';
import { openSync, readFileSync, statSync, truncateSync, utimesSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseScenario } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { loadIndex } from '../../src/replay/checkpoints.js';
import { Seeker, stateAt } from '../../src/replay/seek.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { openTrace } from '../../src/trace/reader.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { tmpDir } from '../helpers.js';
import { foldHash } from './emu-state.js';

test('checkpoint index: reused, rebuilt when stale or corrupt, same answers (SQLite and Arrow)', async () => {
  const dir = tmpDir();
  const scenario = parseScenario({
    seed: 3,
    machine: { hpt_order: 18, memslots: [{ slot: 0, base_gfn: 0, npages: 512, userspace_addr: '0x3fff80000000', populate: true }] },
    ops: [{ op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000001', '0x5192'] }, { op: 'notifier', callback: 'invalidate_page', hva: '0x3fff80005000' }],
  }, 'scenario');
  const rec = new Recorder([new SqliteSink(join(dir, 't.sqlite')), new ArrowStreamSink(join(dir, 't.arrow'))], runInfo('power7', 3, {}), 256);
  recordScenarioRun(scenario, rec, {});
  for (const name of ['t.sqlite', 't.arrow']) {
    const path = join(dir, name);
    const r = await openTrace(path);
    const want = foldHash(await stateAt(r, { seq: 900 }));
    r.close();
    const opts = { interval: 64, fullEvery: 4 };
    let s = await Seeker.open(path, opts);
    assert.equal(s.built, true);
    assert.equal(foldHash(await s.seek({ seq: 900 })), want);
    s.close();
    s = await Seeker.open(path, opts);
    assert.equal(s.built, false, 'index reused');
    s.close();
    // Corrupt one byte inside a snapshot: the CRC catches it at seek time and the index is rebuilt.
    const idx = `${path}.hvidx`;
    const fd = openSync(idx, 'r+');
    writeSync(fd, Buffer.from([readFileSync(idx)[10] ^ 0xff]), 0, 1, 10);
    closeSync(fd);
    s = await Seeker.open(path, opts);
    assert.equal(foldHash(await s.seek({ seq: 900 })), want);
    s.close();
    // A truncated index is not loaded.
    truncateSync(idx, statSync(idx).size - 3);
    s = await Seeker.open(path, opts);
    assert.equal(s.built, true);
    s.close();
    // The index is keyed by content, not by mtime: a touched trace keeps its index...
    const t = new Date(Date.now() + 5000);
    utimesSync(path, t, t);
    s = await Seeker.open(path, opts);
    assert.equal(s.built, false, 'mtime alone does not invalidate');
    s.close();
    // ...and a trace whose content changed (one byte, anywhere in this small file) does not.
    const bytes = readFileSync(path);
    const mid = Math.floor(bytes.length / 2);
    const flip = (p: string) => {
      const f = openSync(p, 'r+');
      writeSync(f, Buffer.from([readFileSync(p)[mid] ^ 0x01]), 0, 1, mid);
      closeSync(f);
    };
    flip(path);
    assert.equal(loadIndex(idx, path, name.endsWith('.arrow') ? 'arrow' : 'sqlite'), null, 'one byte changed: stale');
    flip(path);
    assert.notEqual(loadIndex(idx, path, name.endsWith('.arrow') ? 'arrow' : 'sqlite'), null, 'restored: valid again');
  }
});
