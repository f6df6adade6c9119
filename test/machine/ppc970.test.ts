// The TV11 H_ENTER on PPC970 (kernel-model §C.4, D.3 step 5, G.2, G.5): real mode finds no pinned
// page (H_TOO_HARD), the vcpu exits fully, virtual mode pins the page and completes the H_ENTER.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseScenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { join } from 'node:path';
import { readAll, tmpDir } from '../helpers.js';
import { field, fieldNum } from '../../src/trace/event.js';

test('ppc970: H_ENTER pins through virtual mode; every switch flushes the whole untagged TLB; no ABSENT', async () => {
  const s = parseScenario({
    seed: 2,
    machine: { profile: 'ppc970', hpt_order: 24, host_memory_mb: 512, memslots: [{ slot: 0, base_gfn: 0, npages: 65536, userspace_addr: '0x3fff80000000', populate: false }] },
    ops: [
      // gpa 0x5234000 lies above the 64 MiB RMA: not pinned yet.
      { op: 'host_map', hva: '0x3fff85234000' },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x1a298', '0x123456001', '0x5234192'], expect: { ret: 'H_SUCCESS', out: ['0x1a298'] } },
      // gpa 0x1234000 lies in the RMA, whose slot_phys entries were filled at first run: real mode.
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x2000', '0x222222001', '0x1234192'], expect: { ret: 'H_SUCCESS', out: ['0x2000'] } },
      { op: 'notifier', callback: 'invalidate_page', hva: '0x3fff85234000' },
      { op: 'hcall', nr: 'H_READ', args: ['0', '0x1a298'], expect: { ret: 'H_SUCCESS', out: ['0x123456001', '0x5234192'] } },
    ],
  });
  const p = join(tmpDir(), 't.sqlite');
  const rec = new Recorder([new SqliteSink(p)], runInfo('ppc970', s.seed, { scenario: scenarioToJson(s) }));
  const res = recordScenarioRun(s, rec, { check: true });
  assert.deepEqual(res.failures, []);
  assert.equal(res.violation, null);
  const { events } = await readAll(p);
  const exits = events.filter((e) => e.kind === 'hcall_exit');
  // First H_ENTER completed in virtual mode (path 1); the RMA H_ENTER and H_READ in real mode (0).
  assert.deepEqual(exits.map((e) => fieldNum(e, 'path')), [1, 0, 0]);
  const enter = events.find((e) => e.kind === 'hcall_enter')!;
  assert.equal(exits[0].cause, enter.seq);
  assert.ok(events.some((e) => e.kind === 'host_page' && fieldNum(e, 'op') === 4 /* pin */ && e.cause === enter.seq));
  // The notifier is recorded as a no-op on pinned memory.
  const n = events.find((e) => e.kind === 'notifier')!;
  assert.equal(fieldNum(n, 'effect'), 5 /* noop_pinned */);
  // Each switch (entry, exit) flushes all 256 sets: scope all_sets (3).
  const switches = events.filter((e) => e.kind === 'partition_switch');
  const flushes = events.filter((e) => e.kind === 'tlbie' && fieldNum(e, 'scope') === 3);
  assert.equal(flushes.length, switches.length);
  assert.ok(flushes.every((f) => fieldNum(f, 'sets') === 256));
  // 6-bit LPID, and never an ABSENT HPTE.
  assert.ok(events.every((e) => e.lpid <= 62));
  assert.ok(events.filter((e) => e.kind === 'hpte_write').every((e) => (field(e, 'new_v') & 0x20n) === 0n));
});
