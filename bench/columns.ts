// `npm run bench -- sqlite-columns [--rows N] [--runs R] [--json]`
// Raw better-sqlite3 multi-row INSERT speed (128 rows per statement, 65,536 rows per transaction,
// WAL) — what bounds the SQLite sink:
//  - by column count (8, 11, 13, 16, 19 INTEGER columns), with the sink's settings;
//  - for 19 columns (the events table), by binding style and page size: parameters passed as one
//    array (`run(params)`) or spread as arguments (`run(...params)`), 4 KiB or 16 KiB pages.
// Variants are interleaved within each run; medians of R runs.

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRACE_PAGE_SIZE } from '../src/trace/sqlite-sink.js';
import { median, parseBenchArgs, printFigures } from './util.js';

interface Variant {
  name: string;
  ncol: number;
  spread: boolean;
  pageSize: number;
}

function insertRows(path: string, v: Variant, N: number): number {
  const { ncol } = v;
  const db = new Database(path);
  db.pragma(`page_size = ${v.pageSize}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE t (${Array.from({ length: ncol }, (_, i) => `c${i} INTEGER${i === 0 ? ' PRIMARY KEY' : ''}`).join(',')}) STRICT`);
  const ROWS = 128;
  const row = `(${new Array(ncol).fill('?').join(',')})`;
  const st = db.prepare(`INSERT INTO t VALUES ${new Array(ROWS).fill(row).join(',')}`);
  const params: (number | null)[] = new Array(ncol * ROWS).fill(0);
  const t0 = performance.now();
  for (let s = 0; s + ROWS <= N; s += 65536) {
    db.exec('BEGIN');
    for (let i = s; i < Math.min(N, s + 65536) - ROWS + 1; i += ROWS) {
      for (let r = 0; r < ROWS; r++) {
        params[r * ncol] = i + r;
        for (let c = 1; c < ncol; c++) params[r * ncol + c] = c < 8 ? ((i * 7 + c) & 0xffff) : c % 3 === 0 ? null : 123456789 + c;
      }
      if (v.spread) st.run(...params);
      else st.run(params);
    }
    db.exec('COMMIT');
  }
  const rate = N / ((performance.now() - t0) / 1000);
  db.close();
  return rate;
}

export async function benchColumns(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const N = (args.rows as number | undefined) ?? 1_000_000;
  const variants: Variant[] = [
    ...[8, 11, 13, 16, 19].map((ncol) => ({ name: `cols_${ncol}_rows_per_s`, ncol, spread: true, pageSize: TRACE_PAGE_SIZE })),
    { name: 'cols_19_array_4k_rows_per_s', ncol: 19, spread: false, pageSize: 4096 },
    { name: 'cols_19_spread_4k_rows_per_s', ncol: 19, spread: true, pageSize: 4096 },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-cols-'));
  const runs: Record<string, number[]> = {};
  try {
    for (let r = 0; r < args.runs; r++) {
      for (const v of variants) {
        const path = join(dir, `${v.name}.sqlite`);
        rmSync(path, { force: true });
        (runs[v.name] ??= []).push(insertRows(path, v, N));
        rmSync(path, { force: true });
      }
      if (!args.json) process.stderr.write(`run ${r + 1}/${args.runs} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig: Record<string, number> = { rows: N, page_size: TRACE_PAGE_SIZE };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  fig.spread_vs_array_ratio = fig.cols_19_spread_4k_rows_per_s / fig.cols_19_array_4k_rows_per_s;
  fig.page_16k_vs_4k_ratio = fig.cols_19_rows_per_s / fig.cols_19_spread_4k_rows_per_s;
  printFigures('sqlite-columns', fig, args, runs);
}
