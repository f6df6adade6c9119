// hvtrace convert IN -o OUT: rewrite a trace in the other format (SQLite ↔ Arrow), event for event.
import { existsSync, realpathSync } from 'node:fs';
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import { progress } from '../progress.js';
import { sinkFor } from '../sinks.js';

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
