// `npm run bench -- sqlite-columns [--rows N] [--json]`
// Raw better-sqlite3 multi-row INSERT speed by column count (8, 11, 13, 16, 19 INTEGER columns;
// 128 rows per statement, 65,536 rows per transaction, WAL): how much the events table's width
// bounds the SQLite sink (see bench/README.md, sinks).

import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs, printFigures } from './util.js';

export async function benchColumns(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 1 });
  const N = (args.rows as number | undefined) ?? 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-cols-'));
  const fig: Record<string, number> = { rows: N };
  try {
    for (const ncol of [8, 11, 13, 16, 19]) {
      const db = new Database(join(dir, `c${ncol}.sqlite`));
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
          st.run(params);
        }
        db.exec('COMMIT');
      }
      fig[`cols_${ncol}_rows_per_s`] = N / ((performance.now() - t0) / 1000);
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printFigures('sqlite-columns', fig, args);
}
