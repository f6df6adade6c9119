// One event by seq, for queries that found the seqs they want in an index (the derived tables):
// SQLite, a primary-key lookup in the events table; Arrow, the batch that holds it through the
// stream's message layout (replay/event-source.ts; the last two batches decoded stay cached, so
// lookups close together in seq cost one decode).

import type Database from 'better-sqlite3';
import { ArrowEventSource, scanArrowLayout } from '../replay/event-source.js';
import { eventAt, kindOfCode, type TraceEvent } from '../trace/event.js';
import { KINDS, MAX_FIELDS } from '../trace/kinds.js';
import type { SqliteTraceReader, TraceReader } from '../trace/reader.js';

export interface EventLookup {
  get(seq: number): TraceEvent | undefined;
  close(): void;
}

class SqliteLookup implements EventLookup {
  private readonly stmt: Database.Statement;
  constructor(db: Database.Database) {
    this.stmt = db
      .prepare(`SELECT seq, time, kind, lpid, vcpu, core, cause, ${Array.from({ length: MAX_FIELDS }, (_, j) => `w${j}`).join(', ')} FROM events WHERE seq = ?`)
      .raw(true)
      .safeIntegers(true);
  }
  get(seq: number): TraceEvent | undefined {
    const r = this.stmt.get(seq) as (bigint | null)[] | undefined;
    if (!r) return undefined;
    const kind = kindOfCode(Number(r[2]));
    const nf = KINDS[kind].fields.length;
    const words: bigint[] = [];
    for (let j = 0; j < nf; j++) words.push(BigInt.asUintN(64, r[7 + j] ?? 0n));
    return {
      seq: Number(r[0]),
      time: Number(r[1]),
      kind,
      lpid: Number(r[3]),
      vcpu: Number(r[4]),
      core: Number(r[5]),
      cause: r[6] === null ? null : Number(r[6]),
      words,
    } as TraceEvent;
  }
  close(): void {}
}

class ArrowLookup implements EventLookup {
  private readonly src: ArrowEventSource;
  constructor(path: string) {
    this.src = new ArrowEventSource(path, scanArrowLayout(path));
  }
  get(seq: number): TraceEvent | undefined {
    let e: TraceEvent | undefined;
    this.src.range(seq, seq + 1, (b, i0, i1) => {
      if (i1 > i0) e = eventAt(b, i0);
      return false;
    });
    return e;
  }
  close(): void {
    this.src.close();
  }
}

/** Lookups in any SQLite database holding a trace's `events` table (a trace, or an Arrow trace's .hvq copy). */
export function sqliteEventLookup(db: Database.Database): EventLookup {
  return new SqliteLookup(db);
}

export function eventLookup(reader: TraceReader): EventLookup {
  return reader.format === 'sqlite' ? new SqliteLookup((reader as SqliteTraceReader).db) : new ArrowLookup(reader.path);
}
