// `npm run bench -- sinks [--events N] [--runs R] [--json]`
// Generates N synthetic events of the real schema once (in memory), then times writing them
// through each sink (encode + write + close, excluding event generation) and prints events/s and
// bytes/event next to raw baselines measured in the same run:
//  - sqlite_raw: better-sqlite3 multi-row INSERT of the same column values, pre-computed, bound the
//    same way (spread arguments) into a file with the same page size;
//  - arrow_raw: fs.writeSync of the Arrow stream's own bytes, pre-read into memory.
// The batches are handed over as the recorder hands them: in wire form (the Arrow encoding, written
// by the recorder as it records), so the SQLite sink pays for expanding them to numbers. arrow_from_dense
// times the Arrow sink on the same events in dense form, encoding them itself (as convert does from
// SQLite).
// Then reads every trace back (events/s). Medians over R runs (default 3), interleaved.

import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { EventBatch, wordToSqlite } from '../src/trace/batch.js';
import { fieldIndex } from '../src/trace/fields.js';
import { Recorder, type EventSink } from '../src/trace/recorder.js';
import { openTrace } from '../src/trace/reader.js';
import { runInfo } from '../src/trace/run-info.js';
import { SqliteSink, TRACE_PAGE_SIZE } from '../src/trace/sqlite-sink.js';
import { EVENT_COLUMNS } from '../src/trace/sqlite-schema.js';
import { writeSyntheticEvents } from '../src/trace/synthetic.js';
import { median, parseBenchArgs, printFigures } from './util.js';

/**
 * Generate the events once, kept in memory as the batches the recorder hands its sinks (wire form
 * only: the recorder writes the Arrow encoding as it records), so each sink is timed on its own work.
 */
function generate(n: number): EventBatch[] {
  const out: EventBatch[] = [];
  const collect: EventSink = {
    open() {},
    writeBatch: (b) => void out.push(b.clone()),
    close() {},
  };
  const rec = new Recorder([collect], runInfo('synthetic', 1, { bench: 'sinks', events: n }));
  writeSyntheticEvents(rec, n);
  rec.close(true);
  return out;
}

/** The same events in the dense form only (as a SQLite reader yields them). */
function denseCopies(batches: EventBatch[]): EventBatch[] {
  return batches.map((b) => {
    const c = b.clone().toDense();
    c.wireValid = false;
    return c;
  });
}

/**
 * Time one sink over all batches (open + write + close). Each batch is handed over in the form its
 * producer gives: recorder batches in wire form only (a sink wanting the dense form pays for the
 * expansion, as in a recording); dense copies in dense form only (a sink wanting the wire form pays
 * for the encoding, as when converting a SQLite trace).
 */
function recordTo(sink: EventSink, batches: EventBatch[], form: 'wire' | 'dense' = 'wire'): { seconds: number; events: number } {
  for (const b of batches) {
    // Forget the other form an earlier sink derived: only the producer's form is valid.
    b.wireValid = form === 'wire';
    b.denseValid = form === 'dense';
  }
  const t0 = performance.now();
  sink.open(runInfo('synthetic', 1, { bench: 'sinks' }));
  let n = 0;
  for (const b of batches) {
    sink.writeBatch(b);
    n += b.length;
  }
  sink.close(true, n);
  return { seconds: (performance.now() - t0) / 1000, events: n };
}

async function readBack(path: string): Promise<{ seconds: number; events: number }> {
  const t0 = performance.now();
  const r = await openTrace(path);
  let n = 0;
  for await (const b of r.batches()) n += b.length;
  r.close();
  return { seconds: (performance.now() - t0) / 1000, events: n };
}

/** Rows of the same values the SQLite sink binds, computed ahead so only INSERT cost is timed. */
async function sqliteRows(path: string): Promise<(number | bigint | null)[]> {
  const r = await openTrace(path);
  const flat: (number | bigint | null)[] = [];
  for await (const b of r.batches()) {
    for (let i = 0; i < b.length; i++) {
      flat.push(b.firstSeq + i, b.time[i], b.kind[i], b.lpid[i], b.vcpu[i], b.core[i], b.cause[i] < 0 ? null : b.cause[i]);
      for (let j = 0; j < 12; j++) flat.push(j < b.nwords(i) ? wordToSqlite(b.hi(i, fieldIndex(j)), b.lo(i, fieldIndex(j))) : null);
    }
  }
  r.close();
  return flat;
}

function sqliteRaw(path: string, flat: (number | bigint | null)[]): { seconds: number } {
  const NC = EVENT_COLUMNS.length;
  const ROWS = 128;
  const t0 = performance.now();
  const db = new Database(path);
  db.pragma(`page_size = ${TRACE_PAGE_SIZE}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (${EVENT_COLUMNS.map((c) => `${c} INTEGER${c === 'seq' ? ' PRIMARY KEY' : ''}`).join(', ')}) STRICT`);
  const row = `(${new Array(NC).fill('?').join(',')})`;
  const many = db.prepare(`INSERT INTO events VALUES ${new Array(ROWS).fill(row).join(',')}`);
  const one = db.prepare(`INSERT INTO events VALUES ${row}`);
  const nrows = flat.length / NC;
  const BATCH = 65536;
  for (let s = 0; s < nrows; s += BATCH) {
    const e = Math.min(nrows, s + BATCH);
    db.exec('BEGIN');
    let i = s;
    for (; i + ROWS <= e; i += ROWS) many.run(...flat.slice(i * NC, (i + ROWS) * NC));
    for (; i < e; i++) one.run(...flat.slice(i * NC, (i + 1) * NC));
    db.exec('COMMIT');
  }
  db.close();
  return { seconds: (performance.now() - t0) / 1000 };
}

function arrowRaw(path: string, bytes: Buffer): { seconds: number } {
  const t0 = performance.now();
  const fd = openSync(path, 'w');
  const CHUNK = 1 << 20;
  for (let o = 0; o < bytes.length; o += CHUNK) writeSync(fd, bytes, o, Math.min(CHUNK, bytes.length - o));
  closeSync(fd);
  return { seconds: (performance.now() - t0) / 1000 };
}

export async function benchSinks(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 2_000_000, runs: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-'));
  const p = (n: string) => join(dir, n);
  const runs: Record<string, number[]> = {};
  const add = (k: string, v: number) => (runs[k] ??= []).push(v);
  let events = 0;
  const batches = generate(args.events);
  const dense = denseCopies(batches);
  try {
    for (let r = 0; r < args.runs; r++) {
      for (const f of ['s.sqlite', 'a.arrow', 'ad.arrow', 'z.arrow', 'raw.sqlite', 'raw.arrow']) rmSync(p(f), { force: true });
      const s = recordTo(new SqliteSink(p('s.sqlite'), { indexes: false }), batches);
      events = s.events;
      add('sqlite_events_per_s', s.events / s.seconds);
      add('sqlite_bytes_per_event', statSync(p('s.sqlite')).size / s.events);
      const a = recordTo(new ArrowStreamSink(p('a.arrow')), batches);
      add('arrow_events_per_s', a.events / a.seconds);
      add('arrow_bytes_per_event', statSync(p('a.arrow')).size / a.events);
      // The raw write right after the sink it is compared with, into a fresh file like the sink's.
      const rawA = arrowRaw(p('raw.arrow'), readFileSync(p('a.arrow')));
      add('arrow_raw_events_per_s', a.events / rawA.seconds);
      const ad = recordTo(new ArrowStreamSink(p('ad.arrow')), dense, 'dense');
      add('arrow_from_dense_events_per_s', ad.events / ad.seconds);
      const z = recordTo(new ArrowStreamSink(p('z.arrow'), { compress: 'zstd' }), batches);
      add('arrow_zstd_events_per_s', z.events / z.seconds);
      add('arrow_zstd_bytes_per_event', statSync(p('z.arrow')).size / z.events);
      const flat = await sqliteRows(p('s.sqlite'));
      const rawS = sqliteRaw(p('raw.sqlite'), flat);
      add('sqlite_raw_events_per_s', s.events / rawS.seconds);

      const ra = await readBack(p('a.arrow'));
      add('arrow_read_events_per_s', ra.events / ra.seconds);
      const rz = await readBack(p('z.arrow'));
      add('arrow_zstd_read_events_per_s', rz.events / rz.seconds);
      const rs = await readBack(p('s.sqlite'));
      add('sqlite_read_events_per_s', rs.events / rs.seconds);
      if (!args.json) process.stderr.write(`run ${r + 1}/${args.runs} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig: Record<string, number> = { events };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  // Ratios are taken within each run (sink and baseline side by side), then the median of those:
  // the page cache makes the raw write swing 10× between runs, so a ratio of medians would mix runs.
  const ratio = (a: string, b: string) => median(runs[a].map((v, i) => v / runs[b][i]));
  fig.arrow_vs_raw_ratio = ratio('arrow_events_per_s', 'arrow_raw_events_per_s');
  fig.sqlite_vs_raw_ratio = ratio('sqlite_events_per_s', 'sqlite_raw_events_per_s');
  printFigures('sinks', fig, args, runs);
}
