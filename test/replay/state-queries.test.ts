// state --ea and --gfn on the TV11 sample, with expected values from kernel-model §K (TV1, TV2,
// TV11) and the VRMA formula (§A.5), not from the program's output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { readAll, tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

test('state --ea walks SLB → VA → hash → PTEG → HPTE as TV1/TV2 say; --gfn lists the chain', () => {
  const dir = tmpDir();
  const t = join(dir, 'tv11.arrow');
  assert.equal(hv('record', '-s', join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json'), '--arrow', t, '-q').status, 0);
  const ea = JSON.parse(hv('state', t, '--ea', '0x10005000', '--vcpu', '0', '--json').stdout);
  // TV1: VSID 0x123456, EA 0x10005000: hash = 0x123456 ^ 0x5 = 0x123453, PTEG 0x3453, secondary
  // 0x3453 ^ 0x1ffff = 0x1cbac. TV2: VA = VSID << 28 | 0x0005000 = 0x1234560005000.
  assert.equal(ea.va, '0x1234560005000');
  assert.equal(ea.hash, '0x123453');
  assert.equal(ea.pteg_primary, 0x3453);
  assert.equal(ea.pteg_secondary, 0x1cbac);
  // TV11 put the entry at index 0x1a298 = 0x3453 * 8 + 0 with v = 0x123456001, guest RPN 0x1234.
  assert.equal(ea.hpte.index, 0x1a298);
  assert.equal(ea.hpte.v, '0x123456001');
  assert.equal(ea.guest_physical, '0x1234000');
  assert.equal(ea.result, 'translated');
  const miss = JSON.parse(hv('state', t, '--ea', '0x10006000', '--vcpu', '0', '--json').stdout);
  assert.equal(miss.hpte, null);
  const g = JSON.parse(hv('state', t, '--gfn', '0x1234', '--json').stdout);
  // hva = userspace_addr + gfn << 12 = 0x3fff80000000 + 0x1234000; the VRMA entry for page 0x1234
  // (index (0x1ffff - 0x1234) * 8 + 7 = 0xf6e5f) heads the chain, TV11's entry follows.
  assert.equal(g.hva, '0x3fff81234000');
  assert.equal(g.host_page.state, 'present');
  assert.deepEqual(g.rmap.chain, [0xf6e5f, 0x1a298]);
  assert.deepEqual(g.hptes.map((h: { index: number }) => h.index).sort((a: number, b: number) => a - b), [0x1a298, 0xf6e5f]);
});

test('state --at time:T is the state after the last event at or before T', async () => {
  const dir = tmpDir();
  const t = join(dir, 'tv11.sqlite');
  assert.equal(hv('record', '-s', join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json'), '-o', t, '-q').status, 0);
  const { events } = await readAll(t);
  const lastAtOrBefore = (T: number) => events.filter((e) => e.time <= T).at(-1)!.seq;
  const times = [...new Set(events.map((e) => e.time))];
  assert.ok(times.length >= 4, 'the sample spans several timestamps');
  // Each distinct time (many events share one), the tick before it, and far past the end.
  const targets = [...times.slice(1, 4).flatMap((x) => [x - 1, x]), times.at(-1)! + 10 ** 9];
  for (const T of targets) {
    const byTime = hv('state', t, '--at', `time:${T}`, '--summary', '--json');
    assert.equal(byTime.status, 0, byTime.stderr);
    const want = lastAtOrBefore(T);
    const s = JSON.parse(byTime.stdout);
    assert.equal(s.seq, want, `time:${T}`);
    assert.deepEqual(s, JSON.parse(hv('state', t, '--at', String(want), '--summary', '--json').stdout), `time:${T} = seq ${want}`);
  }
  assert.notEqual(hv('state', t, '--at', 'time:soon').status, 0);
});
