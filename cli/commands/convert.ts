// hvtrace convert IN -o OUT: rewrite a trace in the other format (SQLite ↔ Arrow), event for event.
import { existsSync } from 'node:fs';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import type { EventSink } from '../../src/trace/recorder.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';

export function sinkFor(path: string, opts: { compress?: 'zstd'; force?: boolean }): EventSink {
  if (existsSync(path) && !opts.force) throw new UserError(`${path} exists; refusing to overwrite a recorded trace (use --force)`);
  if (/\.(sqlite|sqlite3|db)$/i.test(path)) return new SqliteSink(path);
  if (/\.(arrow|arrows|ipc)$/i.test(path)) return new ArrowStreamSink(path, { compress: opts.compress });
  throw new UserError(`${path}: output must end in .sqlite/.db (SQLite) or .arrow (Arrow IPC stream)`);
}

export async function convertCommand(input: string, opts: { output: string; compress?: 'zstd'; force?: boolean }): Promise<number> {
  const r = await openTrace(input);
  const sink = sinkFor(opts.output, opts);
  sink.open(r.info);
  let n = 0;
  for await (const b of r.batches()) {
    sink.writeBatch(b);
    n += b.length;
  }
  sink.close(r.complete === true, n);
  r.close();
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  process.stderr.write(`converted ${n} events to ${opts.output}\n`);
  return 0;
}
