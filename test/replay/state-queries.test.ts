// state --ea and --gfn on the TV11 sample, with expected values from kernel-model §K (TV1, TV2,
// TV11) and the VRMA formula (§A.5), not from the program's output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers.js';

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
