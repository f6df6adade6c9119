// `replay --verify` checks every field that states what was there before against the fold
// (issue 10 part 4): a recorded power7 `mix` trace with one stored word altered (better-sqlite3,
// column w<F.kind.field>) is reported at the event whose before-value contradicts the fold, with
// both values, although its checkpoint digests alone agree. Expected seqs and values come from the
// rules (an hpte_write's old words are the slot's last written words, the HPT zeroed at
// vm_create; the page-fault snapshot is the slot as held; from_lpid is the core's last to_lpid,
// a core starting in the host at LPID 0; notifier seq/count move as kvm_main.c's callbacks do).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import Database from 'better-sqlite3';
import { EXIT_ANOMALY } from '../../src/trace/anomalies.js';
import { F } from '../../src/trace/fields.js';
import { E, K } from '../../src/trace/kinds.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });
const hex = (x: bigint) => `0x${BigInt.asUintN(64, x).toString(16)}`;

const dir = tmpDir();
const clean = join(dir, 'mix.sqlite');
type Row = { seq: bigint; kind: bigint; lpid: bigint; core: bigint; w: bigint[] };
let rows: Row[] = [];

before(() => {
  // One checkpoint, at the end: no digest falls between an alteration and the rewrite after it.
  const r = hv('record', '-w', 'mix', '--profile', 'power7', '--seed', '3', '--accesses', '3000', '--checkpoint-every', '1000000', '--no-index', '-q', '-o', clean);
  assert.equal(r.status, 0, r.stderr);
  const db = new Database(clean, { readonly: true });
  const st = db.prepare(`SELECT seq, kind, lpid, core, ${[...Array(12).keys()].map((j) => `w${j}`).join(', ')} FROM events ORDER BY seq`).safeIntegers(true);
  rows = (st.all() as Record<string, bigint>[]).map((o) => ({ seq: o.seq, kind: o.kind, lpid: o.lpid, core: o.core, w: [...Array(12).keys()].map((j) => o[`w${j}`] ?? 0n) }));
  db.close();
});

/** A copy of the clean trace with word `col` of event seq XORed with `mask` (or set to `value`). */
function altered(name: string, seq: bigint, col: number, change: { xor?: bigint; set?: bigint }): string {
  const p = join(dir, `${name}.sqlite`);
  copyFileSync(clean, p);
  const db = new Database(p);
  const old = (db.prepare(`SELECT w${col} AS w FROM events WHERE seq = ?`).safeIntegers(true).get(seq) as { w: bigint }).w;
  const now = change.set ?? BigInt.asIntN(64, old ^ change.xor!);
  assert.equal(db.prepare(`UPDATE events SET w${col} = ? WHERE seq = ?`).run(now, seq).changes, 1);
  db.close();
  return p;
}

function verifyJson(p: string) {
  const r = hv('replay', p, '--verify', '--json', '-q');
  return { code: r.status, v: JSON.parse(r.stdout).verify };
}

const RPN_BIT = 1n << 12n;

test('an unaltered trace: no inconsistency, exit 0', () => {
  const { code, v } = verifyJson(clean);
  assert.equal(code, 0);
  assert.equal(v.inconsistency, null);
  assert.equal(v.divergence, null);
  assert.equal(v.first, 'none');
  assert.ok(v.checkpoints >= 1);
  const t = hv('replay', clean, '--verify', '-q');
  assert.match(t.stdout, /identical/);
  assert.equal(hv('info', clean).status, 0);
});

test('an altered hpte_write new_r is named at the next write to that slot, whose old_r contradicts it', () => {
  // S: an hpte_write whose slot is next described (hpte_write or page_fault_enter snapshot) by an
  // hpte_write S2 (same VM and index), after the first thousand events.
  const idxCol = (r: Row) => (r.kind === BigInt(K.hpte_write) ? r.w[F.hpte_write.hpte_index] : r.w[F.page_fault_enter.hpte_index]);
  const last = new Map<string, Row>();
  let pair: [Row, Row] | undefined;
  for (const r of rows) {
    if (r.kind !== BigInt(K.hpte_write) && r.kind !== BigInt(K.page_fault_enter)) continue;
    const key = `${r.lpid}:${idxCol(r)}`;
    const p = last.get(key);
    if (p && p.kind === BigInt(K.hpte_write) && r.kind === BigInt(K.hpte_write) && p.seq > 1000n) {
      pair = [p, r];
      break;
    }
    last.set(key, r);
  }
  assert.ok(pair, 'a rewritten slot');
  const [s, s2] = pair;
  const p = altered('new-r', s.seq, F.hpte_write.new_r, { xor: RPN_BIT });
  const { code, v } = verifyJson(p);
  assert.equal(code, 1);
  // The checkpoint digests alone agree (the slot is rewritten before the checkpoint): what the
  // check adds.
  assert.equal(v.divergence, null);
  assert.equal(v.first, 'inconsistency');
  const x = v.inconsistency;
  assert.equal(x.seq, Number(s2.seq));
  assert.equal(x.kind, 'hpte_write');
  assert.equal(x.field, 'old_r');
  assert.equal(x.anomaly, 'hpte_write_old_r_mismatch');
  assert.equal(x.index, Number(s2.w[F.hpte_write.hpte_index]));
  assert.equal(x.recorded, hex(s2.w[F.hpte_write.old_r]));
  assert.equal(x.folded, hex(s.w[F.hpte_write.new_r] ^ RPN_BIT));
  assert.equal(x.previous_seq, Number(s.seq));
  assert.equal(x.previous.new_r, hex(s.w[F.hpte_write.new_r] ^ RPN_BIT));
  const t = hv('replay', p, '--verify', '-q');
  assert.equal(t.status, 1);
  assert.ok(t.stdout.includes(`seq ${s2.seq} (hpte_write`), t.stdout);
  assert.ok(t.stdout.includes(`old_r = ${hex(s2.w[F.hpte_write.old_r])}`), t.stdout);
  assert.ok(t.stdout.includes(`holds ${hex(s.w[F.hpte_write.new_r] ^ RPN_BIT)}`), t.stdout);
  assert.ok(t.stdout.includes(`hpte_write at seq ${s.seq}`), t.stdout);
  assert.doesNotMatch(t.stdout, /identical/);
  // info names the counter too, at the same seq.
  const info = hv('info', p);
  assert.equal(info.status, EXIT_ANOMALY);
  assert.match(info.stderr, new RegExp(`anomaly hpte_write_old_r_mismatch \\(error\\) ×1, first at seq ${s2.seq}`));
});

/** The first event of `kind` after seq 1000 satisfying `ok`. */
const pick = (kind: number, ok: (r: Row) => boolean = () => true) => rows.find((r) => r.kind === BigInt(kind) && r.seq > 1000n && ok(r))!;

test('an altered hpte_write old_v / old_r is named at that event', () => {
  const w = pick(K.hpte_write);
  for (const field of ['old_v', 'old_r'] as const) {
    const col = F.hpte_write[field];
    const { code, v } = verifyJson(altered(`hw-${field}`, w.seq, col, { xor: RPN_BIT }));
    assert.equal(code, 1, field);
    assert.equal(v.first, 'inconsistency');
    assert.deepEqual(
      [v.inconsistency.seq, v.inconsistency.kind, v.inconsistency.field, v.inconsistency.recorded, v.inconsistency.folded],
      [Number(w.seq), 'hpte_write', field, hex(w.w[col] ^ RPN_BIT), hex(w.w[col])],
    );
  }
});

test('an altered page_fault_enter snapshot (hpte_v, hpte_r, gpte_r) is named at that event', () => {
  const pf = pick(K.page_fault_enter);
  assert.ok(pf, 'a page fault in the trace');
  for (const field of ['hpte_v', 'hpte_r', 'gpte_r'] as const) {
    const col = F.page_fault_enter[field];
    const { code, v } = verifyJson(altered(`pf-${field}`, pf.seq, col, { xor: RPN_BIT }));
    assert.equal(code, 1, field);
    const x = v.inconsistency;
    assert.deepEqual([x.seq, x.kind, x.field, x.anomaly, x.recorded, x.folded], [Number(pf.seq), 'page_fault_enter', field, 'page_fault_enter_snapshot_mismatch', hex(pf.w[col] ^ RPN_BIT), hex(pf.w[col])]);
  }
});

test('an altered partition_switch from_lpid is named at that event, with the core\'s previous switch', () => {
  const prevOn = (sw: Row) => rows.filter((r) => r.kind === BigInt(K.partition_switch) && r.core === sw.core && r.seq < sw.seq).at(-1);
  const sw = pick(K.partition_switch, (r) => prevOn(r) !== undefined);
  const col = F.partition_switch.from_lpid;
  const prev = prevOn(sw)!;
  const { code, v } = verifyJson(altered('from-lpid', sw.seq, col, { set: sw.w[col] + 5n }));
  assert.equal(code, 1);
  const x = v.inconsistency;
  assert.deepEqual([x.seq, x.kind, x.field, x.index, x.recorded, x.folded], [Number(sw.seq), 'partition_switch', 'from_lpid', Number(sw.core), String(sw.w[col] + 5n), String(prev.w[F.partition_switch.to_lpid])]);
  assert.equal(x.previous_seq, Number(prev.seq));
});

test('notifier mmu_seq/mmu_count follow kvm_main.c: a wrong after-value is named at that callback', () => {
  // range_start: count++; range_end: seq++, count--; invalidate_page and change_pte: seq++;
  // clear_flush_young: neither (virt/kvm/kvm_main.c, Linux 3.4).
  const steps: [number, number, number][] = [
    [E.notifier_kind.range_start, 0, 1],
    [E.notifier_kind.range_end, 1, 0],
    [E.notifier_kind.invalidate_page, 2, 0],
    [E.notifier_kind.clear_flush_young, 2, 0],
    [E.notifier_kind.change_pte, 3, 0],
  ];
  const write = (p: string, bad: number, field: 'mmu_seq' | 'mmu_count') => {
    const rec = new Recorder([new SqliteSink(p)], runInfo('power7', 1, {}));
    rec.emit(K.vm_create, 1, -1, -1, -1).hpt_order(18).sdr1(0x4000000).lpcr(0).vm_id(0);
    steps.forEach(([cb, s, c], k) => {
      const d = k === bad ? 1 : 0;
      rec.emit(K.notifier, 1, -1, -1, -1).callback(cb).hva_start(0x1000).hva_end(0x2000).gfn(1).effect(0).hptes(0)
        .mmu_seq(s + (field === 'mmu_seq' ? d : 0)).mmu_count(c + (field === 'mmu_count' ? d : 0));
    });
    rec.close(true);
  };
  const ok = join(dir, 'notifier-ok.sqlite');
  write(ok, -1, 'mmu_seq');
  assert.equal(verifyJson(ok).v.inconsistency, null);
  // seq 0 run_start, 1 vm_create, notifiers from seq 2.
  for (const [bad, field] of [[1, 'mmu_seq'], [0, 'mmu_count'], [4, 'mmu_seq']] as const) {
    const p = join(dir, `notifier-${bad}-${field}.sqlite`);
    write(p, bad, field);
    const { code, v } = verifyJson(p);
    assert.equal(code, 1, `${bad} ${field}`);
    const x = v.inconsistency;
    const expect = steps[bad][field === 'mmu_seq' ? 1 : 2];
    assert.deepEqual([x.seq, x.kind, x.field, x.recorded, x.folded], [2 + bad, 'notifier', field, String(expect + 1), String(expect)]);
    assert.equal(x.previous_seq, bad === 0 ? -1 : 2 + bad - 1);
  }
});
