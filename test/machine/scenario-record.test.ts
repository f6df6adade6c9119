// Scenario → machine → trace → replay fold, end to end, with expected values derived from the
// kernel-model rules (TV11: kernel-model §K).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseScenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { readAll, tmpDir } from '../helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

// TV11 without guest memory accesses: host page, H_ENTER, H_READ, then an H_REMOVE and an
// unhandled hcall (H_CEDE is not a real-mode handler in K34: full exit, VMM answers H_FUNCTION).
const tv11 = {
  seed: 3,
  machine: {
    profile: 'power7', kernel: '3.4', host_page_shift: 12, hpt_order: 24, vcpus: 1,
    memslots: [{ slot: 0, base_gfn: 0, npages: 8192, userspace_addr: '0x3fff80000000', populate: false }],
  },
  ops: [
    { op: 'host_map', hva: '0x3fff81234000' },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x1a298', '0x123456001', '0x1234192'], expect: { ret: 'H_SUCCESS', out: ['0x1a298'] } },
    { op: 'hcall', nr: 'H_READ', args: ['0', '0x1a298'], expect: { ret: 'H_SUCCESS', out: ['0x123456001', '0x1234192'] } },
    { op: 'hcall', nr: 'H_CEDE', expect: { ret: 'H_FUNCTION' } },
  ],
};

test('TV11 scenario: H_ENTER result, guest view, rmap chain; state rebuilt from the trace', async () => {
  const dir = tmpDir();
  const sq = join(dir, 'tv11.sqlite');
  const ar = join(dir, 'tv11.arrow');
  const s = parseScenario(tv11);
  const rec = new Recorder([new SqliteSink(sq), new ArrowStreamSink(ar)], runInfo('power7', s.seed, { scenario: scenarioToJson(s) }));
  const res = recordScenarioRun(s, rec, { check: true });
  assert.deepEqual(res.failures, []);
  assert.equal(res.violation, null);
  const kvm = res.runner.machine.kvm;
  // The host pfn is chosen by the seeded allocator; derive the expected hardware dword 1 from it:
  // ptel = (0x1234192 & ~(PP0 - 0x1000)) | pfn << 12, then the R/C filter keeps R (rmap REFERENCED
  // set by the chain link) and strips C (CHANGED not set): low bits 0x192 & ~0x80 = 0x112.
  const pfn = res.runner.machine.mm.pfnOf(0x3fff81234000);
  const want_r = BigInt(pfn) * 0x1000n + 0x112n;
  assert.equal(kvm.mmu.hpteBig(0x1a298)[1], want_r);
  for (const p of [sq, ar]) {
    const st = JSON.parse(hv('state', p, '--at', 'end', '--hpte', String(0x1a298), '--json').stdout);
    assert.deepEqual(st, { index: 0x1a298, v: '0x123456001', r: `0x${want_r.toString(16)}`, guest_r: '0x1234192' });
    const rm = JSON.parse(hv('state', p, '--rmap', String(0x1234), '--json').stdout);
    // At first KVM_RUN, kvmppc_map_vrma H_ENTERs VRMA page i = 0x1234 (4K host pages) at
    // PTEG = mask - i = 0x1ffff - 0x1234 = 0x1edcb, slot 7: index 0x1edcb * 8 + 7 = 0xf6e5f. Its host
    // page is present, so it is VALID and heads the chain; TV11's entry is linked behind it.
    // rmap = head | REFERENCED (1<<40) | PRESENT (1<<32) = 0x101000f6e5f; chain {0xf6e5f, 0x1a298}.
    assert.equal(rm.rmap, '0x101000f6e5f');
    assert.deepEqual(rm.chain, [0xf6e5f, 0x1a298]);
  }
  // Real-mode hcalls switch no partition; H_CEDE's full exit does (entry once, exit once).
  const { events } = await readAll(sq);
  const switches = events.filter((e) => e.kind === 'partition_switch');
  assert.deepEqual(switches.map((e) => fieldNum(e, 'direction')), [0 /* entry */, 1 /* exit */]);
  const exit = events.find((e) => e.kind === 'guest_exit')!;
  assert.equal(field(exit, 'trap'), 0xc00n);
  const ceded = events.filter((e) => e.kind === 'hcall_enter' && field(e, 'nr') === 0xe0n);
  assert.equal(exit.cause, ceded[0].seq, 'the exit is caused by the H_CEDE');
});

test('record --scenario: expectation failures and invalid files exit non-zero with one line each', () => {
  const dir = tmpDir();
  const bad = structuredClone(tv11);
  (bad.ops[1] as { expect: { ret: string } }).expect.ret = 'H_PTEG_FULL';
  const f = join(dir, 'bad.json');
  writeFileSync(f, JSON.stringify(bad));
  const r = hv('record', '-s', f, '-o', join(dir, 'b.sqlite'), '-q');
  assert.equal(r.status, 5);
  assert.match(r.stderr, /^hvtrace: ops\[1\]: expectation failed: H_ENTER: expected H_PTEG_FULL, got H_SUCCESS\n$/);
  const inv = join(dir, 'inv.json');
  writeFileSync(inv, JSON.stringify({ ...tv11, machine: { ...tv11.machine, hpt_order: 17 } }));
  const r2 = hv('record', '-s', inv, '-o', join(dir, 'c.sqlite'));
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /^hvtrace: .*inv\.json: machine\.hpt_order: .*\n$/);
  assert.throws(() => readFileSync(join(dir, 'c.sqlite')), /ENOENT/, 'nothing written for an invalid scenario');
});

test('the same scenario recorded twice gives byte-identical Arrow files', () => {
  const dir = tmpDir();
  const f = join(dir, 's.json');
  writeFileSync(f, JSON.stringify(tv11));
  assert.equal(hv('record', '-s', f, '--arrow', join(dir, 'a.arrow'), '-q').status, 0);
  assert.equal(hv('record', '-s', f, '--arrow', join(dir, 'b.arrow'), '-q').status, 0);
  assert.ok(readFileSync(join(dir, 'a.arrow')).equals(readFileSync(join(dir, 'b.arrow'))));
});
