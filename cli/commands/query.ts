// hvtrace query TRACE SQL [--param name=value …] [--format table|csv|json|ndjson] [--limit N] [-q]
// Read-only SQL over the documented tables and views, on a SQLite trace in place or an Arrow trace
// through its cached SQLite copy (src/analysis/query-db.ts), one statement checked by
// src/analysis/sql-guard.ts. Rows stream from the statement to cli/format.ts's RowWriter as they
// are read (memory stays flat on any result); column types come from the view definitions, so
// `SELECT ea FROM faults` prints 0x… and `SELECT 42 AS ea` prints 42.
import { openQueryDb } from '../../src/analysis/query-db.js';
import { parseParams, sqlError } from '../../src/analysis/sql-guard.js';
import { declareStateTables, registerStateTables, type StateTables } from '../../src/analysis/state-tables.js';
import { UserError } from '../../src/trace/errors.js';
import { type Cell, DEFAULT_TABLE_ROWS, ROW_FORMATS, type RowOutputOptions, RowWriter, rowFormat } from '../format.js';
import { progress } from '../progress.js';

export interface QueryOptions extends RowOutputOptions {
  param?: string[];
}

export async function queryCommand(path: string, sql: string, opts: QueryOptions): Promise<number> {
  const format = rowFormat(opts);
  if (!ROW_FORMATS.includes(format)) throw new UserError(`--format ${opts.format}: expected one of ${ROW_FORMATS.join(', ')}`);
  const params = parseParams(opts.param);
  // The state tables (hpte_at, rmap_at, host_page_at, slb_at) on the trace's connection, and
  // declared on the typing probe so their word columns print 0x….
  const stateTables: StateTables[] = [];
  const q = await openQueryDb(path, {
    progress: opts.quiet ? undefined : (label, total) => progress(label, total, false),
    extensions: [(db) => (db.memory ? declareStateTables(db) : stateTables.push(registerStateTables(db)))],
  });
  try {
    const { stmt, bind, columns } = q.prepare(sql, params);
    const limit = opts.limit;
    const w = new RowWriter(columns, { format, tableRows: limit ?? DEFAULT_TABLE_ROWS });
    // A table without --limit shows DEFAULT_TABLE_ROWS rows; the rest is counted inside SQLite when
    // the statement can be wrapped in a count (no row converted to JavaScript), else by stepping.
    const shown = format === 'table' && limit === undefined ? DEFAULT_TABLE_ROWS : Number.POSITIVE_INFINITY;
    let n = 0;
    let more = false;
    try {
      const rows = (bind ? stmt.iterate(bind) : stmt.iterate()) as IterableIterator<Cell[]>;
      for (const row of rows) {
        if (limit !== undefined && n >= limit) break; // ends the iterator (the statement is reset)
        if (n === shown && !more) {
          more = true;
          break;
        }
        n++;
        const p = w.push(row);
        if (p) await p;
      }
      if (more) {
        const total = q.countRows(sql, bind);
        if (total !== undefined && total >= n) w.skip(total - n);
        else {
          // Count by stepping: the rows past the table's limit are counted, not kept.
          const again = (bind ? stmt.iterate(bind) : stmt.iterate()) as IterableIterator<Cell[]>;
          let k = 0;
          for (const row of again) if (k++ >= n) w.push(row);
        }
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw sqlError(e);
    }
    await w.end();
  } finally {
    for (const t of stateTables) t.close();
    q.close();
  }
  if (q.truncation) process.stderr.write(`hvtrace: warning: ${path}: ${q.truncation}\n`);
  return 0;
}
