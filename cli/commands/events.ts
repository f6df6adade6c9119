// hvtrace events TRACE: the raw event stream, decoded (NDJSON with --json).
import { eventAt, eventToJson } from '../../src/trace/event.js';
import { type EventKind, KINDS } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { UserError } from '../../src/trace/errors.js';
import { jsonReplacer, printTable, type Cell } from '../output.js';

export interface EventsOptions {
  kind?: string[];
  from?: number;
  to?: number;
  limit?: number;
  json?: boolean;
}

export async function eventsCommand(path: string, opts: EventsOptions): Promise<number> {
  const kinds = new Set<number>();
  for (const k of opts.kind ?? []) {
    if (!(k in KINDS)) throw new UserError(`unknown event kind '${k}' (see 'hvtrace schema')`);
    kinds.add(KINDS[k as EventKind].code);
  }
  const r = await openTrace(path);
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  const rows: Cell[][] = [];
  let n = 0;
  outer: for await (const b of r.batches({ from: opts.from ?? 0 })) {
    for (let i = 0; i < b.length; i++) {
      const seq = b.firstSeq + i;
      if (seq < (opts.from ?? 0)) continue;
      if (seq >= to || n >= limit) break outer;
      if (kinds.size && !kinds.has(b.kind[i])) continue;
      const j = eventToJson(eventAt(b, i));
      n++;
      if (opts.json) process.stdout.write(`${JSON.stringify(j, jsonReplacer)}\n`);
      else {
        const { seq: s, time, kind, lpid, vcpu, core, cause, ...fields } = j;
        rows.push([s as number, time as number, kind as string, lpid as number, vcpu as number, core as number, cause as number | null,
          Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')]);
      }
    }
  }
  r.close();
  if (!opts.json) printTable(['seq', 'time', 'kind', 'lpid', 'vcpu', 'core', 'cause', 'fields'], rows);
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  return 0;
}
