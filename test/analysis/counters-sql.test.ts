// The one counting path (replay counters handler → demo summary) against INDEPENDENT counts: SQL
// over the same SQLite trace (the ev_* views of src/trace/sqlite-schema.ts), for a POWER7 workload
// under host pressure (notifier invalidations, swap, re-faults) and a PPC970 one (pinned pages).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { summarize } from '../../src/analysis/summary.js';
import { StateFold } from '../../src/replay/state.js';
import { ENUMS } from '../../src/trace/kinds.js';
import { hcallName } from '../../src/trace/names.js';
import { openTrace } from '../../src/trace/reader.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

type Row = Record<string, number | string | bigint>;

async function check(path: string, expectNonzero: string[]): Promise<void> {
  const db = new Database(path, { readonly: true });
  db.defaultSafeIntegers(false);
  const all = (sql: string) => db.prepare(sql).all() as Row[];
  const one = (sql: string) => Number(Object.values(db.prepare(sql).get() as Row)[0] ?? 0);
  const grouped = (sql: string) => Object.fromEntries(all(sql).map((r) => [String(r.k), Number(r.n)]));

  const reader = await openTrace(path);
  const fold = new StateFold();
  for await (const b of reader.batches()) fold.foldBatch(b);
  reader.close();
  const c = fold.counters;

  // Events by kind.
  const byKind: Record<string, number> = {};
  c.byKind.forEach((v, k) => v !== 0 && (byKind[String(k)] = v));
  assert.deepEqual(byKind, grouped('SELECT kind AS k, count(*) AS n FROM events GROUP BY kind'));
  // Hcalls by number × return code, and by path.
  const hcalls = Object.fromEntries([...c.hcalls].map(([key, n]) => [`${Math.floor(key / 65536)}/${(key & 0xffff) << 16 >> 16}`, n]));
  assert.deepEqual(hcalls, grouped("SELECT nr || '/' || ret AS k, count(*) AS n FROM ev_hcall_exit GROUP BY nr, ret"));
  const named2 = (a: Float64Array, names: readonly string[]) => Object.fromEntries([...a].map((v, j) => [names[j], v]).filter(([, v]) => v !== 0));
  assert.deepEqual(named2(c.hcallPath, ENUMS.hcall_path), grouped('SELECT path AS k, count(*) AS n FROM ev_hcall_exit GROUP BY path'));
  // Faults by interrupt × decision, page-fault outcomes, notifier callback × effect, host ops × owner.
  const pairs = (a: Float64Array, outer: readonly string[], inner: readonly string[] | null, stride: number) =>
    Object.fromEntries([...a].map((v, j) => [`${outer[Math.floor(j / stride)]}/${inner ? inner[j % stride] : j % stride}`, v]).filter(([, v]) => v !== 0));
  assert.deepEqual(pairs(c.faults, ENUMS.fault_kind, ENUMS.fault_decision, 8), grouped("SELECT interrupt || '/' || decision AS k, count(*) AS n FROM ev_fault_triage GROUP BY 1"));
  assert.deepEqual(named2(c.pageFaultOutcome, ENUMS.page_fault_outcome), grouped('SELECT outcome AS k, count(*) AS n FROM ev_page_fault_exit GROUP BY 1'));
  assert.deepEqual(pairs(c.notifierEffect, ENUMS.notifier_kind, ENUMS.notifier_effect, 8), grouped("SELECT callback || '/' || effect AS k, count(*) AS n FROM ev_notifier GROUP BY 1"));
  assert.deepEqual(pairs(c.hostOps, ENUMS.host_page_op, null, 2), grouped("SELECT op || '/' || owner AS k, count(*) AS n FROM ev_host_page GROUP BY 1"));
  assert.deepEqual(named2(c.tlbScope, ENUMS.tlb_scope), grouped('SELECT scope AS k, count(*) AS n FROM ev_tlbie GROUP BY 1'));
  assert.deepEqual(named2(c.guestOps, ENUMS.guest_op_kind), grouped('SELECT op AS k, count(*) AS n FROM ev_guest_op GROUP BY 1'));

  // The demo summary, field by field, from SQL alone.
  const s = await summarize(await openTrace(path));
  const refaults = one(`WITH inv AS (SELECT lpid, gfn, min(seq) AS s FROM ev_notifier WHERE effect = 'invalidated' AND gfn >= 0 GROUP BY lpid, gfn)
    SELECT count(*) FROM ev_page_fault_exit p JOIN inv ON inv.lpid = p.lpid AND inv.gfn = p.gfn AND inv.s < p.seq WHERE p.outcome = 'installed'`);
  const expected = {
    profile: s.profile,
    seed: s.seed,
    events: one('SELECT count(*) FROM events'),
    complete: one('SELECT count(*) FROM ev_run_end') > 0,
    guest_ops: one('SELECT count(*) FROM ev_guest_op'),
    hcalls: one('SELECT count(*) FROM ev_hcall_enter'),
    hcalls_by_name: Object.fromEntries(all('SELECT nr, count(*) AS n FROM ev_hcall_enter GROUP BY nr').map((r) => [hcallName(Number(r.nr)), Number(r.n)])),
    hcalls_virtual_mode: one("SELECT count(*) FROM ev_hcall_exit WHERE path = 'virtual'"),
    hcalls_to_userspace: one("SELECT count(*) FROM ev_hcall_exit WHERE path = 'user'"),
    faults_by_interrupt: grouped('SELECT interrupt AS k, count(*) AS n FROM ev_fault_triage GROUP BY 1'),
    faults_by_decision: grouped('SELECT decision AS k, count(*) AS n FROM ev_fault_triage GROUP BY 1'),
    page_faults: one('SELECT count(*) FROM ev_page_fault_enter'),
    page_faults_by_outcome: grouped('SELECT outcome AS k, count(*) AS n FROM ev_page_fault_exit GROUP BY 1'),
    notifier_callbacks: one('SELECT count(*) FROM ev_notifier'),
    notifier_noop_pinned: one("SELECT count(*) FROM ev_notifier WHERE effect = 'noop_pinned'"),
    notifier_invalidations: one("SELECT count(*) FROM ev_notifier WHERE effect = 'invalidated'"),
    hptes_invalidated_by_notifiers: one("SELECT total(hptes) FROM ev_notifier WHERE effect = 'invalidated'"),
    refaults_after_invalidation: refaults,
    absent_hpte_writes: one('SELECT count(*) FROM ev_hpte_write WHERE (new_v & 32) != 0'),
    pinned_pages: one("SELECT count(*) FROM ev_host_page WHERE op = 'pin'"),
    partition_switches: one('SELECT count(*) FROM ev_partition_switch'),
    tlbies: one("SELECT count(*) FROM ev_tlbie WHERE scope IN ('global', 'local')"),
    tlb_flushes: one("SELECT count(*) FROM ev_tlbie WHERE scope IN ('lpid_sets', 'all_sets')"),
    host_swapouts_guest: one("SELECT count(*) FROM ev_host_page WHERE op = 'swap_out' AND owner = 0"),
    host_swapouts_other: one("SELECT count(*) FROM ev_host_page WHERE op = 'swap_out' AND owner = 1"),
    host_swapins_guest: one("SELECT count(*) FROM ev_host_page WHERE op = 'swap_in' AND owner = 0"),
    mmio_exits: one('SELECT count(*) FROM ev_mmio_exit'),
    anomalies: one('SELECT count(*) FROM ev_anomaly'),
  };
  db.close();
  assert.deepEqual(s, expected);
  // The workload really exercises what it is chosen for (a zero everywhere would prove little).
  for (const k of expectNonzero) assert.ok((s as unknown as Record<string, number>)[k] > 0, `${path}: ${k} is nonzero`);
}

test('counters and demo summary equal SQL counts: POWER7 workload under host pressure', async () => {
  const t = join(tmpDir(), 'p7.sqlite');
  const r = hv('record', '-w', 'random-ws', '--guest-mb', '128', '--host-mb', '96', '--pressure', '0.8', '--accesses', '20000', '-o', t, '-q', '--no-index');
  assert.equal(r.status, 0, r.stderr);
  await check(t, ['notifier_invalidations', 'hptes_invalidated_by_notifiers', 'refaults_after_invalidation', 'host_swapouts_guest', 'host_swapins_guest', 'absent_hpte_writes', 'tlbies', 'tlb_flushes', 'page_faults', 'partition_switches']);
});

test('counters and demo summary equal SQL counts: PPC970 workload (pinned pages)', async () => {
  const t = join(tmpDir(), 'ppc970.sqlite');
  const r = hv('record', '-w', 'mix', '--profile', 'ppc970', '--accesses', '6000', '-o', t, '-q', '--no-index');
  assert.equal(r.status, 0, r.stderr);
  await check(t, ['pinned_pages', 'hcalls_virtual_mode', 'tlbies', 'tlb_flushes', 'partition_switches', 'hcalls']);
});
