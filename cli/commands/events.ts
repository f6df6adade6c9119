// hvtrace events TRACE: the raw event stream, decoded, streaming through cli/format.ts's RowWriter.
//
// Formats: table (default; seq, time, kind, lpid, vcpu, core, cause and a `fields` column of
// name=value pairs), csv (the same columns), json (one array of event objects), ndjson (one event
// object a line). `--json` is NDJSON, as it always was for `events` (README, scripts: one event a
// line); `--format json` is the array. An event object has the common columns and the kind's named
// fields. Every value prints by its field's type (trace/kinds.ts, trace/event.ts fieldValue): 64-bit
// words 0x…, counts and indexes decimal (a missing gfn or HPTE index is -1), enums by name, the same
// in the fields column, in JSON and in `query`.
//
// A table shows at most 1000 events unless -n says otherwise, and counts the rest without decoding
// them (SQLite: one SQL count; Arrow: the kind column of the remaining batches).
import { eventAt, eventToJson } from '../../src/trace/event.js';
import { UserError } from '../../src/trace/errors.js';
import { type EventKind, KINDS } from '../../src/trace/kinds.js';
import { openTrace, SqliteTraceReader } from '../../src/trace/reader.js';
import { type Cell, type Column, DEFAULT_TABLE_ROWS, ROW_FORMATS, type RowFormat, type RowOutputOptions, RowWriter, rowFormat } from '../format.js';

export interface EventsOptions extends RowOutputOptions {
  kind?: string[];
  from?: number;
  to?: number;
}

export const EVENT_COLUMNS: readonly Column[] = [
  { name: 'seq', type: 'int' },
  { name: 'time', type: 'int' },
  { name: 'kind', type: 'text' },
  { name: 'lpid', type: 'int' },
  { name: 'vcpu', type: 'int' },
  { name: 'core', type: 'int' },
  { name: 'cause', type: 'int' },
  { name: 'fields', type: 'text' },
];

/** `--json` keeps meaning NDJSON for events (see the top of this file). */
export function eventsFormat(opts: EventsOptions): RowFormat {
  const f = opts.json ? 'ndjson' : rowFormat({ format: opts.format, ndjson: opts.ndjson, csv: opts.csv });
  if (!ROW_FORMATS.includes(f)) throw new UserError(`--format ${opts.format}: expected one of ${ROW_FORMATS.join(', ')}`);
  return f;
}

const NONE: Cell[] = [];

export async function eventsCommand(path: string, opts: EventsOptions): Promise<number> {
  const kinds = new Set<number>();
  for (const k of opts.kind ?? []) {
    if (!(k in KINDS)) throw new UserError(`unknown event kind '${k}' (see 'hvtrace schema')`);
    kinds.add(KINDS[k as EventKind].code);
  }
  const format = eventsFormat(opts);
  const json = format === 'json' || format === 'ndjson';
  const r = await openTrace(path);
  const from = opts.from ?? 0;
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  // A table without -n: DEFAULT_TABLE_ROWS events shown, the rest counted.
  const shown = format === 'table' && opts.limit === undefined ? DEFAULT_TABLE_ROWS : Number.POSITIVE_INFINITY;
  const w = new RowWriter(EVENT_COLUMNS, { format, tableRows: format === 'table' ? (opts.limit ?? DEFAULT_TABLE_ROWS) : 0 });
  let n = 0;
  let counting = false;
  try {
    outer: for await (const b of r.batches({ from })) {
      for (let i = 0; i < b.length; i++) {
        const seq = b.firstSeq + i;
        if (seq < from) continue;
        if (seq >= to || n >= limit) break outer;
        if (kinds.size && !kinds.has(b.kind[i])) continue;
        if (counting) {
          n++;
          w.push(NONE);
          continue;
        }
        if (n >= shown) {
          if (r instanceof SqliteTraceReader) {
            w.skip(countSqlite(r, seq, to, kinds));
            break outer;
          }
          counting = true; // Arrow: count the rest from the kind column
          n++;
          w.push(NONE);
          continue;
        }
        n++;
        const j = eventToJson(eventAt(b, i));
        let p: Promise<void> | undefined;
        if (json) p = w.pushObject(j);
        else {
          const { seq: s, time, kind, lpid, vcpu, core, cause, ...fields } = j;
          p = w.push([s as number, time as number, kind as string, lpid as number, vcpu as number, core as number, cause as number | null,
            Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ')]);
        }
        if (p) await p;
      }
    }
    await w.end();
  } finally {
    r.close();
  }
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  return 0;
}

/** Events with seq in [from, to) of the given kinds (all when empty), by SQL (the rowid range, or the kind index). */
function countSqlite(r: SqliteTraceReader, from: number, to: number, kinds: ReadonlySet<number>): number {
  const end = Math.min(to, r.eventCount);
  if (kinds.size === 0) return Math.max(0, end - from);
  const list = [...kinds].join(', '); // kind codes: integers from KINDS, never user text
  const row = r.db.prepare(`SELECT count(*) AS n FROM events WHERE kind IN (${list}) AND seq >= ? AND seq < ?`).get(from, end) as { n: number };
  return row.n;
}
