// A trace opened for SQL (`hvtrace query`): the same documented tables and views (events, meta,
// kinds, kind_fields, enums, ev_<kind>, the contract views of trace/sqlite-schema.ts) whatever the
// trace's format, on a read-only connection, with column types taken from the view definitions.
//
// SQLite trace: opened in place, read-only (`readonly: true`, then PRAGMA query_only); nothing is
// written beside it.
//
// Arrow trace: a cached SQLite copy `<trace>.hvq` beside it, built once by the ordinary reader
// (trace/reader.ts openTrace → batches) into the ordinary SQLite sink (trace/sqlite-sink.ts: sinks
// never interpret events), so the copy is exactly what `hvtrace convert` would write, with the
// recording's indexes. It is
//   - deterministic: byte-identical for the same trace (no time, no path inside);
//   - stamped with the trace's content fingerprint (replay/checkpoints.ts `fingerprint`, the one
//     the .hvidx index uses: size + sampled blocks, no mtime) and CACHE_VERSION in its table
//     `_hvq`; a cache whose stamp differs from the trace (or that does not open) is rebuilt;
//   - written to `<cache>.tmp-<pid>` and renamed, so a crash never leaves a half cache under the
//     real name;
//   - for a truncated stream, a copy of every readable event, with the reader's truncation message
//     stored so that every query on it repeats the warning.
// Where: beside the trace when its directory is writable (or when a valid cache is already there),
// else $TMPDIR/hvtrace-query/<sha1(abs path)[:16]>-<name>.hvq (as .hvidx falls back to
// $TMPDIR/hvtrace-index/). The cost is measured in bench/README.md ("query cache").
//
// Column types (format.ts ColumnType) come from a *probe schema*: an in-memory database where each
// ev_<kind> is a TABLE whose columns are declared with the field's type (HEX for 'hex', INTEGER for
// 'u'/'i', TEXT for an enum; seq, time, lpid, vcpu, core, cause INTEGER), the lookup tables as in a
// trace, and the contract views created over them with their real SQL. The user's statement is
// prepared there too (never run) and sqlite3_column_decltype, which follows a direct column
// reference through views, subqueries and CTEs, names each result column's type: `SELECT ea FROM
// faults` is HEX, `SELECT f.ea FROM faults f JOIN …` too, `SELECT 42 AS ea` or `max(ea)` has none
// (printed by value). The events table's w0..w11 are INTEGER: untyped words print in decimal.

import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fingerprint, type TraceFingerprint } from '../replay/checkpoints.js';
import { scanArrowLayout } from '../replay/event-source.js';
import { UserError } from '../trace/errors.js';
import { KINDS, KIND_NAMES } from '../trace/kinds.js';
import { ArrowTraceReader, SqliteTraceReader, sniffFormat, type TraceFormat } from '../trace/reader.js';
import type { RunInfo } from '../trace/run-info.js';
import { CONTRACT_VIEWS, CREATE_TABLES } from '../trace/sqlite-schema.js';
import { SqliteSink } from '../trace/sqlite-sink.js';
import { type ParamValue, prepareReadOnly } from './sql-guard.js';

/** Bump when the cache's content rules change (a cache of another version is rebuilt). */
export const CACHE_VERSION = 1;
/** The table of a cache that stamps it: key/value rows (version, fingerprint, truncation). */
export const CACHE_TABLE = '_hvq';

/** How a column prints (the same union as cli/format.ts ColumnType). */
export type QueryColumnType = 'hex' | 'int' | 'real' | 'text' | null;
export interface QueryColumn {
  name: string;
  type: QueryColumnType;
}

export interface QueryProgress {
  update(done: number): void;
  stop(): void;
}

export interface QueryDbOptions {
  /** A progress display while an Arrow cache is built (events done out of total). */
  progress?: (label: string, total: number) => QueryProgress;
  /** Where caches go when the trace's directory is not writable (default $TMPDIR/hvtrace-query). */
  fallbackDir?: string;
  /** Ignore a valid cache and build it again. */
  rebuild?: boolean;
  /**
   * Registered on the trace connection and on the probe (functions, table-valued functions): the
   * probe must know every name a statement may use, or its columns get no type.
   */
  extensions?: readonly ((db: Database.Database) => void)[];
}

export interface PreparedQuery {
  /** safeIntegers + raw: rows are arrays, integers BigInt. */
  stmt: Database.Statement;
  bind: Record<string, ParamValue> | undefined;
  columns: QueryColumn[];
}

export interface QueryDb {
  readonly path: string;
  readonly format: TraceFormat;
  /** The read-only connection (the trace itself, or its .hvq cache). */
  readonly db: Database.Database;
  /** The file `db` reads: the trace, or its cache. */
  readonly dbPath: string;
  /** The cache was built by this open (Arrow only). */
  readonly built: boolean;
  /** The reader's truncation message for a cut Arrow stream (repeated on every open of its cache). */
  readonly truncation: string | undefined;
  /** Check, prepare and type a statement (sql-guard.ts); nothing runs. */
  prepare(sql: string, params?: ReadonlyMap<string, ParamValue>): PreparedQuery;
  /** Column types of a statement from the probe schema (null where no view declares one). */
  columnTypes(sql: string, names: readonly string[]): QueryColumnType[];
  /**
   * The number of rows a statement already checked by `prepare` returns, counted inside SQLite
   * (`SELECT count(*) FROM (…)`, no row reaches JavaScript), or undefined when it cannot be wrapped
   * so (PRAGMA, EXPLAIN, a trailing comment after `;`): the caller then counts by stepping.
   */
  countRows(sql: string, bind: Record<string, ParamValue> | undefined): number | undefined;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// The probe schema
// ---------------------------------------------------------------------------------------------

const COMMON = ['seq', 'time', 'lpid', 'vcpu', 'core', 'cause'];

/** DDL of the probe: lookup tables and events as in a trace, ev_<kind> as typed tables, the contract views. */
export function probeSchemaSql(): string {
  const kinds = KIND_NAMES.map((k) => {
    const cols = [...COMMON.map((c) => `${c} INTEGER`), ...KINDS[k].fields.map((f) => `${f.name} ${f.type === 'hex' ? 'HEX' : f.type === 'u' || f.type === 'i' ? 'INTEGER' : 'TEXT'}`)];
    return `CREATE TABLE ev_${k} (${cols.join(', ')});`;
  });
  return [CREATE_TABLES, ...kinds, ...Object.values(CONTRACT_VIEWS).map((v) => v.sql)].join('\n');
}

const DECLTYPES: Record<string, QueryColumnType> = { HEX: 'hex', INTEGER: 'int', TEXT: 'text', REAL: 'real' };

function openProbe(extensions: QueryDbOptions['extensions']): Database.Database {
  const probe = new Database(':memory:');
  probe.exec(probeSchemaSql());
  for (const x of extensions ?? []) x(probe);
  return probe;
}

function probeTypes(probe: Database.Database, sql: string, names: readonly string[]): QueryColumnType[] {
  try {
    const cols = probe.prepare(sql).columns();
    if (cols.length === names.length && cols.every((c, i) => c.name === names[i])) return cols.map((c) => DECLTYPES[(c.type ?? '').toUpperCase()] ?? null);
  } catch {
    // A name only the trace's connection knows (e.g. a cache's own table): typed by value.
  }
  return names.map(() => null);
}

class OpenQueryDb implements QueryDb {
  constructor(
    readonly path: string,
    readonly format: TraceFormat,
    readonly db: Database.Database,
    readonly dbPath: string,
    readonly built: boolean,
    readonly truncation: string | undefined,
    private readonly probe: Database.Database,
  ) {}

  prepare(sql: string, params: ReadonlyMap<string, ParamValue> = new Map()): PreparedQuery {
    const { stmt, bind } = prepareReadOnly(this.db, sql, params);
    stmt.safeIntegers(true).raw(true);
    const names = stmt.columns().map((c) => c.name);
    const types = this.columnTypes(sql, names);
    return { stmt, bind, columns: names.map((name, i) => ({ name, type: types[i] })) };
  }

  columnTypes(sql: string, names: readonly string[]): QueryColumnType[] {
    return probeTypes(this.probe, sql, names);
  }

  countRows(sql: string, bind: Record<string, ParamValue> | undefined): number | undefined {
    const body = sql.replace(/[\s;]+$/, '');
    if (/^\s*(PRAGMA|EXPLAIN)\b/i.test(body)) return undefined;
    let st: Database.Statement;
    try {
      // The newlines keep a trailing `-- comment` of the statement from swallowing the parenthesis.
      st = this.db.prepare(`SELECT count(*) FROM (\n${body}\n)`);
    } catch {
      return undefined;
    }
    if (!st.readonly || !st.reader) return undefined;
    const n = (bind ? st.pluck().get(bind) : st.pluck().get()) as number;
    return Number(n);
  }

  close(): void {
    if (this.db.open) this.db.close();
    if (this.probe.open) this.probe.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------------------------

/** Open a trace (SQLite or Arrow) for read-only SQL; see the top of this file. */
export async function openQueryDb(path: string, opts: QueryDbOptions = {}): Promise<QueryDb> {
  const format = sniffFormat(path);
  if (format === 'sqlite') {
    const r = SqliteTraceReader.open(path); // validates: an hvtrace trace of a known version
    const db = r.db;
    db.pragma('query_only = 1');
    for (const x of opts.extensions ?? []) x(db);
    return new OpenQueryDb(path, format, db, path, false, undefined, openProbe(opts.extensions));
  }
  const { cache, built, truncation } = await arrowCache(path, opts);
  const db = openCacheDb(cache);
  db.pragma('query_only = 1');
  for (const x of opts.extensions ?? []) x(db);
  return new OpenQueryDb(path, format, db, cache, built, truncation, openProbe(opts.extensions));
}

function openCacheDb(cache: string): Database.Database {
  try {
    return new Database(cache, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new UserError(`${cache}: cannot open the query cache: ${(e as Error).message}`, 3);
  }
}

/** The cache path beside the trace, and the fallback one. */
export function queryCachePaths(trace: string, fallbackDir = join(tmpdir(), 'hvtrace-query')): { beside: string; fallback: string } {
  const abs = resolve(trace);
  return { beside: `${abs}.hvq`, fallback: join(fallbackDir, `${createHash('sha1').update(abs).digest('hex').slice(0, 16)}-${basename(abs)}.hvq`) };
}

function writable(dir: string): boolean {
  const probe = join(dir, `.hvq-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
    return true;
  } catch {
    return false;
  }
}

interface Stamp {
  version: number;
  fingerprint: TraceFingerprint;
  truncation: string | null;
}

/** The stamp of a cache, or null if it is missing, unreadable or not a cache. */
export function readCacheStamp(cache: string): Stamp | null {
  if (!existsSync(cache)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(cache, { readonly: true, fileMustExist: true });
    const rows = db.prepare(`SELECT key, value FROM ${CACHE_TABLE}`).all() as { key: string; value: string }[];
    const m = new Map(rows.map((r) => [r.key, r.value]));
    return { version: Number(m.get('version')), fingerprint: JSON.parse(m.get('fingerprint') ?? 'null'), truncation: m.get('truncation') ?? null };
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

const sameFp = (a: TraceFingerprint | null, b: TraceFingerprint) =>
  !!a && a.format === b.format && a.size === b.size && a.content === b.content && a.wal === b.wal;

function validStamp(cache: string, fp: TraceFingerprint): Stamp | null {
  const s = readCacheStamp(cache);
  return s && s.version === CACHE_VERSION && sameFp(s.fingerprint, fp) ? s : null;
}

async function arrowCache(trace: string, opts: QueryDbOptions): Promise<{ cache: string; built: boolean; truncation: string | undefined }> {
  const fp = fingerprint(trace, 'arrow');
  const { beside, fallback } = queryCachePaths(trace, opts.fallbackDir);
  if (!opts.rebuild) {
    for (const c of [beside, fallback]) {
      const s = validStamp(c, fp);
      if (s) return { cache: c, built: false, truncation: s.truncation ?? undefined };
    }
  }
  let cache = beside;
  if (!writable(dirname(beside))) {
    cache = fallback;
    mkdirSync(dirname(fallback), { recursive: true });
  }
  const truncation = await buildQueryCache(trace, cache, fp, opts);
  return { cache, built: true, truncation };
}

const removeQuietly = (p: string) => {
  try {
    unlinkSync(p);
  } catch {
    /* not there */
  }
};

/**
 * Build the SQLite copy of an Arrow trace at `cache` (temporary file + rename). Returns the
 * reader's truncation message, if the stream was cut.
 */
export async function buildQueryCache(trace: string, cache: string, fp: TraceFingerprint, opts: Pick<QueryDbOptions, 'progress'> = {}): Promise<string | undefined> {
  const tmp = `${cache}.tmp-${process.pid}`;
  const clean = () => {
    for (const p of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) removeQuietly(p);
  };
  clean();
  let total = 0;
  try {
    const layout = scanArrowLayout(trace);
    const last = layout.batches.at(-1);
    total = last ? last[0] + last[1] : 0;
  } catch {
    total = 0; // unknown: the reader reports what is wrong
  }
  const reader = await ArrowTraceReader.open(trace);
  const bar = opts.progress?.(`query cache ${basename(cache)}`, total);
  const sink = new SqliteSink(tmp);
  let events = 0;
  try {
    sink.open(reader.info as RunInfo);
    for await (const b of reader.batches()) {
      sink.writeBatch(b);
      events = b.firstSeq + b.length;
      bar?.update(events);
    }
    sink.close(reader.complete ?? false, events);
    const db = new Database(tmp);
    try {
      db.exec(`CREATE TABLE ${CACHE_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT`);
      const ins = db.prepare(`INSERT INTO ${CACHE_TABLE} (key, value) VALUES (?, ?)`);
      db.transaction(() => {
        ins.run('version', String(CACHE_VERSION));
        ins.run('fingerprint', JSON.stringify(fp));
        if (reader.truncation) ins.run('truncation', reader.truncation);
      })();
    } finally {
      db.close();
    }
    renameSync(tmp, cache);
  } catch (e) {
    try {
      sink.close(false, events);
    } catch {
      /* already closed or never opened */
    }
    clean();
    throw e;
  } finally {
    bar?.stop();
  }
  return reader.truncation;
}
