// The worker side of worker-batches.ts: reads a SQLite trace's batches with the ordinary reader
// (SqliteTraceReader.batchesSync, the same decoding) and posts each batch's dense columns to the
// parent with transfer. Flow control through the shared `ctl` words (see worker-batches.ts): at
// most `ahead` batches are posted and not yet taken by the consumer; `ctl[1]` set means stop.

import { parentPort, workerData } from 'node:worker_threads';
import { SqliteTraceReader } from './reader.js';
import { UserError } from './errors.js';
import type { BatchWorkerData, WorkerMessage } from './worker-batches.js';

function run(port: NonNullable<typeof parentPort>, d: BatchWorkerData): void {
  const ctl = d.ctl;
  const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  let reader: SqliteTraceReader | undefined;
  try {
    reader = SqliteTraceReader.open(d.path);
    let posted = 0;
    for (const b of reader.batchesSync({ batchSize: d.batchSize, from: d.from })) {
      for (;;) {
        if (Atomics.load(ctl, 1) !== 0) return;
        const taken = Atomics.load(ctl, 0);
        if (posted - taken < d.ahead) break;
        Atomics.wait(ctl, 0, taken);
      }
      const c = b.denseColumns();
      post({ type: 'batch', cols: c }, [c.time, c.kind, c.lpid, c.vcpu, c.core, c.cause, c.wofs, c.words].map((a) => a.buffer as ArrayBuffer));
      posted++;
    }
    post({ type: 'end' });
  } catch (e) {
    const err = e as Error;
    post({
      type: 'error',
      name: err?.name ?? 'Error',
      message: err?.message ?? String(e),
      exitCode: e instanceof UserError ? e.exitCode : undefined,
    });
  } finally {
    reader?.close();
  }
}

if (parentPort) run(parentPort, workerData as BatchWorkerData);
