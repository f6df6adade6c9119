// `hvtrace stats` (perf replay handler → analysis/stats.ts → cli/commands/stats.ts) against
// INDEPENDENT SQL over the same SQLite trace: every accumulator per (lpid, vcpu, core, name) —
// samples, and for the timed sections total / min / max ticks from the paired events (exits with a
// LEAD window over the vcpu's guest_exit / guest_enter events, hcalls and page faults by `cause`),
// an interval still open at the end closed at the time of the last event — on a POWER7 workload
// with 6 vcpus on 2 cores under host pressure (notifier callbacks, swap-outs of guest and other
// pages, host-context tlbies) and a PPC970 one (virtual-mode hcalls), at the end and cut in the
// middle of a page fault and of an hcall (those folds are full StateFolds). Then the row layer (per
// name, --by vcpu), the checkpoint index (last checkpoint + tail of a StateFold = the perf handler's
// own pass over the whole trace, which `stats` runs when there is no index), SQLite = Arrow, and
// the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { jsonCell } from '../../cli/format.js';
import { rowName, STATS_COLUMNS, type StatsRow, statsRows, traceStats } from '../../src/analysis/stats.js';
import { BOOK3S_INTERRUPT_NAMES } from '../../src/arch/reg.js';
import { buildIndex } from '../../src/replay/checkpoints.js';
import { PERF_SECTIONS, type PerfData, PerfHandler } from '../../src/replay/handlers/perf.js';
import { Seeker, stateAt } from '../../src/replay/seek.js';
import { StateFold } from '../../src/replay/state.js';
import { batchOf, type TraceEvent } from '../../src/trace/event.js';
import { hcallName } from '../../src/trace/names.js';
import { openTrace } from '../../src/trace/reader.js';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

const dir = tmpDir();
const P7 = join(dir, 'p7.sqlite');
const P7A = join(dir, 'p7.arrow');
const P970 = join(dir, 'ppc970.sqlite');
for (const args of [
  ['-w', 'mix', '--vcpus', '6', '--guest-mb', '64', '--host-mb', '32', '--pressure', '0.95', '--accesses', '12000', '-o', P7, '--arrow', P7A],
  ['-w', 'mix', '--profile', 'ppc970', '--vcpus', '4', '--accesses', '3000', '-o', P970],
]) {
  const r = hv('record', ...args, '-q', '--no-index');
  assert.equal(r.status, 0, r.stderr);
}

interface Acc {
  samples: number;
  total: number;
  min: number;
  max: number;
}
type Accs = Map<string, Acc>;
const TIMED = new Set(['exits', 'hcalls', 'page_faults']);
const key = (section: string, lpid: number, vcpu: number, core: number, name: string) => `${section}|${lpid}|${vcpu}|${core}|${name}`;

/** Every accumulator from SQL alone, over the events with seq ≤ upTo. */
function sqlAccs(path: string, upTo = Number.MAX_SAFE_INTEGER): { accs: Accs; unpaired: number } {
  const db = new Database(path, { readonly: true });
  const p = { S: upTo };
  const end = Number((db.prepare('SELECT time FROM events WHERE seq <= @S ORDER BY seq DESC LIMIT 1').get(p) as { time: number }).time);
  const q = { ...p, END: end };
  const accs: Accs = new Map();
  const put = (section: string, r: Record<string, number | string>, name: string) => {
    const timed = TIMED.has(section);
    accs.set(key(section, Number(r.lpid), Number(r.vcpu), Number(r.core), name), {
      samples: Number(r.samples),
      total: timed ? Number(r.total) : 0,
      min: timed ? Number(r.min) : 0,
      max: timed ? Number(r.max) : 0,
    });
  };
  const rows = (sql: string) => db.prepare(sql).all(q) as Record<string, number | string>[];
  const stats = 'count(*) AS samples, sum(d) AS total, min(d) AS min, max(d) AS max';
  // Exits: guest_exit → the vcpu's next guest_exit/guest_enter (LEAD), or the end.
  for (const r of rows(`WITH run AS (
        SELECT seq, time, lpid, vcpu, core, trap, 1 AS is_exit FROM ev_guest_exit WHERE seq <= @S
        UNION ALL SELECT seq, time, lpid, vcpu, core, NULL, 0 FROM ev_guest_enter WHERE seq <= @S),
      nxt AS (SELECT *, LEAD(time) OVER (PARTITION BY lpid, vcpu ORDER BY seq) AS next FROM run)
      SELECT lpid, vcpu, core, trap, ${stats} FROM (SELECT *, COALESCE(next, @END) - time AS d FROM nxt WHERE is_exit = 1) GROUP BY 1, 2, 3, 4`))
    put('exits', r, BOOK3S_INTERRUPT_NAMES.get(Number(r.trap)) ?? `0x${Number(r.trap).toString(16)}`);
  // Hcalls: hcall_enter → the hcall_exit whose cause is its seq (attributed to the enter's context).
  for (const r of rows(`SELECT lpid, vcpu, core, nr, path, ${stats} FROM (
        SELECT e.lpid, e.vcpu, e.core, e.nr, COALESCE(x.path, 'unfinished') AS path, COALESCE(x.time, @END) - e.time AS d
        FROM ev_hcall_enter e LEFT JOIN ev_hcall_exit x ON x.cause = e.seq AND x.seq <= @S WHERE e.seq <= @S) GROUP BY 1, 2, 3, 4, 5`))
    put('hcalls', r, `${hcallName(Number(r.nr))}/${r.path}`);
  for (const r of rows(`SELECT lpid, vcpu, core, outcome, ${stats} FROM (
        SELECT e.lpid, e.vcpu, e.core, COALESCE(x.outcome, 'unfinished') AS outcome, COALESCE(x.time, @END) - e.time AS d
        FROM ev_page_fault_enter e LEFT JOIN ev_page_fault_exit x ON x.cause = e.seq AND x.seq <= @S WHERE e.seq <= @S) GROUP BY 1, 2, 3, 4`))
    put('page_faults', r, String(r.outcome));
  const counts = (section: string, name: string, view: string) => {
    for (const r of rows(`SELECT lpid, vcpu, core, ${name} AS name, count(*) AS samples FROM ${view} WHERE seq <= @S GROUP BY 1, 2, 3, 4`)) put(section, r, String(r.name));
  };
  counts('faults', "interrupt || '/' || decision", 'ev_fault_triage');
  counts('notifier', "callback || '/' || effect", 'ev_notifier');
  counts('host_pages', "op || '/' || CASE owner WHEN 0 THEN 'guest' ELSE 'other' END", 'ev_host_page');
  counts('cores', "'switch/' || direction", 'ev_partition_switch');
  counts('cores', "'tlbie/' || scope", 'ev_tlbie');
  const unpaired = Number(
    (db.prepare(`SELECT count(*) AS n FROM events x WHERE x.kind IN (11, 32) AND x.seq <= @S AND NOT EXISTS (SELECT 1 FROM events e WHERE e.seq = x.cause AND e.kind = x.kind - 1)`).get(q) as { n: number }).n,
  );
  db.close();
  return { accs, unpaired };
}

/** The handler's rows in the same shape (names from the stats layer's name table). */
function handlerAccs(d: PerfData): Accs {
  const m: Accs = new Map();
  for (const r of d.rows) {
    const { name } = rowName(r.section, r.code);
    const k = key(PERF_SECTIONS[r.section], r.lpid, r.vcpu, r.core, name);
    assert.ok(!m.has(k), `one row per context and name: ${k}`);
    m.set(k, { samples: r.samples, total: r.total, min: r.min, max: r.max });
  }
  return m;
}

async function foldData(path: string, upTo?: number): Promise<PerfData> {
  const r = await openTrace(path);
  const f = await stateAt(r, upTo === undefined ? 'end' : { seq: upTo }, { perf: true });
  r.close();
  return f.perf.data(f.lastTime);
}

const sorted = (m: Accs) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));

async function checkAgainstSql(path: string, upTo?: number): Promise<Accs> {
  const d = await foldData(path, upTo);
  const want = sqlAccs(path, upTo);
  assert.deepEqual(sorted(handlerAccs(d)), sorted(want.accs));
  assert.equal(d.unpairedHcallExits + d.unpairedPageFaultExits, want.unpaired);
  return want.accs;
}

const has = (m: Accs, re: RegExp) => [...m.keys()].some((k) => re.test(k));

test('perf handler = independent SQL: POWER7, 6 vcpus on 2 cores, host pressure', async () => {
  const accs = await checkAgainstSql(P7);
  // The workload exercises every section (a zero everywhere would prove little).
  for (const re of [/^exits\|.*HV_DECREMENTER$/, /^exits\|.*H_DATA_STORAGE$/, /^hcalls\|.*H_ENTER\/real$/, /^page_faults\|.*installed$/, /^page_faults\|.*notifier_retry$/, /^page_faults\|.*mmio$/,
    /^faults\|.*hdsi\/virtual$/, /^notifier\|.*invalidate_page\/invalidated$/, /^notifier\|.*clear_flush_young\/aged$/, /^host_pages\|.*swap_out\/guest$/, /^host_pages\|.*swap_out\/other$/,
    /^cores\|-?\d+\|-?\d+\|-1\|tlbie\/global$/, /^cores\|1\|\d+\|1\|switch\/exit$/, /^cores\|1\|\d+\|0\|tlbie\/global$/])
    assert.ok(has(accs, re), `covered: ${re}`);
  const vcpus = new Set([...accs.keys()].filter((k) => k.startsWith('exits|')).map((k) => k.split('|')[2]));
  assert.equal(vcpus.size, 6);
  const db = new Database(P7, { readonly: true });
  const at = (sql: string) => Number((db.prepare(sql).get() as { s: number }).s);
  // Cut inside a virtual-mode page fault (its vcpu is out of the guest: an open exit too) and just
  // after an hcall_enter: the open intervals end at the cut.
  const pf = at('SELECT e.seq + 1 AS s FROM ev_page_fault_enter e JOIN ev_page_fault_exit x ON x.cause = e.seq WHERE x.seq > e.seq + 1 LIMIT 1 OFFSET 100');
  const hc = at('SELECT e.seq AS s FROM ev_hcall_enter e LIMIT 1 OFFSET 2000');
  db.close();
  const cutPf = await checkAgainstSql(P7, pf);
  assert.ok(has(cutPf, /^page_faults\|.*\|unfinished$/) && cutPf.size > 0);
  const cutHc = await checkAgainstSql(P7, hc);
  assert.ok(has(cutHc, /^hcalls\|.*\/unfinished$/));
});

test('perf handler = independent SQL: PPC970 (real- and virtual-mode H_ENTER)', async () => {
  const accs = await checkAgainstSql(P970);
  assert.ok(has(accs, /^hcalls\|.*H_ENTER\/real$/) && has(accs, /^hcalls\|.*H_ENTER\/virtual$/));
  assert.ok(has(accs, /^exits\|.*SYSCALL$/));
});

test('stats rows: per name and --by vcpu from the SQL accumulators; groups sum to the totals; µs at the timebase', async () => {
  const d = await foldData(P7);
  const want = sqlAccs(P7).accs;
  const HZ = 512e6;
  // Expected rows per name (the cores section per core), from SQL.
  const byName = new Map<string, Acc & { section: string; core: number | null; name: string }>();
  for (const [k, a] of want) {
    const [section, , , core, name] = k.split('|');
    const c = section === 'cores' ? Number(core) : null;
    const g = `${section}|${c}|${name}`;
    const e = byName.get(g);
    if (!e) byName.set(g, { ...a, section, core: c, name });
    else {
      e.samples += a.samples;
      e.total += a.total;
      e.min = Math.min(e.min, a.min);
      e.max = Math.max(e.max, a.max);
    }
  }
  const rows = statsRows(d, {}, HZ);
  assert.equal(rows.length, byName.size);
  for (const r of rows) {
    const e = byName.get(`${r.section}|${r.core}|${r.name}`);
    assert.ok(e, `${r.section} ${r.name}`);
    assert.equal(r.samples, e.samples, `${r.section} ${r.name} samples`);
    assert.equal(r.lpid, null);
    assert.equal(r.vcpu, null);
    const group = [...byName.values()].filter((x) => x.section === e.section && x.core === e.core);
    const n = group.reduce((s, x) => s + x.samples, 0);
    assert.ok(Math.abs(r.samples_pct - (100 * e.samples) / n) < 1e-9);
    if (TIMED.has(r.section)) {
      const t = group.reduce((s, x) => s + x.total, 0);
      assert.deepEqual([r.total_ticks, r.min_ticks, r.max_ticks], [e.total, e.min, e.max], `${r.section} ${r.name} ticks`);
      assert.ok(Math.abs(r.avg_ticks! - e.total / e.samples) < 1e-9);
      assert.ok(Math.abs(r.time_pct! - (100 * e.total) / t) < 1e-9);
      assert.ok(Math.abs(r.min_us! - (e.min * 1e6) / HZ) < 1e-9 && Math.abs(r.avg_us! - (e.total * 1e6) / e.samples / HZ) < 1e-9);
    } else assert.deepEqual([r.time_pct, r.total_ticks, r.min_ticks, r.total_us], [null, null, null, null]);
  }
  // Ordered by samples within a section (cores: per core).
  for (let i = 1; i < rows.length; i++)
    if (rows[i].section === rows[i - 1].section && rows[i].core === rows[i - 1].core) assert.ok(rows[i].samples <= rows[i - 1].samples);
  // --sort time: by total time within the timed sections.
  const byTime = statsRows(d, { sort: 'time' }, HZ).filter((r) => TIMED.has(r.section));
  for (let i = 1; i < byTime.length; i++) if (byTime[i].section === byTime[i - 1].section) assert.ok(byTime[i].total_ticks! <= byTime[i - 1].total_ticks!);
  // --by vcpu: every (lpid, vcpu) group's percentages sum to 100, and the groups sum to the totals.
  const per = statsRows(d, { by: 'vcpu' }, HZ);
  const sum = new Map<string, Acc>();
  const pct = new Map<string, number>();
  for (const r of per) {
    assert.ok(r.lpid !== null && r.vcpu !== null && r.core === null);
    const k = `${r.section}|${r.name}`;
    const g = `${r.section}|${r.lpid}|${r.vcpu}`;
    pct.set(g, (pct.get(g) ?? 0) + r.samples_pct);
    const s = sum.get(k) ?? { samples: 0, total: 0, min: Infinity, max: -Infinity };
    s.samples += r.samples;
    s.total += r.total_ticks ?? 0;
    s.min = Math.min(s.min, r.min_ticks ?? Infinity);
    s.max = Math.max(s.max, r.max_ticks ?? -Infinity);
    sum.set(k, s);
  }
  for (const v of pct.values()) assert.ok(Math.abs(v - 100) < 1e-9);
  const totals = new Map<string, Acc>();
  for (const r of rows) {
    const k = `${r.section}|${r.name}`;
    const s = totals.get(k) ?? { samples: 0, total: 0, min: Infinity, max: -Infinity };
    s.samples += r.samples;
    s.total += r.total_ticks ?? 0;
    s.min = Math.min(s.min, r.min_ticks ?? Infinity);
    s.max = Math.max(s.max, r.max_ticks ?? -Infinity);
    totals.set(k, s);
  }
  assert.deepEqual(sorted(sum), sorted(totals));
  // --lpid: only that VM (host-context rows, lpid -1, go).
  const only = statsRows(d, { by: 'lpid', lpid: 1 }, HZ);
  assert.ok(only.length > 0 && only.every((r) => r.lpid === 1));
  assert.equal(statsRows(d, { lpid: 99 }, HZ).length, 0);
});

test('stats from the checkpoint index (last checkpoint + tail) = a full fold; checkpoints carry open intervals', async () => {
  const idx = join(dir, 'p7.hvidx');
  const r = await openTrace(P7);
  const index = await buildIndex(r, idx, { interval: 7001, fullEvery: 4 });
  const cps = index.header.checkpoints;
  index.close();
  r.close();
  const full = await traceStats(P7, { indexPath: join(dir, 'none.hvidx') });
  assert.equal(full.fromCheckpoint, null);
  const fast = await traceStats(P7, { indexPath: idx });
  assert.equal(fast.fromCheckpoint, cps.at(-1)!.seq);
  assert.ok(fast.fromCheckpoint! < fast.events - 1, 'a tail is folded');
  assert.deepEqual(fast.data, full.data);
  assert.deepEqual(statsRows(fast.data, { by: 'vcpu' }, 512e6), statsRows(full.data, { by: 'vcpu' }, 512e6));
  // Seeks to seqs just after checkpoints (state restored mid-interval) equal one linear fold
  // passing through the same seqs, and some checkpoint holds a start whose end comes after it.
  const s = await Seeker.open(P7, { indexPath: idx, perf: true });
  const targets = [0, 11, cps.length - 1].map((k) => Math.min(cps[k].seq + 50, fast.events - 1));
  const linear = new StateFold({ perf: true });
  const rr = await openTrace(P7);
  let t = 0;
  for await (const b of rr.batches()) {
    let i = 0;
    while (t < targets.length && targets[t] < b.firstSeq + b.length) {
      const j = targets[t] - b.firstSeq + 1;
      linear.foldRange(b, i, j);
      i = j;
      const f = await s.seek({ seq: targets[t] });
      assert.deepEqual(f.perf.data(f.lastTime), linear.perf.data(linear.lastTime), `seq ${targets[t]}`);
      assert.deepEqual(f.perf.save(), linear.perf.save());
      assert.notEqual(f.perf.save(), null);
      t++;
    }
    linear.foldRange(b, i, b.length);
  }
  rr.close();
  assert.equal(t, targets.length);
  let open = 0;
  for (const k of [0, 11, cps.length - 1]) {
    const sv = (await s.seek({ seq: cps[k].seq })).perf.save()!;
    open += sv.exits.length + sv.hcalls.length + sv.pfs.length;
  }
  s.close();
  assert.ok(open > 0, 'open intervals crossed a checkpoint');
  // Opt-in: a default replay keeps no perf state (and says so rather than answering zeros).
  const plain = new StateFold();
  assert.equal(plain.perf.enabled, false);
  assert.equal(plain.perf.save(), null);
  assert.throws(() => plain.perf.data(), /not enabled/);
});

test('SQLite and Arrow give the same stats', async () => {
  const a = await traceStats(P7, { indexPath: join(dir, 'none.hvidx') });
  const b = await traceStats(P7A, { indexPath: join(dir, 'none-a.hvidx') });
  assert.equal(a.events, b.events);
  assert.deepEqual(b.data, a.data);
  assert.equal(b.info.timebaseHz, 512e6);
  assert.deepEqual(statsRows(b.data, { by: 'core', sort: 'time' }, b.info.timebaseHz), statsRows(a.data, { by: 'core', sort: 'time' }, a.info.timebaseHz));
});

test('CLI: --json / --csv are the stats rows; the table has a title per section and total lines; bad --by / --sort exit 2', async () => {
  const want = statsRows((await traceStats(P970, { indexPath: join(dir, 'none-p.hvidx') })).data, { by: 'vcpu', sort: 'time' }, 312.5e6);
  const asJson = (r: StatsRow) => Object.fromEntries(STATS_COLUMNS.map(([k, t]) => [k, jsonCell(r[k], t)]));
  const j = hv('stats', P970, '--by', 'vcpu', '--sort', 'time', '--json');
  assert.equal(j.status, 0, j.stderr);
  assert.deepEqual(JSON.parse(j.stdout), want.map(asJson));
  const csv = hv('stats', P970, '--csv', '-q').stdout.trim().split('\n');
  assert.equal(csv[0], STATS_COLUMNS.map(([k]) => k).join(','));
  assert.equal(csv.length - 1, statsRows((await traceStats(P970, { indexPath: join(dir, 'none-p.hvidx') })).data).length);
  const t = hv('stats', P970, '-q');
  assert.equal(t.status, 0, t.stderr);
  for (const title of ['Exits by trap', 'Hcalls by name', 'Virtual-mode page faults', 'Storage faults', 'MMU-notifier callbacks', 'Host page operations', 'Partition switches']) assert.match(t.stdout, new RegExp(title));
  assert.match(t.stdout, /H_ENTER\/virtual\s+\d+\s+[\d.]+%\s+[\d.]+%\s+[\d.]+us\s+[\d.]+us\s+[\d.]+us/);
  assert.match(t.stdout, /^\s+Total\s+\d+\s+100\.00%\s+100\.00%/m);
  for (const bad of [['--by', 'pid'], ['--sort', 'name']]) {
    const r = hv('stats', P970, ...bad);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^hvtrace: error: /);
  }
  const lp = hv('stats', P970, '--lpid', '7');
  assert.equal(lp.status, 2);
  assert.match(lp.stderr, /^hvtrace: error: --lpid 7: no events of LPID 7 in the trace \(LPIDs: 1\)\n$/);
});

test('pairing rules on hand-made events: double exit, cross-vcpu hcall exit, unpaired exit, displaced enter, open at the end, checkpoint in between', () => {
  const ev = (seq: number, time: number, kind: TraceEvent['kind'], vcpu: number, core: number, cause: number | null, words: bigint[]) =>
    ({ seq, time, kind, lpid: 1, vcpu, core, cause, words }) as TraceEvent;
  const events = [
    ev(0, 100, 'guest_exit', 0, 0, null, [0x980n]),
    ev(1, 150, 'guest_exit', 0, 0, null, [0xe00n]), // closes the first exit at 150
    ev(2, 400, 'guest_enter', 0, 0, null, []),
    ev(3, 500, 'hcall_enter', 1, 2, null, [0x8n]),
    ev(4, 540, 'hcall_exit', 2, 2, 3, [0x8n, 0n, 1n]), // on another vcpu: pairs by cause, virtual mode
    ev(5, 600, 'hcall_exit', 1, 2, 99, [0x8n, 0n, 0n]), // no enter: unpaired
    ev(6, 700, 'hcall_enter', 1, 2, null, [0x4n]),
    ev(7, 710, 'hcall_enter', 1, 2, null, [0x8n]), // before 6 ended: 6 moves to the overflow
    ev(8, 750, 'hcall_exit', 1, 2, 6, [0x4n, 0n, 0n]),
    ev(9, 800, 'guest_exit', 3, 1, null, [0x980n]),
    ev(10, 810, 'page_fault_enter', 3, 1, 9, []),
    { ...ev(11, 900, 'tlbie', -1, -1, null, [0n, 0n]), lpid: -1 } as TraceEvent,
    ev(12, 1000, 'run_end', -1, -1, null, [12n]),
  ];
  const b = batchOf(events);
  const names = (d: PerfData) =>
    Object.fromEntries(d.rows.map((r) => [`${PERF_SECTIONS[r.section]} ${r.lpid}/${r.vcpu}/${r.core} ${rowName(r.section, r.code).name}`, [r.samples, r.total, r.min, r.max]]));
  const want = {
    'exits 1/0/0 HV_DECREMENTER': [1, 50, 50, 50],
    'exits 1/0/0 H_DATA_STORAGE': [1, 250, 250, 250],
    'exits 1/3/1 HV_DECREMENTER': [1, 200, 200, 200], // open: ends at the last event (1000)
    'hcalls 1/1/2 H_ENTER/virtual': [1, 40, 40, 40],
    'hcalls 1/1/2 H_REMOVE/real': [1, 50, 50, 50],
    'hcalls 1/1/2 H_ENTER/unfinished': [1, 290, 290, 290],
    'page_faults 1/3/1 unfinished': [1, 190, 190, 190],
    'cores -1/-1/-1 tlbie/global': [1, 0, 0, 0],
  };
  const linear = new PerfHandler(true);
  linear.seeRange(b, 0, b.length);
  const d = linear.data(1000);
  assert.deepEqual(names(d), want);
  assert.equal(d.unpairedHcallExits, 1);
  assert.equal(d.open, 3);
  // A checkpoint after every event: save, restore into a fresh handler, fold the rest.
  for (let k = 1; k < b.length; k++) {
    const a = new PerfHandler(true);
    a.seeRange(b, 0, k);
    const r = new PerfHandler(true);
    r.restore(JSON.parse(JSON.stringify(a.save())));
    r.seeRange(b, k, b.length);
    assert.deepEqual(names(r.data(1000)), want, `checkpoint after seq ${k - 1}`);
    assert.deepEqual(r.save(), linear.save());
  }
});
