import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario } from '../src/guest/scenario.js';

const base = {
  machine: { profile: 'power7', hpt_order: 18, memslots: [{ slot: 0, base_gfn: 0, npages: 1024, userspace_addr: '0x3fff80000000' }] },
  ops: [
    { op: 'slbmte', slot: 0, esid: '0x0000000008000000', vsid: '0x123456000' },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x1a298', '0x123456001', '0x1234192'], expect: { ret: 'H_SUCCESS' } },
    { op: 'store', ea: '0x10005000' },
  ],
};

test('a valid scenario parses with defaults and exact 64-bit values', () => {
  const s = parseScenario(base);
  assert.equal(s.seed, 1);
  assert.equal(s.machine.kernel, '3.4');
  assert.equal(s.machine.host_page_shift, 12);
  assert.equal(s.machine.memslots[0].userspace_addr, 0x3fff80000000n);
  const h = s.ops[1];
  assert.equal(h.op, 'hcall');
  if (h.op === 'hcall') assert.deepEqual(h.args, [0n, 0x1a298n, 0x123456001n, 0x1234192n]);
  const st = s.ops[2];
  if (st.op === 'store') assert.deepEqual(st.msr, { ir: true, dr: true, pr: false });
});

test('invalid scenarios are rejected with the JSON path of the bad field', () => {
  const bad = (mut: (s: any) => void) => {
    const s = structuredClone(base);
    mut(s);
    return () => parseScenario(s, 'x.json');
  };
  assert.throws(bad((s) => (s.ops[1].args[2] = '0x1ffffffffffffffff')), /^UserError: x\.json: ops\[1\]\.args\[2\]: expected a 64-bit value/);
  assert.throws(bad((s) => (s.machine.hpt_order = 12)), /x\.json: machine\.hpt_order: /);
  assert.throws(bad((s) => (s.ops[0].op = 'slbmtx')), /x\.json: ops\[0\]\.op: /);
  assert.throws(bad((s) => (s.ops[2].bogus = 1)), /x\.json: ops\[2\]: .*bogus/);
  assert.throws(bad((s) => (s.machine.memslots = [])), /x\.json: machine\.memslots: /);
  assert.throws(bad((s) => (s.ops[1].nr = 'H_NOPE')), /x\.json: ops\[1\]\.nr: /);
});

test('sample scenarios in traces/ validate', async () => {
  const { loadScenario } = await import('../src/guest/scenario.js');
  const { readdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const dir = join(import.meta.dirname, '../traces');
  const files = readdirSync(dir).filter((f) => f.endsWith('.scenario.json'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const s = loadScenario(join(dir, f));
    assert.ok(s.ops.length > 0, f);
  }
});
