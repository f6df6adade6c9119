// The derived-table cache of a trace: `<trace>.hvd`, a SQLite file beside the trace (or in
// $TMPDIR/hvtrace-index/ when the trace's directory is not writable), built by derived.ts.
//
// Like the replay index (.hvidx), it is a cache, never trusted blindly: its meta table holds the
// derived-table version and the trace's content fingerprint (replay/checkpoints.ts: size and
// sampled blocks of the trace and of its -wal, no mtime, no path), and it is rebuilt when either
// differs or the file cannot be read. A build writes a temporary file and renames it into place, so
// a reader never sees half a cache, and the same trace always gives a byte-identical file.

import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fingerprint } from '../replay/checkpoints.js';
import type { TraceReader } from '../trace/reader.js';
import { buildDerived, DERIVED_VERSION, type DerivedMeta } from './derived.js';

export interface DerivedCache {
  /** The cache, opened read-only. */
  readonly db: Database.Database;
  readonly path: string;
  readonly meta: DerivedMeta;
  /** True when this call built it. */
  readonly built: boolean;
  close(): void;
}

/** Where the cache of `trace` lives: beside it, or in $TMPDIR/hvtrace-index if that is not writable. */
export function derivedPath(trace: string): string {
  const abs = resolve(trace);
  const beside = `${abs}.hvd`;
  try {
    const probe = `${beside}.probe-${process.pid}`;
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
    return beside;
  } catch {
    const dir = join(tmpdir(), 'hvtrace-index');
    mkdirSync(dir, { recursive: true });
    return join(dir, `${createHash('sha1').update(abs).digest('hex').slice(0, 16)}-${basename(abs)}.hvd`);
  }
}

function fingerprintText(reader: TraceReader): string {
  return JSON.stringify(fingerprint(reader.path, reader.format));
}

/** The cache at `path` if it matches the trace, else null. */
function load(path: string, fp: string): DerivedCache | null {
  if (!existsSync(path)) return null;
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const m = JSON.parse(meta.get('derived') ?? 'null') as DerivedMeta | null;
    if (!m || m.version !== DERIVED_VERSION || meta.get('trace') !== fp) {
      db.close();
      return null;
    }
    const d = db;
    return { db: d, path, meta: m, built: false, close: () => d.close() };
  } catch {
    db?.close();
    return null;
  }
}

export interface OpenDerivedOptions {
  /** Rebuild even if a valid cache exists. */
  rebuild?: boolean;
  /** Called once before a build starts, with the cache path. */
  onBuild?: (path: string) => void;
  /** Events read so far, during a build. */
  onProgress?: (events: number) => void;
}

/**
 * The derived tables of the trace `reader` reads: the cache when it matches the trace, else built
 * now (one pass over `reader.batches()`) and written atomically. `openBatches` gives the pass its
 * batches (default: the reader's).
 */
export async function openDerived(reader: TraceReader, opts: OpenDerivedOptions = {}): Promise<DerivedCache> {
  const path = derivedPath(reader.path);
  const fp = fingerprintText(reader);
  if (!opts.rebuild) {
    const c = load(path, fp);
    if (c) return c;
  }
  opts.onBuild?.(path);
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const db = new Database(tmp);
  try {
    db.pragma('page_size = 4096');
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -65536');
    await buildDerived(db, reader.batches(), reader.info, { trace: fp, format: reader.format, profile: reader.info.profile }, opts.onProgress);
    db.close();
    renameSync(tmp, path);
  } catch (e) {
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw e;
  }
  const c = load(path, fp);
  if (!c) throw new Error(`${path}: the derived-table cache just built does not load`);
  return { ...c, built: true };
}
