// hvtrace events and state as a user meets them (built CLI): tables of any size through RowWriter,
// the default table's counted limit, the formats (`--json` stays NDJSON), and one print rule for a
// field in events, query and state.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const TV11 = join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json');

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function record(dir: string, ...args: string[]): { sq: string; ar: string } {
  const sq = join(dir, 't.sqlite');
  const ar = join(dir, 't.arrow');
  const r = hv('record', ...args, '-o', sq, '--arrow', ar, '-q', '--no-index');
  assert.equal(r.code, 0, r.err);
  return { sq, ar };
}

const lines = (s: string) => s.split('\n').filter(Boolean);

test('events: a table of 130,000 events and more works; the default table counts what it leaves out; formats', () => {
  const d = tmpDir();
  const { sq, ar } = record(d, '--synthetic', '140000');
  const total = Number(JSON.parse(hv('query', sq, 'SELECT count(*) AS n FROM events', '--json').out)[0].n);
  const big = hv('events', sq, '-n', '130000');
  assert.equal(big.code, 0, big.err);
  assert.equal(lines(big.out).length, 130000 + 2);
  for (const t of [sq, ar]) {
    const def = lines(hv('events', t).out);
    assert.equal(def.length, 2 + 1000 + 1, t);
    assert.match(def.at(-1)!, new RegExp(`^… ${total - 1000} more rows not shown`), t);
    const nw = Number(JSON.parse(hv('query', sq, "SELECT count(*) AS n FROM events WHERE kind = (SELECT code FROM kinds WHERE name = 'hpte_write')", '--json').out)[0].n);
    const kd = lines(hv('events', t, '-k', 'hpte_write').out);
    assert.match(kd.at(-1)!, new RegExp(`^… ${nw - 1000} more rows not shown`), `${t}: -k counts only that kind`);
  }
  const nd = lines(hv('events', sq, '-n', '5', '--json').out).map((l) => JSON.parse(l));
  assert.equal(nd.length, 5, '--json is NDJSON, as before');
  assert.deepEqual(JSON.parse(hv('events', ar, '-n', '5', '--format', 'json').out), nd, '--format json: the same objects in one array');
  assert.deepEqual(lines(hv('events', sq, '-n', '5', '--ndjson').out).map((l) => JSON.parse(l)), nd);
  const csv = lines(hv('events', sq, '-n', '5', '--csv').out);
  assert.equal(csv[0], 'seq,time,kind,lpid,vcpu,core,cause,fields');
  assert.equal(csv.length, 6);
});

test('one print rule: gfn and HPTE index decimal (-1 = none), pfn and words 0x…, the same in events, query and state', () => {
  const d = tmpDir();
  const { sq, ar } = record(d, '--scenario', TV11);
  for (const t of [sq, ar]) {
    const ev = JSON.parse(hv('events', t, '-k', 'fault_triage', '--json').out);
    const q = JSON.parse(hv('query', t, 'SELECT gfn, hpte_index, ea, status FROM faults', '--json', '-q').out)[0];
    assert.deepEqual([ev.gfn, ev.hpte_index, ev.ea, ev.status], [-1, -1, '0x10006000', '0x40000000']);
    assert.deepEqual([q.gfn, q.hpte_index, q.ea, q.status], [ev.gfn, ev.hpte_index, ev.ea, ev.status]);
    const table = hv('events', t, '-k', 'fault_triage').out;
    assert.match(table, / ea=0x10006000 .* hpte_index=-1 .* gfn=-1 /);

    const hp = JSON.parse(hv('events', t, '-k', 'host_page', '--json').out);
    const qp = JSON.parse(hv('query', t, 'SELECT pfn, hva FROM host_pages', '--json', '-q').out)[0];
    // gpa 0x1234000 is gfn 0x1234 (4K pages), backed by the host page the scenario maps at hva 0x3fff81234000.
    const st = JSON.parse(hv('state', t, '--gfn', '0x1234', '--json').out);
    assert.equal(hp.pfn, '0x69ab');
    assert.deepEqual([qp.pfn, qp.hva], [hp.pfn, hp.hva]);
    assert.deepEqual([st.host_page.pfn, st.host_page.hva, st.gfn], [hp.pfn, hp.hva, 0x1234]);
    assert.equal(st.memslot.flags, '0x0', 'memslot flags is a hex field');
    const hs = JSON.parse(hv('state', t, '--hpte', '0x1a298', '--json').out);
    const qh = JSON.parse(hv('query', t, 'SELECT hpte_index, new_v, new_r, guest_r FROM hpte_updates WHERE hpte_index = 0x1a298 ORDER BY seq DESC LIMIT 1', '--json', '-q').out)[0];
    assert.deepEqual([hs.index, hs.v, hs.r, hs.guest_r], [qh.hpte_index, qh.new_v, qh.new_r, qh.guest_r]);
    const stTable = hv('state', t, '--gfn', '0x1234').out;
    assert.match(stTable, /\b4660\b.*0x3fff81234000.*0x69ab/, 'state table: gfn decimal, hva and pfn 0x…');
  }
});
