// hvtrace info TRACE: what a trace is (format, profile, seed, completeness), its events by kind and
// its anomaly counters. Both come from the replay's counters and anomaly handlers
// (src/replay/state.ts), so `info` counts exactly what `state` and the demo summary count.
//
// Fast on both formats: the replay's state at the end is the last checkpoint of the trace's
// checkpoint index (<trace>.hvidx, src/replay/checkpoints.ts: built while recording, or here on
// first use, as `state` does) plus a fold of the events after it (fewer than the index's interval,
// 32,768 by default), with the op index on as the index was built, so the counters and anomalies are
// those of a full replay. A SQLite trace's completeness is its meta; an Arrow stream's is its
// end-of-stream marker and a last event run_end. An Arrow stream that does not end cleanly (no
// end-of-stream marker right after its last complete batch) is read whole, as before, so its
// truncation message is the reader's.
// Exit code EXIT_ANOMALY when an error-level anomaly counter is nonzero.
import { existsSync, statSync } from 'node:fs';
import { ArrowEventSource, scanArrowLayout } from '../../src/replay/event-source.js';
import { Seeker } from '../../src/replay/seek.js';
import { StateFold } from '../../src/replay/state.js';
import { A, EXIT_ANOMALY } from '../../src/trace/anomalies.js';
import { K, KIND_BY_CODE } from '../../src/trace/kinds.js';
import { endOfStreamProblem, openTrace, type TraceReader } from '../../src/trace/reader.js';
import { printJson, printTable } from '../output.js';
import { reportAnomalies } from './anomalies.js';

/** A SQLite write-ahead log beside the trace (a recorder killed mid-run leaves one): committed batches may live only there. */
function walBeside(path: string): { path: string; bytes: number } | null {
  const wal = `${path}-wal`;
  return existsSync(wal) ? { path: wal, bytes: statSync(wal).size } : null;
}

/** An Arrow stream that ends with the end-of-stream marker right after its last complete batch. */
function arrowEndsCleanly(path: string): boolean {
  if (endOfStreamProblem(path)) return false;
  try {
    const l = scanArrowLayout(path);
    const last = l.batches.at(-1);
    return !!last && last[2] + last[3] + 8 === statSync(path).size;
  } catch {
    return false;
  }
}

interface EndState {
  fold: StateFold;
  complete: boolean;
  truncation: string | undefined;
}

/** The replay at the end from the checkpoint index, or undefined when the trace must be read whole. */
async function endFromIndex(path: string, r: TraceReader): Promise<EndState | undefined> {
  if (r.format === 'sqlite' ? r.eventCount === 0 : !arrowEndsCleanly(path)) return undefined;
  const seeker = await Seeker.open(path);
  try {
    const fold = await seeker.seek('end', { opIndex: true });
    let complete = r.complete ?? false;
    if (r.format === 'arrow') {
      const layout = seeker.checkpointIndex.header.arrow;
      if (!layout) return undefined;
      const src = new ArrowEventSource(path, layout);
      let last = -1;
      try {
        src.range(fold.lastSeq, fold.lastSeq + 1, (b, i0) => {
          last = b.kind[i0];
        });
      } finally {
        src.close();
      }
      complete = last === K.run_end;
    }
    return { fold, complete, truncation: undefined };
  } finally {
    seeker.close();
  }
}

/** Every event folded from the start (an Arrow stream that does not end cleanly, an empty trace). */
async function endByReading(r: TraceReader): Promise<EndState> {
  const fold = new StateFold({ opIndex: true }); // every anomaly a full replay can detect, the op index's included
  for await (const b of r.batches()) fold.foldBatch(b);
  return { fold, complete: r.complete ?? false, truncation: r.truncation };
}

export async function infoCommand(path: string, opts: { json?: boolean }): Promise<number> {
  const wal = walBeside(path); // before the reader opens the database
  const r = await openTrace(path);
  let end: EndState;
  try {
    end = (await endFromIndex(path, r)) ?? (await endByReading(r));
  } finally {
    r.close();
  }
  const { fold, complete, truncation } = end;
  fold.finalize();
  if (truncation) fold.anomalies.count(A.trace_truncated, fold.lastSeq);
  const kinds: Record<string, number> = {};
  let events = 0;
  const byKind = fold.counters.byKind;
  const order = [...byKind.keys()].filter((k) => byKind[k] !== 0).sort((a, b) => byKind[b] - byKind[a]);
  for (const k of order) {
    kinds[KIND_BY_CODE[k] ?? String(k)] = byKind[k];
    events += byKind[k];
  }
  const anomalies = fold.anomalies.data();
  const out = {
    path,
    format: r.format,
    schema_version: r.info.schemaVersion,
    profile: r.info.profile,
    seed: r.info.seed,
    tool_version: r.info.toolVersion,
    timebase_hz: r.info.timebaseHz ?? null,
    complete,
    truncation: truncation ?? null,
    wal: r.format === 'sqlite' ? wal : null,
    events,
    last_time: fold.lastTime,
    kinds,
    anomalies,
    config: r.info.config,
  };
  if (opts.json) printJson(out);
  else {
    const { kinds: _k, config: _c, anomalies: _a, wal: w, ...head } = out;
    const rows: [string, string][] = Object.entries(head).map(([k, v]) => [k, v === null ? '-' : String(v)]);
    if (w) rows.push(['wal', `${w.path}, ${w.bytes} bytes: part of the trace; copy it together with ${path}`]);
    printTable(['field', 'value'], rows);
    printTable(['kind', 'events'], Object.entries(kinds).map(([k, n]) => [k, n]));
    if (anomalies.length) printTable(['anomaly', 'severity', 'count', 'first seq', 'description'], anomalies.map((a) => [a.name, a.severity, a.count, a.first_seq, a.description]));
  }
  if (truncation) process.stderr.write(`hvtrace: warning: ${truncation}\n`);
  return reportAnomalies(anomalies) ? EXIT_ANOMALY : 0;
}
