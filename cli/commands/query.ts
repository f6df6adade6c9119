// hvtrace query TRACE SQL: read-only SQL over a SQLite trace (tables, ev_<kind> and contract views).
// Columns named like a 64-bit field of any kind (old_v, rb, ea, ...) print as 0x… hex; a field name has one
// type in every kind (kinds.ts), so a column of a view that mixes kinds (faults.gfn) prints one way.
import Database from 'better-sqlite3';
import { registerStateTables, STATE_COLUMN_TYPES } from '../../src/analysis/state-tables.js';
import { KINDS, KIND_NAMES } from '../../src/trace/kinds.js';
import { SqliteTraceReader, sniffFormat } from '../../src/trace/reader.js';
import { UserError } from '../../src/trace/errors.js';
import { type Cell, outputFormat, printRows } from '../output.js';

const HEX_COLUMNS = new Set<string>(
  KIND_NAMES.flatMap((k) => KINDS[k].fields.filter((f) => f.type === 'hex').map((f) => f.name as string)),
);
for (const [c, t] of Object.entries(STATE_COLUMN_TYPES)) if (t === 'hex') HEX_COLUMNS.add(c); // state tables (v, r, ...)

export async function queryCommand(path: string, sql: string, opts: { json?: boolean; csv?: boolean }): Promise<number> {
  if (sniffFormat(path) !== 'sqlite') throw new UserError(`${path}: 'query' needs a SQLite trace; convert first: hvtrace convert ${path} -o trace.sqlite`);
  const reader = SqliteTraceReader.open(path);
  const db: Database.Database = reader.db;
  const stateTables = registerStateTables(db);
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    reader.close();
    throw new UserError(`SQL error: ${(e as Error).message}`);
  }
  if (!stmt.reader) {
    reader.close();
    throw new UserError('query is read-only: the statement returns no rows');
  }
  stmt.safeIntegers(true).raw(true);
  const columns = stmt.columns().map((c) => c.name);
  let rows: Cell[][];
  try {
    rows = (stmt.all() as unknown[][]).map((r) =>
      r.map((v, i) => {
        if (typeof v !== 'bigint') return v as Cell;
        if (HEX_COLUMNS.has(columns[i])) return BigInt.asUintN(64, v);
        return Number(v);
      }),
    );
  } catch (e) {
    throw new UserError(`SQL error: ${(e as Error).message}`);
  } finally {
    stateTables.close();
    reader.close();
  }
  printRows(outputFormat(opts), columns, rows);
  return 0;
}
