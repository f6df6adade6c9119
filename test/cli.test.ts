// The CLI as a user meets it: built binary, exit codes, one-line errors, JSON conventions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256, tmpDir } from './helpers.js';

const BIN = join(import.meta.dirname, '../bin/hvtrace.js');
function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('--version and --help', () => {
  assert.match(hv('--version').out, /^\d+\.\d+\.\d+\n$/);
  const h = hv('--help');
  assert.equal(h.code, 0);
  for (const c of ['record', 'info', 'events', 'query', 'convert', 'schema']) assert.match(h.out, new RegExp(`\\b${c}\\b`));
  assert.equal(hv('query', '--help').code, 0);
});

test('record → info/query/events/convert round trip with 0x… words in JSON', () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '--synthetic', '3000', '-o', sq, '--arrow', ar, '-q').code, 0);
  const info = JSON.parse(hv('info', ar, '--json').out);
  assert.equal(info.complete, true);
  assert.equal(info.schema_version, 1);
  const q = hv('query', sq, "SELECT name, ret_name, r6 FROM hcalls WHERE name = 'H_ENTER' LIMIT 2", '--json');
  assert.equal(q.code, 0, q.err);
  const rows = JSON.parse(q.out);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].ret_name, 'H_SUCCESS');
  assert.match(rows[0].r6, /^0x[0-9a-f]+$/);
  const ev = hv('events', sq, '-k', 'hpte_write', '-n', '1', '--json').out.trim().split('\n');
  assert.equal(ev.length, 1);
  assert.match(JSON.parse(ev[0]).new_v, /^0x[0-9a-f]+$/);
  const back = join(d, 'back.sqlite');
  const conv = hv('convert', ar, '-o', back);
  assert.equal(conv.code, 0);
  assert.match(conv.err, /^converted 3\d{3} events to /);
  const quiet = hv('convert', sq, '-o', join(d, 'back.arrow'), '-q');
  assert.equal(quiet.code, 0);
  assert.equal(quiet.err, '', '-q: nothing on stderr (and no bar off a TTY anyway)');
  assert.equal(hv('query', back, 'SELECT count(*) AS n FROM events', '--json').out, hv('query', sq, 'SELECT count(*) AS n FROM events', '--json').out);
});

test('bad input: one line on stderr, non-zero exit, no stack, recorded files untouched', () => {
  const d = tmpDir();
  const junk = join(d, 'junk.sqlite');
  writeFileSync(junk, 'definitely not a trace, just some bytes');
  const sq = join(d, 'keep.sqlite');
  assert.equal(hv('record', '--synthetic', '100', '-o', sq, '-q').code, 0);
  const before = sha256(sq);
  const cases = [
    hv('info', junk),
    hv('info', join(d, 'missing.sqlite')),
    hv('info', '--bogus'),
    hv('frobnicate'),
    hv('record', '--synthetic', '10', '-o', sq),
    hv('record', '--synthetic', 'many', '-o', join(d, 'x.sqlite')),
    hv('query', sq, 'DELETE FROM events'),
    hv('query', sq, 'SELEC nonsense'),
    hv('events', sq, '-k', 'no_such_kind'),
    hv('record', '--workload', 'stream', '--profile', 'ppc970', '--kernel', '3.3', '-o', join(d, 'never.sqlite')),
    hv('record', '--workload', 'nope', '-o', join(d, 'never2.sqlite')),
  ];
  for (const c of cases) {
    assert.notEqual(c.code, 0, c.err);
    assert.equal(c.err.trim().split('\n').length, 1, `one line: ${c.err}`);
    assert.match(c.err, /^hvtrace: /);
    assert.doesNotMatch(c.err, /\n\s+at /);
  }
  assert.equal(sha256(sq), before);
  assert.throws(() => sha256(join(d, 'never.sqlite')), /ENOENT/, 'a run refused for bad input leaves no file');
});

test('--force replaces an existing trace (and its index) instead of writing into it; without it the old trace is kept', () => {
  const d = tmpDir();
  const sq = join(d, 'run.sqlite');
  const ar = join(d, 'run.arrow');
  const scenario = join(import.meta.dirname, '../traces/tv11-h-enter.scenario.json');
  const other = join(import.meta.dirname, '../traces/mmio-roundtrip.scenario.json');
  assert.equal(hv('record', '--scenario', other, '-o', sq, '--arrow', ar, '-q').code, 0);
  assert.ok(existsSync(`${sq}.hvidx`));
  const before = [sha256(sq), sha256(ar)];
  const refused = hv('record', '--scenario', scenario, '-o', sq, '-q');
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /exists; refusing to overwrite a recorded trace \(use --force\)/);
  assert.deepEqual([sha256(sq), sha256(ar)], before, 'refused: the old trace is untouched');

  // Caches beside the old traces (derived tables, the Arrow trace's query copy) go with them.
  assert.equal(hv('faults', sq, '-q', '--csv').code, 0);
  assert.equal(hv('query', ar, 'SELECT 1', '-q', '--csv').code, 0);
  assert.ok(existsSync(`${sq}.hvd`) && existsSync(`${ar}.hvq`));
  // Overwrite with a different run: the result is that run alone, complete, as if freshly recorded.
  const r = hv('record', '--scenario', scenario, '-o', sq, '--arrow', ar, '-q', '--force');
  assert.equal(r.code, 0, r.err);
  assert.ok(!existsSync(`${sq}.hvd`) && !existsSync(`${ar}.hvq`), '--force removes the old caches');
  const fresh = join(d, 'fresh.sqlite');
  assert.equal(hv('record', '--scenario', scenario, '-o', fresh, '-q').code, 0);
  const count = (p: string) => hv('query', p, 'SELECT count(*) AS n, max(seq) AS last FROM events', '--json').out;
  assert.equal(count(sq), count(fresh));
  for (const p of [sq, ar]) {
    const info = JSON.parse(hv('info', p, '--json').out);
    assert.equal(info.complete, true, p);
    assert.equal(info.profile, 'power7');
  }
  assert.equal(hv('state', sq, '--at', 'end', '--summary', '--json').code, 0, 'the index was rebuilt for the new trace');

  // convert onto its own input is refused even with --force, and the input survives.
  const keep = sha256(sq);
  const self = hv('convert', sq, '-o', sq, '--force');
  assert.notEqual(self.code, 0);
  assert.match(self.err, /is the input trace/);
  assert.equal(sha256(sq), keep);
  // demo --force twice (what `npm run demo` does on a second run).
  const dd = join(d, 'demo');
  for (let i = 0; i < 2; i++) {
    const dm = hv('demo', dd, '--accesses', '1500', '--force', '--quiet', '--json');
    assert.equal(dm.code, 0, dm.err);
  }
});

test('query: a missing gfn (-1) in the faults view prints as -1, a 64-bit word as 0x… (gfn has one type in every kind)', () => {
  const d = tmpDir();
  const sq = join(d, 'tv11.sqlite');
  assert.equal(hv('record', '--scenario', join(import.meta.dirname, '../traces/tv11-h-enter.scenario.json'), '-o', sq, '-q', '--no-index').code, 0);
  const q = hv('query', sq, 'SELECT gfn, ea FROM faults WHERE gfn < 0', '--json');
  assert.equal(q.code, 0, q.err);
  const rows = JSON.parse(q.out) as { gfn: unknown; ea: unknown }[];
  assert.ok(rows.length > 0, 'the scenario has a fault with no guest frame');
  for (const r of rows) {
    assert.equal(r.gfn, -1);
    assert.match(String(r.ea), /^0x[0-9a-f]+$/);
  }
});
