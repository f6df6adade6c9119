// hvtrace info TRACE: what a trace is (format, profile, seed, completeness) and its events by kind.
import { KIND_BY_CODE } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { printJson, printTable } from '../output.js';

export async function infoCommand(path: string, opts: { json?: boolean }): Promise<number> {
  const r = await openTrace(path);
  const counts = new Map<string, number>();
  let events = 0;
  let lastTime = 0;
  for await (const b of r.batches()) {
    for (let i = 0; i < b.length; i++) {
      const k = KIND_BY_CODE[b.kind[i]]!;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    events += b.length;
    if (b.length) lastTime = b.time[b.length - 1];
  }
  r.close();
  const out = {
    path,
    format: r.format,
    schema_version: r.info.schemaVersion,
    profile: r.info.profile,
    seed: r.info.seed,
    tool_version: r.info.toolVersion,
    complete: r.complete ?? false,
    truncation: r.truncation ?? null,
    events,
    last_time: lastTime,
    kinds: Object.fromEntries([...counts.entries()].sort((a, b) => b[1] - a[1])),
    config: r.info.config,
  };
  if (opts.json) printJson(out);
  else {
    const { kinds, config, ...head } = out;
    printTable(['field', 'value'], Object.entries(head).map(([k, v]) => [k, v === null ? '-' : String(v)]));
    printTable(['kind', 'events'], Object.entries(kinds).map(([k, n]) => [k, n]));
    void config;
  }
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  return 0;
}
