// `npm run bench -- state-tables [--accesses N] [--trace PATH] [--probes P] [--runs R] [--json]`
// The state tables (src/analysis/state-tables.ts) on a big SQLite trace: records `mix` with N
// accesses (default 1,000,000: ≈ 7.8M events) once with the CLI (cached in
// $TMPDIR/hvtrace-bench-state-tables/, keyed by N), or uses --trace. Then, in this process:
//   - hpte_at probe: `SELECT v, r FROM hpte_at(?) WHERE lpid = ? AND hpte_index = ?` at P random
//     faults (default 2,000; seeded), warm (one pass first): median and p90 µs, and the same
//     lookup as plain SQL on the events index for comparison;
//   - the fault × hpte_at join over every fault (count of rows, median of R runs, seconds), and the
//     scan of the faults view alone (the part of the join that is not the function);
//   - a listing (every slot, no key) of each table at the last event, seconds;
//   - peak RSS of this process (the recording runs in a child).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { registerStateTables } from '../src/analysis/state-tables.js';
import { Prng } from '../src/base/prng.js';
import { median, parseBenchArgs, printFigures } from './util.js';

const BIN = join(fileURLToPath(import.meta.url), '../../../bin/hvtrace.js');

function ensureTrace(accesses: number, log: (s: string) => void): string {
  const dir = join(tmpdir(), 'hvtrace-bench-state-tables');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `mix-${accesses}.sqlite`);
  if (existsSync(path)) return path;
  log(`recording mix --accesses ${accesses} (once; cached at ${path})...\n`);
  const tmp = join(dir, `tmp-${accesses}.sqlite`);
  const r = spawnSync(process.execPath, [BIN, 'record', '-w', 'mix', '--accesses', String(accesses), '-o', tmp, '-q', '--force', '--no-index'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`record failed (exit ${r.status})`);
  renameSync(tmp, path);
  return path;
}

export async function benchStateTables(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const accesses = Number(args.accesses ?? 1_000_000);
  const probes = Number(args.probes ?? 2000);
  const log = (s: string) => (args.json ? undefined : process.stderr.write(s));
  const path = typeof args.trace === 'string' ? args.trace : ensureTrace(accesses, log);

  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.defaultSafeIntegers(true);
  const tables = registerStateTables(db);
  const events = Number(db.prepare('SELECT max(seq) + 1 FROM events').pluck().get() as bigint);
  const faults = db.prepare('SELECT seq, lpid, hpte_index FROM faults WHERE hpte_index >= 0').raw(true).all() as bigint[][];
  const prng = new Prng(11);
  const sample = Array.from({ length: Math.min(probes, faults.length) }, () => faults[prng.below(faults.length)]);

  // One probe, warm.
  const probe = db.prepare('SELECT v, r FROM hpte_at(?) WHERE lpid = ? AND hpte_index = ?').raw(true);
  const plain = db.prepare('SELECT seq, w3, w4 FROM events WHERE kind = 20 AND w0 = ? AND seq <= ? AND lpid = ? ORDER BY seq DESC LIMIT 1').raw(true);
  for (const [s, l, i] of sample) probe.get(s, l, i);
  const us: number[] = [];
  const usPlain: number[] = [];
  for (const [s, l, i] of sample) {
    let t = process.hrtime.bigint();
    probe.get(s, l, i);
    us.push(Number(process.hrtime.bigint() - t) / 1000);
    t = process.hrtime.bigint();
    plain.get(i, s, l);
    usPlain.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  us.sort((a, b) => a - b);

  // The join over every fault.
  const join_ = db.prepare('SELECT count(*) FROM faults f, hpte_at(f.seq) h WHERE h.hpte_index = f.hpte_index AND h.lpid = f.lpid').pluck();
  const joinS: number[] = [];
  let joinRows = 0;
  for (let r = 0; r < args.runs; r++) {
    const t = performance.now();
    joinRows = Number(join_.get() as bigint);
    joinS.push((performance.now() - t) / 1000);
  }

  // The same scan of the faults view without the function: what the join costs beyond its probes.
  const scan = db.prepare('SELECT count(*) FROM faults f WHERE f.hpte_index >= 0 OR f.hpte_index < 0').pluck();
  const scanS: number[] = [];
  for (let r = 0; r < args.runs; r++) {
    const t = performance.now();
    scan.get();
    scanS.push((performance.now() - t) / 1000);
  }

  // Listings at the last event.
  const listing: Record<string, number> = {};
  for (const f of ['hpte_at', 'rmap_at', 'host_page_at', 'slb_at']) {
    const t = performance.now();
    db.prepare(`SELECT count(*) FROM ${f}(?)`).pluck().get(events - 1);
    listing[`${f}_listing_end_s`] = (performance.now() - t) / 1000;
  }
  tables.close();
  db.close();

  printFigures('state-tables', {
    events,
    faults_probed: faults.length,
    hpte_at_probe_us: median(us),
    hpte_at_probe_p90_us: us[Math.floor(us.length * 0.9)],
    plain_sql_probe_us: median(usPlain),
    fault_hpte_join_s: median(joinS),
    fault_hpte_join_rows: joinRows,
    faults_view_scan_s: median(scanS),
    ...listing,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }, args, { fault_hpte_join_s: joinS });
}
