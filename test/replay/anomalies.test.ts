// Anomalies as named counters: a trace with an injected bad event (written with the recorder)
// makes `info` and `state` exit EXIT_ANOMALY and name the counter; recorded anomaly events are
// counted by their code's name; a clean trace exits 0. The codes traces already carry keep their
// meaning (§J item numbers, the TLB model's 26).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANOMALY_STALE_TLB } from '../../src/hw/tlb.js';
import { A, ANOMALIES, EXIT_ANOMALY } from '../../src/trace/anomalies.js';
import { CAUSE_WINDOW } from '../../src/replay/handlers/ops.js';
import { E, K } from '../../src/trace/kinds.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

/** A VM (LPID 1, HPT order 18) with one good hpte_write, then `bad` events. */
function trace(path: string, bad: (rec: Recorder) => void): void {
  const rec = new Recorder([new SqliteSink(path)], runInfo('power7', 1, {}));
  rec.emit(K.vm_create, 1, -1, -1, -1).hpt_order(18).sdr1(0x4000000).lpcr(0).vm_id(0);
  rec.emit(K.hpte_write, 1, 0, 0, -1).hpte_index(8).old_v(0).old_r(0).new_v(0x123456001).new_r(0x1234192).guest_r(0x1234192);
  bad(rec);
  rec.close(true);
}

test('an hpte_write for an unknown LPID: info and state exit non-zero and name the counter', () => {
  const t = join(tmpDir(), 'bad.sqlite');
  trace(t, (rec) => {
    rec.emit(K.hpte_write, 7, 0, 0, -1).hpte_index(16).old_v(0).old_r(0).new_v(0x1).new_r(0).guest_r(0);
    rec.emit(K.hpte_write, 7, 0, 0, -1).hpte_index(24).old_v(0).old_r(0).new_v(0x1).new_r(0).guest_r(0);
  });
  for (const args of [['info', t], ['state', t, '--summary'], ['state', t, '--hpte', '8']]) {
    const r = hv(...args);
    assert.equal(r.status, EXIT_ANOMALY, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /anomaly hpte_write_unknown_vm \(error\) ×2, first at seq 3/, args.join(' '));
  }
  const info = JSON.parse(hv('info', t, '--json').stdout);
  assert.deepEqual(info.anomalies, [{ name: 'hpte_write_unknown_vm', code: A.hpte_write_unknown_vm, severity: 'error', description: ANOMALIES.hpte_write_unknown_vm.description, count: 2, first_seq: 3 }]);
  const state = JSON.parse(hv('state', t, '--summary', '--json').stdout);
  assert.equal(state.anomalies[0].name, 'hpte_write_unknown_vm');
  // Before the bad events the state is clean.
  assert.equal(hv('state', t, '--at', '2', '--summary').status, 0);
});

test('a recorded anomaly event is counted by its code name; codes keep their meaning', () => {
  // Invariant anomalies keep the §J item number as their code (traces recorded before carry it).
  for (const [n, d] of Object.entries(ANOMALIES)) {
    const j = /^j(\d+)_/.exec(n);
    if (j) assert.equal(d.code, Number(j[1]), n);
  }
  assert.equal(ANOMALY_STALE_TLB, A.j26_tlb_freshness);
  const t = join(tmpDir(), 'rec.sqlite');
  trace(t, (rec) => {
    rec.emit(K.anomaly, 1, 0, 0, -1).code(ANOMALY_STALE_TLB).severity(2).a(8).b(0x10005000);
    rec.emit(K.anomaly, 1, -1, -1, -1).code(99).severity(2);
  });
  const r = hv('info', t, '--json');
  assert.equal(r.status, EXIT_ANOMALY);
  const names = JSON.parse(r.stdout).anomalies.map((a: { name: string; count: number }) => `${a.name}×${a.count}`);
  assert.deepEqual(names, ['j26_tlb_freshness×1', 'unknown_anomaly_code×1']);
});

test('a clean trace: info and state exit 0 with no anomalies', () => {
  const t = join(tmpDir(), 'ok.sqlite');
  trace(t, () => {});
  const r = hv('info', t, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).anomalies, []);
  assert.equal(hv('state', t, '--summary').status, 0);
});

test('a cause beyond the op index window: counted as op_cause_beyond_window (a warning), never a silent wrong op', () => {
  const t = join(tmpDir(), 'window.sqlite');
  let opSeq = -1;
  trace(t, (rec) => {
    opSeq = rec.emit(K.guest_op, 1, 0, 0, -1).op_id(5).op(E.guest_op_kind.load).pid(1).ea(0x10000).seq;
    // Within the window: attributed (no anomaly). Then CAUSE_WINDOW filler events without a cause,
    // and an event caused by the op that far back.
    rec.emit(K.fault_triage, 1, 0, 0, opSeq);
    for (let k = 0; k < CAUSE_WINDOW; k++) rec.emit(K.vcpu_state, 1, 0, 0, -1).state(E.vcpu_state.runnable);
    rec.emit(K.fault_triage, 1, 0, 0, opSeq);
  });
  const r = hv('info', t, '--json');
  assert.equal(r.status, 0, r.stderr); // a warning does not fail the command
  const a = JSON.parse(r.stdout).anomalies;
  assert.deepEqual(
    a.map((x: { name: string; count: number; severity: string; first_seq: number }) => [x.name, x.severity, x.count, x.first_seq]),
    [['op_cause_beyond_window', 'warning', 1, opSeq + 2 + CAUSE_WINDOW]],
  );
});
