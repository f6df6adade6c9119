// Read-only SQL by construction, for `hvtrace query` (query-db.ts opens the database read-only and
// with PRAGMA query_only; this module refuses, in one line, every statement that could write or
// change the connection, before anything runs):
//
//   - exactly one statement (a trailing `;` and comments are fine);
//   - it must return rows and be read-only as SQLite itself judges it (stmt.reader, stmt.readonly:
//     sqlite3_stmt_readonly), which refuses INSERT/UPDATE/DELETE (also with RETURNING or behind a
//     WITH), CREATE/DROP/ALTER, VACUUM (also VACUUM INTO), ANALYZE, REINDEX, BEGIN/COMMIT/SAVEPOINT;
//   - ATTACH and DETACH are refused by name: sqlite3_stmt_readonly is true for them (they change
//     the connection, not a file), and ATTACH could create a file;
//   - PRAGMA only in a read form of a known read-only pragma (no `= value`, an argument only for
//     the introspection pragmas that take a table or index name): `PRAGMA query_only = 0` is
//     "read-only" to SQLite and would undo the connection's guard; `PRAGMA journal_mode(WAL)` writes;
//   - load_extension() is refused by name wherever it appears (better-sqlite3 leaves the SQL
//     function unauthorised anyway; this says so in one line instead of "not authorized").
//
// Parameters are bound, never spliced into the SQL: `--param name=value` binds @name, :name and
// $name. Values that are decimal integers bind as INTEGER (64-bit: a decimal up to 2^64-1 binds as
// its two's-complement bit pattern, as 64-bit words are stored), 0x… as a 64-bit INTEGER
// (BigInt.asIntN(64, …): `--param v=0x8000000000000001` matches the stored word), a decimal with a
// fraction or exponent as REAL, anything else as TEXT. A parameter the statement names but no
// --param gives, a --param the statement does not name, and a positional `?` are errors.

import type Database from 'better-sqlite3';
import { UserError } from '../trace/errors.js';

export type ParamValue = bigint | number | string;

/** What the scanner finds in a SQL text (outside string literals, quoted identifiers and comments). */
export interface SqlScan {
  /** Bare words (keywords and identifiers) of each statement, upper-cased, in order. */
  statements: string[][];
  /** Named parameters without their prefix (@x, :x, $x all name x). */
  named: Set<string>;
  /** Positional parameters (`?`, `?NNN`) seen. */
  positional: boolean;
  /** The text of the first statement's tokens from the first one, `=` and `(` included (for PRAGMA). */
  tokens: string[][];
}

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const NAME = /[A-Za-z0-9_]+/y;

/**
 * A small SQL scanner (SQLite's lexical rules): comments `--…` and `/* … *\/`, strings '…' ('' is
 * a quote), quoted identifiers "…" `…` […], parameters ? ?NNN :name @name $name, words, `;`.
 * Only what the guard needs; SQLite itself parses the statement.
 */
export function scanSql(sql: string): SqlScan {
  const statements: string[][] = [[]];
  const tokens: string[][] = [[]];
  const named = new Set<string>();
  let positional = false;
  let i = 0;
  const n = sql.length;
  const push = (t: string, word: boolean) => {
    tokens.at(-1)!.push(t);
    if (word) statements.at(-1)!.push(t.toUpperCase());
  };
  while (i < n) {
    const c = sql[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') i++;
    else if (c === '-' && sql[i + 1] === '-') {
      const e = sql.indexOf('\n', i);
      i = e < 0 ? n : e + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        const e = sql.indexOf(close, j);
        if (e < 0) {
          j = n;
          break;
        }
        if (close !== ']' && sql[e + 1] === close) {
          j = e + 2;
          continue;
        }
        j = e + 1;
        break;
      }
      // A quoted identifier is a name, a string literal is a value: neither is a keyword.
      push(sql.slice(i, j), false);
      i = j;
    } else if (c === ';') {
      statements.push([]);
      tokens.push([]);
      i++;
    } else if (c === '?') {
      positional = true;
      i++;
      while (i < n && sql[i] >= '0' && sql[i] <= '9') i++;
      push('?', false);
    } else if ((c === ':' || c === '@' || c === '$') && i + 1 < n) {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(sql);
      if (m) {
        named.add(m[0]);
        push(c + m[0], false);
        i = NAME.lastIndex;
      } else {
        push(c, false);
        i++;
      }
    } else {
      WORD.lastIndex = i;
      const m = WORD.exec(sql);
      if (m) {
        push(m[0], true);
        i = WORD.lastIndex;
      } else {
        push(c, false);
        i++;
      }
    }
  }
  // Drop empty statements (a trailing `;`, comments only).
  const keep = tokens.map((t) => t.length > 0);
  return { statements: statements.filter((_, k) => keep[k]), tokens: tokens.filter((_, k) => keep[k]), named, positional };
}

/** PRAGMAs accepted in their read form (`PRAGMA name`): none of them changes anything when read. */
const READ_PRAGMAS = new Set([
  'application_id', 'auto_vacuum', 'cache_size', 'collation_list', 'compile_options', 'data_version', 'database_list',
  'encoding', 'foreign_keys', 'freelist_count', 'function_list', 'integrity_check', 'module_list',
  'page_count', 'page_size', 'pragma_list', 'query_only', 'quick_check', 'schema_version', 'table_list', 'user_version',
]);
/** PRAGMAs whose argument names a table or index (`PRAGMA table_info(events)`): introspection only. */
const NAME_ARG_PRAGMAS = new Set(['table_info', 'table_xinfo', 'index_list', 'index_info', 'index_xinfo', 'foreign_key_list', 'table_list', 'integrity_check', 'quick_check']);

function refuse(why: string): never {
  throw new UserError(`query is read-only: ${why}`);
}

/** The statement after EXPLAIN [QUERY PLAN], token-wise. */
function stripExplain(kw: string[], toks: string[]): [string[], string[]] {
  if (kw[0] !== 'EXPLAIN') return [kw, toks];
  const k = kw[1] === 'QUERY' && kw[2] === 'PLAN' ? 3 : 1;
  let t = 0;
  let seen = 0;
  while (t < toks.length && seen < k) if (/^[A-Za-z_]/.test(toks[t++])) seen++;
  return [kw.slice(k), toks.slice(t)];
}

function checkPragma(toks: string[]): void {
  // PRAGMA [schema.]name [= value | (arg)]
  let t = 1;
  let name = toks[t++] ?? '';
  if (toks[t] === '.') {
    name = toks[t + 1] ?? '';
    t += 2;
  }
  const lname = name.toLowerCase();
  const rest = toks.slice(t);
  if (rest.length === 0) {
    if (READ_PRAGMAS.has(lname) || NAME_ARG_PRAGMAS.has(lname)) return;
    refuse(`PRAGMA ${name} is not one of the read-only PRAGMAs accepted (${[...READ_PRAGMAS].join(', ')}; with a name argument: ${[...NAME_ARG_PRAGMAS].join(', ')}); pragma_<name>() table-valued functions in a SELECT are read-only`);
  }
  if (rest[0] === '=') refuse(`PRAGMA ${name} = … changes a setting`);
  if (rest[0] === '(' && NAME_ARG_PRAGMAS.has(lname) && rest.at(-1) === ')' && rest.length === 3) return;
  refuse(`PRAGMA ${name}(…) is refused: only ${[...NAME_ARG_PRAGMAS].join(', ')} take an argument (a table or index name)`);
}

/** Parse `--param name=value` strings into bound values (see the top of this file). */
export function parseParams(list: readonly string[] = []): Map<string, ParamValue> {
  const out = new Map<string, ParamValue>();
  for (const p of list) {
    const eq = p.indexOf('=');
    const name = eq < 0 ? '' : p.slice(0, eq).replace(/^[@:$]/, '');
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new UserError(`--param ${p}: expected name=value (a name of letters, digits and _)`);
    if (out.has(name)) throw new UserError(`--param ${name} given twice`);
    out.set(name, paramValue(p.slice(eq + 1)));
  }
  return out;
}

const TWO64 = 1n << 64n;
const MIN64 = -(1n << 63n);

export function paramValue(v: string): ParamValue {
  if (/^0x[0-9a-f]+$/i.test(v)) {
    const b = BigInt(v);
    if (b >= TWO64) throw new UserError(`--param value ${v} is wider than 64 bits`);
    return BigInt.asIntN(64, b);
  }
  if (/^-?\d+$/.test(v)) {
    const b = BigInt(v);
    if (b < MIN64 || b >= TWO64) throw new UserError(`--param value ${v} does not fit in 64 bits`);
    return BigInt.asIntN(64, b);
  }
  if (/^-?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$/.test(v)) return Number(v);
  return v;
}

/** Map a SQLite error to the user's one line. */
export function sqlError(e: unknown): UserError {
  const msg = (e as Error)?.message ?? String(e);
  return new UserError(`SQL error: ${msg.split('\n')[0]}`);
}

export interface GuardedQuery {
  stmt: Database.Statement;
  /** Bind values by parameter name (pass as the one argument of iterate/all when defined). */
  bind: Record<string, ParamValue> | undefined;
}

/**
 * Check `sql` (see the top of this file), prepare it on `db` and bind `params`. Throws a one-line
 * UserError for every refusal, a SQL error (syntax, unknown table or column) and a parameter that
 * is missing or not used. Nothing has run when it returns.
 */
export function prepareReadOnly(db: Database.Database, sql: string, params: ReadonlyMap<string, ParamValue> = new Map()): GuardedQuery {
  const scan = scanSql(sql);
  if (scan.statements.length === 0) throw new UserError('no SQL statement given');
  if (scan.statements.length > 1) refuse(`one statement at a time (found ${scan.statements.length}, separated by ';')`);
  const [kw, toks] = stripExplain(scan.statements[0], scan.tokens[0]);
  const first = kw[0] ?? '';
  if (first === 'ATTACH' || first === 'DETACH') refuse(`${first} is refused (it changes the connection and may create a file)`);
  if (first === 'PRAGMA') checkPragma(toks);
  if (scan.statements[0].includes('LOAD_EXTENSION')) refuse('load_extension() is refused');
  if (scan.positional) throw new UserError('positional parameters (?) are not supported: name them (@name) and pass --param name=value');
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    throw sqlError(e);
  }
  if (!stmt.readonly) refuse(`the statement would write (${first || 'it'} …); only reads run`);
  if (!stmt.reader) refuse(`the statement returns no rows (${first || 'it'} …); only row-returning reads (SELECT, WITH … SELECT, VALUES, EXPLAIN, read PRAGMAs) run`);
  for (const n of scan.named) if (!params.has(n)) throw new UserError(`missing parameter @${n}: pass --param ${n}=VALUE`);
  for (const n of params.keys()) if (!scan.named.has(n)) throw new UserError(`--param ${n}: the statement has no parameter @${n}, :${n} or $${n}`);
  const bind = scan.named.size ? Object.fromEntries([...scan.named].map((n) => [n, params.get(n)!])) : undefined;
  return { stmt, bind };
}
