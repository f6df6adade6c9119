// hvtrace convert IN -o OUT: rewrite a trace in the other format (SQLite ↔ Arrow), event for event.
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { defaultIndexPath } from '../../src/replay/checkpoints.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import type { EventSink } from '../../src/trace/recorder.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { progress } from '../progress.js';

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
  if (existsSync(path)) {
    if (!opts.force) throw new UserError(`${path} exists; refusing to overwrite a recorded trace (use --force)`);
    for (const f of [path, `${path}-wal`, `${path}-shm`, defaultIndexPath(path)]) rmSync(f, { force: true });
  }
  return sqlite ? new SqliteSink(path) : new ArrowStreamSink(path, { compress: opts.compress });
}

export async function convertCommand(input: string, opts: { output: string; compress?: 'zstd'; force?: boolean; quiet?: boolean }): Promise<number> {
  if (existsSync(opts.output) && existsSync(input) && realpathSync(opts.output) === realpathSync(input)) {
    throw new UserError(`${opts.output} is the input trace; convert writes a new file`);
  }
  const r = await openTrace(input);
  const sink = sinkFor(opts.output, opts);
  sink.open(r.info);
  // A SQLite trace knows its event count up front; an Arrow stream only at its end (no bar then).
  const bar = r.eventCount !== undefined ? progress('converting', r.eventCount, opts.quiet) : undefined;
  let n = 0;
  for await (const b of r.batches()) {
    sink.writeBatch(b);
    n += b.length;
    bar?.update(n);
  }
  bar?.stop();
  sink.close(r.complete === true, n);
  r.close();
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  if (!opts.quiet) process.stderr.write(`converted ${n} events to ${opts.output}\n`);
  return 0;
}
