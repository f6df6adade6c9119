// Output traces of the commands that write them (record, convert, demo).
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { defaultIndexPath } from '../src/replay/checkpoints.js';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { UserError } from '../src/trace/errors.js';
import type { EventSink } from '../src/trace/recorder.js';
import { SqliteSink } from '../src/trace/sqlite-sink.js';

/** Remove a trace and every file beside it that belongs to it: SQLite -wal/-shm, the checkpoint index, the derived tables and the query copy. */
export function removeTrace(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`, defaultIndexPath(path), `${path}.hvd`, `${path}.hvq`]) rmSync(f, { force: true });
}

/**
 * A sink for a new trace at `path`. An existing file is refused unless `force`; with `force` the old
 * trace, its SQLite sidecars (-wal, -shm) and its checkpoint index are removed first, so the new
 * trace never mixes with the old one. The format follows the extension.
 */
export function sinkFor(path: string, opts: { compress?: 'zstd'; force?: boolean }): EventSink {
  const sqlite = /\.(sqlite|sqlite3|db)$/i.test(path);
  if (!sqlite && !/\.(arrow|arrows|ipc)$/i.test(path)) {
    throw new UserError(`${path}: output must end in .sqlite/.db (SQLite) or .arrow (Arrow IPC stream)`);
  }
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`${path}: directory ${dir} does not exist`);
  if (existsSync(path)) {
    if (!opts.force) throw new UserError(`${path} exists; refusing to overwrite a recorded trace (use --force)`);
    removeTrace(path);
  }
  return sqlite ? new SqliteSink(path) : new ArrowStreamSink(path, { compress: opts.compress });
}
