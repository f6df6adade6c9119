// replay --verify / --reexec on a recorded scenario, and on a copy with one event altered.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

const scenario = {
  seed: 9,
  machine: { hpt_order: 18, memslots: [{ slot: 0, base_gfn: 0, npages: 1024, userspace_addr: '0x3fff80000000', populate: true }] },
  ops: [
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000001', '0x5192'] },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000081', '0x6192'] },
    { op: 'hcall', nr: 'H_PROTECT', args: ['0x80000003', '0x100', '0x4000000'] },
    { op: 'notifier', callback: 'invalidate_page', hva: '0x3fff80005000' },
    { op: 'hcall', nr: 'H_REMOVE', args: ['0', '0x101'] },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x200', '0x8000001', '0x7192'] },
  ],
};

test('replay --verify and --reexec: identical on the recorded trace; altered copy diverges at the altered event', () => {
  const dir = tmpDir();
  const f = join(dir, 's.json');
  writeFileSync(f, JSON.stringify(scenario));
  const sq = join(dir, 't.sqlite');
  const ar = join(dir, 't.arrow');
  const r = hv('record', '-s', f, '-o', sq, '--arrow', ar, '--checkpoint-every', '1', '-q', '--check');
  assert.equal(r.status, 0, r.stderr);
  for (const p of [sq, ar]) {
    const v = hv('replay', p, '--verify', '--reexec', '-q');
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /verified \d+ events against \d+ checkpoints: identical/);
    assert.match(v.stdout, /re-executed: \d+ events identical/);
  }
  // Alter the hardware dword 1 (w4 = new_r) of the HPTE write of the scenario's first H_ENTER
  // (index 0x100; the VRMA set-up writes come first).
  const bad = join(dir, 'bad.sqlite');
  copyFileSync(sq, bad);
  const db = new Database(bad);
  const seq = db.prepare('SELECT min(h.seq) FROM ev_hpte_write h JOIN ev_hcall_enter e ON h.cause = e.seq WHERE e.r5 = 256').pluck().get() as number;
  db.prepare('UPDATE events SET w4 = (w4 | 2) - (w4 & 2) WHERE seq = ?').run(seq);
  db.close();
  const v = hv('replay', bad, '--verify', '--json', '-q');
  assert.equal(v.status, 1);
  const vr = JSON.parse(v.stdout).verify.divergence;
  assert.ok(vr.lastGoodSeq < seq && seq < vr.seq, `altered seq ${seq} inside (${vr.lastGoodSeq}, ${vr.seq})`);
  assert.deepEqual(vr.components, ['hpt']);
  const x = hv('replay', bad, '--reexec', '--json', '-q');
  assert.equal(x.status, 1);
  const d = JSON.parse(x.stdout).reexec.divergence;
  assert.equal(d.seq, seq);
  assert.equal(d.recorded.kind, 'hpte_write');
  assert.equal(BigInt(d.recorded.new_r) ^ BigInt(d.reexecuted.new_r), 2n);
  assert.match(d.state[0], /^lpid 1 HPTE 256: recorded /);
});

test('replay --verify --reexec on a workload trace (re-executed from the recorded workload and seed)', () => {
  const dir = tmpDir();
  const t = join(dir, 'w.arrow');
  const r = hv('record', '--workload', 'mix', '--accesses', '3000', '--guest-mb', '64', '--host-mb', '96', '--pressure', '0.85', '--arrow', t, '--checkpoint-every', '4096', '-q', '--no-index');
  assert.equal(r.status, 0, r.stderr);
  const v = hv('replay', t, '--verify', '--reexec', '-q');
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /verified \d+ events against \d+ checkpoints: identical/);
  assert.match(v.stdout, /re-executed: \d+ events identical/);
});
