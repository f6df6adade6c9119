// `hvtrace faults`: every fault with its triage decision, virtual-mode outcome, final HPTE and
// latency (src/analysis/derived.ts, FAULT LATENCY). Expected values come from the scenario and the
// timing table (src/arch/timing.ts), or from independent SQL over the trace's views.
//
// Hand scenario (test/golden/refault.scenario.json, plus a swap-out injected after its third store):
// TV11's page (EA 0x10005000, gfn 0x1234, HPTE 0x1a298 entered with pteh 0x123456001) is stored to;
//   F1  after an invalidate_page notifier (HPTE ABSENT, host page resident): HDSI store → virtual →
//       installed, no host work:  hdsiTriage + guestExit + pageFault + gupFast + guestEntry
//   F2  after host_unmap (the page is gone): the page fault's get_user_pages faults a fresh page in:
//       the same + hostFault
//   F3  after a swap-out (try_to_unmap_one → invalidate_page, page to swap): the same as F1 + swapIn
//   F4  the load at 0x10006000 (no HPTE): the triage reflects a DSI: hdsiTriage only
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { timingFor } from '../../src/arch/timing.js';
import { E } from '../../src/trace/kinds.js';
import { tmpDir } from '../helpers.js';
import { EA, faultsOf, GFN, HVA, hv, loadRefault, recordScenario, SLOT } from './canned-helpers.js';

const t = timingFor('power7');

async function swapScenarioTrace(dir: string): Promise<string> {
  const sc = loadRefault();
  // ops: 0 host_map, 1 slbmte, 2 H_ENTER, 3 store, 4 invalidate_page, 5 store, 6 host_unmap, 7 store,
  // [swap-out after 7] 8 store (added), 9 load 0x10006000, 10 H_REMOVE.
  sc.ops = [...sc.ops.slice(0, 8), { ...sc.ops[7] }, ...sc.ops.slice(8)];
  const path = join(dir, 'swap.sqlite');
  recordScenario(sc, path, (r, i) => {
    if (i === 7) assert.ok(r.machine.mm.swapOut(HVA) >= 0, 'swapped out');
  });
  return path;
}

test('faults of the hand scenario: decisions, outcomes, host work and latencies from the timing table', async () => {
  const d = tmpDir();
  const path = await swapScenarioTrace(d);
  const rows = await faultsOf(path);
  assert.deepEqual(
    rows.map((r) => [r.kind, r.access, r.ea, r.decision, r.outcome, r.host, r.hpte_index]),
    [
      ['hdsi', 'store', EA, 'virtual', 'installed', null, SLOT],
      ['hdsi', 'store', EA, 'virtual', 'installed', 'fault_in', SLOT],
      ['hdsi', 'store', EA, 'virtual', 'installed', 'swap_in', SLOT],
      ['hdsi', 'load', 0x10006000n, 'reflect', null, null, -1],
    ],
  );
  const base = t.hdsiTriage + t.guestExit + t.pageFault + t.gupFast + t.guestEntry;
  // 154 + 512 + 768 + 77 + 512 = 2023 ticks; + 1024 (fresh page); + 1,024,000 (swap-in); 154.
  assert.equal(base, 2023);
  assert.deepEqual(rows.map((r) => r.latency_ticks), [base, base + t.hostFault, base + t.swapIn, t.hdsiTriage]);
  assert.deepEqual(rows.map((r) => r.latency_us), rows.map((r) => ((r.latency_ticks as number) * 1e6) / 512e6));
  // The HPTE each store ended in: the guest's pteh 0x123456001 again (VALID, ABSENT gone), its RPN
  // the host page the fault used (the pfn of the latest host map / swap-in of the hva before the resume).
  const db = new Database(path, { readonly: true });
  for (const r of rows.slice(0, 3)) {
    assert.equal(r.gfn, GFN);
    assert.equal(r.hpte_v, 0x123456001n);
    const pfn = db
      .prepare("SELECT pfn FROM host_pages WHERE hva = ? AND op IN ('map', 'swap_in') AND seq < ? ORDER BY seq DESC LIMIT 1")
      .pluck(true)
      .get(HVA, r.resume_seq) as number;
    assert.equal((r.hpte_r as bigint) >> 12n, BigInt(pfn), `seq ${r.seq}: RPN is the host page`);
    assert.equal(db.prepare('SELECT kind FROM events WHERE seq = ?').pluck(true).get(r.resume_seq), 51, 'resumes at a guest_enter');
  }
  assert.equal(rows[3].resume_seq, rows[3].seq, 'a reflected fault resumes in real mode at its triage');
  assert.equal(rows[3].gfn, -1);
  db.close();
});

test('seeded workload: every fault_triage once, resume and latency found by independent SQL, latency = sum of the path costs', async () => {
  const d = tmpDir();
  const path = join(d, 'mix.sqlite');
  assert.equal(hv('record', '-w', 'mix', '--accesses', '1500', '--seed', '3', '-o', path, '-q', '--no-index').code, 0);
  const rows = await faultsOf(path);
  const db = new Database(path, { readonly: true });
  const sql = db.prepare('SELECT seq, time, lpid, vcpu, kind, decision, ea, hpte_index FROM faults ORDER BY seq').safeIntegers(false).all() as Record<string, number>[];
  assert.ok(sql.length > 500, `${sql.length} faults`);
  assert.deepEqual(rows.map((r) => [r.seq, r.vcpu, r.kind, r.decision]), sql.map((s) => [s.seq, s.vcpu, s.kind, s.decision]));
  // The resume of a virtual/mmio fault: the guest_enter of the vcpu whose entry switch names the
  // vcpu's first guest_exit after the fault.
  const resume = db.prepare(`SELECT g.seq, g.time FROM ev_guest_enter g JOIN ev_partition_switch s ON g.cause = s.seq
    WHERE g.vcpu = ? AND s.direction = 'entry' AND s.cause = (SELECT min(x.seq) FROM ev_guest_exit x WHERE x.seq > ? AND x.vcpu = ? AND x.lpid = ?)`);
  // Everything the model charges between the trap and the resume, from the timing table.
  const work = db.prepare(`SELECT
      (SELECT count(*) FROM ev_page_fault_enter WHERE seq > @a AND seq < @b) AS pf,
      (SELECT count(*) FROM ev_page_fault_exit WHERE seq > @a AND seq < @b AND outcome IN ('installed', 'upgraded', 'notifier_retry')) AS gup,
      (SELECT count(*) FROM ev_page_fault_exit WHERE seq > @a AND seq < @b AND outcome IN ('changed', 'stale_addr', 'efault')) AS other,
      (SELECT count(*) FROM ev_host_page WHERE seq > @a AND seq < @b AND op = 'map') AS maps,
      (SELECT count(*) FROM ev_host_page WHERE seq > @a AND seq < @b AND op = 'swap_in') AS swapins,
      (SELECT count(*) FROM ev_tlbie WHERE seq > @a AND seq < @b AND scope = 'global') AS tlbie_g,
      (SELECT count(*) FROM ev_tlbie WHERE seq > @a AND seq < @b AND scope = 'local') AS tlbie_l,
      (SELECT IFNULL(sum(sets), 0) FROM ev_tlbie WHERE seq > @a AND seq < @b AND scope = 'lpid_sets') AS sets,
      (SELECT count(*) FROM ev_mmio_exit WHERE seq > @a AND seq < @b) AS mmio`);
  let virtual = 0;
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    const s = sql[k];
    if (r.decision === 'reflect' || r.decision === 'retry') {
      assert.equal(r.latency_ticks, t.hdsiTriage);
      assert.equal(r.resume_seq, r.seq);
      continue;
    }
    if (r.decision !== 'virtual' && r.decision !== 'mmio') continue;
    const g = resume.get(s.vcpu, s.seq, s.vcpu, s.lpid) as { seq: number; time: number } | undefined;
    assert.ok(g, `fault ${s.seq} resumes`);
    assert.equal(r.resume_seq, g.seq, `fault ${s.seq}: resume`);
    assert.equal(r.latency_ticks, g.time - (s.time - t.hdsiTriage), `fault ${s.seq}: latency`);
    const w = work.get({ a: s.seq, b: g.seq }) as Record<string, number>;
    // get_user_pages runs for a page fault that reaches the host page (installed, upgraded, a
    // notifier retry), not for MMIO (no memslot); 'changed' / 'stale_addr' / 'efault' may return
    // before or after it, so those few are not summed here.
    if (w.other) continue;
    const expected = t.hdsiTriage + t.guestExit + t.guestEntry + w.pf * t.pageFault + w.gup * t.gupFast + w.maps * t.hostFault + w.swapins * t.swapIn +
      w.tlbie_g * t.tlbieGlobal + w.tlbie_l * t.tlbielEntry + w.sets * t.tlbielSet + w.mmio * t.vmmExit;
    assert.equal(r.latency_ticks, expected, `fault ${s.seq}: latency is the sum of its path's costs ${JSON.stringify(w)}`);
    virtual++;
  }
  assert.ok(virtual > 100, `${virtual} virtual-mode faults checked`);
  db.close();
});

test('faults filters agree with SQL over the faults view; --gpa is --gfn of gpa >> 12', async () => {
  const d = tmpDir();
  const path = join(d, 'mix.sqlite');
  assert.equal(hv('record', '-w', 'mix', '--accesses', '1000', '--seed', '4', '-o', path, '-q', '--no-index').code, 0);
  const db = new Database(path, { readonly: true });
  const seqs = (q: string, ...a: unknown[]) => db.prepare(q).pluck(true).all(...a) as number[];
  const all = await faultsOf(path);
  const pick = all.find((r) => (r.gfn as number) >= 0 && r.decision === 'virtual')!;
  const gfn = pick.gfn as number;
  // gfn: the triage's gfn, else (no HPTE at triage) the gfn of the page fault the fault led to.
  const byGfn = (await faultsOf(path, { gfn })).map((r) => r.seq as number);
  assert.deepEqual(byGfn, all.filter((r) => r.gfn === gfn).map((r) => r.seq));
  for (const s of seqs('SELECT seq FROM faults WHERE gfn = ?', gfn)) assert.ok(byGfn.includes(s), `triage gfn ${s}`);
  assert.deepEqual(byGfn, [...byGfn].sort((a, b) => a - b));
  const out = hv('faults', path, '--gpa', `0x${(gfn * 4096 + 0x123).toString(16)}`, '--csv', '-q').out.trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
  assert.deepEqual(out, byGfn);
  const ea = pick.ea as bigint;
  assert.deepEqual((await faultsOf(path, { eaPage: Number(ea >> 12n) })).map((r) => r.seq), seqs('SELECT seq FROM faults WHERE (ea >> 12) = ? ORDER BY seq', Number(ea >> 12n)));
  assert.deepEqual((await faultsOf(path, { decision: E.fault_decision.reflect })).map((r) => r.seq), seqs("SELECT seq FROM faults WHERE decision = 'reflect' ORDER BY seq"));
  assert.deepEqual((await faultsOf(path, { vcpu: 1, kind: E.fault_kind.hdsi })).map((r) => r.seq), seqs("SELECT seq FROM faults WHERE vcpu = 1 AND kind = 'hdsi' ORDER BY seq"));
  const a = all[10].seq as number;
  const b = all[50].seq as number;
  assert.deepEqual((await faultsOf(path, { from: a, to: b })).map((r) => r.seq), seqs('SELECT seq FROM faults WHERE seq >= ? AND seq < ? ORDER BY seq', a, b));
  db.close();
});

test('an Arrow trace gives the same fault rows as its SQLite twin', async () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '-w', 'mix', '--accesses', '600', '--seed', '2', '-o', sq, '--arrow', ar, '-q', '--no-index').code, 0);
  assert.deepEqual(await faultsOf(ar), await faultsOf(sq));
});

test('faults CLI: formats, and bad input is one line with exit 2', () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  copyFileSync(join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json'), join(d, 'tv11.json'));
  assert.equal(hv('record', '--scenario', join(d, 'tv11.json'), '-o', sq, '-q').code, 0);
  const j = JSON.parse(hv('faults', sq, '--json', '-q').out) as Record<string, unknown>[];
  assert.equal(j.length, 1);
  assert.equal(j[0].ea, '0x10006000');
  assert.equal(j[0].decision, 'reflect');
  assert.equal(hv('faults', sq, '--ndjson', '-q').out.trim().split('\n').length, 1);
  assert.match(hv('faults', sq).out, /^ seq\s+time\s+us\s+lpid/);
  for (const args of [
    ['--gfn', '1', '--ea', '0x10'],
    ['--decision', 'sideways'],
    ['--kind', 'hmi'],
    ['--from', '10', '--to', '5'],
    ['--gfn', 'x'],
  ]) {
    const r = hv('faults', sq, ...args);
    assert.equal(r.code, 2, args.join(' '));
    const lines = r.err.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(lines[0], /^hvtrace: error: /);
  }
});
