// hvtrace info TRACE: what a trace is (format, profile, seed, completeness), its events by kind and
// its anomaly counters. Both come from one replay of the trace (src/replay/state.ts: the counters
// and anomaly handlers), so `info` counts exactly what `state` and the demo summary count.
// Exit code EXIT_ANOMALY when an error-level anomaly counter is nonzero.
import { existsSync, statSync } from 'node:fs';
import { StateFold } from '../../src/replay/state.js';
import { A, EXIT_ANOMALY } from '../../src/trace/anomalies.js';
import { KIND_BY_CODE } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { printJson, printTable } from '../output.js';
import { reportAnomalies } from './anomalies.js';

/** A SQLite write-ahead log beside the trace (a recorder killed mid-run leaves one): committed batches may live only there. */
function walBeside(path: string): { path: string; bytes: number } | null {
  const wal = `${path}-wal`;
  return existsSync(wal) ? { path: wal, bytes: statSync(wal).size } : null;
}

export async function infoCommand(path: string, opts: { json?: boolean }): Promise<number> {
  const wal = walBeside(path); // before the reader opens the database
  const r = await openTrace(path);
  const fold = new StateFold({ opIndex: true }); // every anomaly a full replay can detect, the op index's included
  try {
    for await (const b of r.batches()) fold.foldBatch(b);
  } finally {
    r.close();
  }
  fold.finalize();
  if (r.truncation) fold.anomalies.count(A.trace_truncated, fold.lastSeq);
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
    complete: r.complete ?? false,
    truncation: r.truncation ?? null,
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
  if (r.truncation) process.stderr.write(`hvtrace: warning: ${r.truncation}\n`);
  return reportAnomalies(anomalies) ? EXIT_ANOMALY : 0;
}
