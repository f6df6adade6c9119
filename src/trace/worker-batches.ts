// A SQLite trace's batches read in a worker thread (node:worker_threads), so that two traces are
// read in parallel (hvtrace diff reads both in full, and reading is most of its time) and the
// consumer's thread only folds. The worker (batch-worker.ts) runs the ordinary SQLite reader and
// posts each batch's dense columns with transfer (no copy across threads); here they are wrapped
// again as an EventBatch (dense form only: time, kind, lpid, vcpu, core, cause, wofs, words,
// firstSeq, length). Memory stays bounded: the worker runs at most AHEAD batches ahead of the
// consumer (it blocks on a shared counter the consumer bumps as it takes each batch).
//
// Errors in the worker (a corrupt trace: TraceFormatError) are re-thrown here as the same class
// with the same message, so the CLI prints the same one line.
//
// The worker file is the sibling batch-worker.js in dist/ and batch-worker.ts under tsx (tests):
// its extension is this module's. Under tsx the worker inherits the parent's execArgv
// (`--import tsx`), so it can load .ts.

import { Worker } from 'node:worker_threads';
import { EventBatch, type DenseColumns } from './batch.js';
import { TraceFormatError, UserError } from './errors.js';

/** Batches the worker may post before the consumer has taken them (1: as fast as 3 and less memory, bench/README.md diff). */
const AHEAD = 1;

export interface BatchWorkerData {
  path: string;
  batchSize: number | undefined;
  from: number | undefined;
  ahead: number;
  /** [0]: batches taken by the consumer; [1]: nonzero = stop. */
  ctl: Int32Array;
}

export type WorkerMessage =
  | { type: 'batch'; cols: DenseColumns }
  | { type: 'end' }
  | { type: 'error'; name: string; message: string; exitCode: number | undefined };

type Event = WorkerMessage | { type: 'crash'; message: string } | { type: 'exit'; code: number };

/**
 * Start the worker. Compiled (dist/), the sibling batch-worker.js. Under tsx (this module is .ts:
 * the tests), batch-worker.ts — but on Node 20 the loader hooks of `--import tsx` do not reach
 * worker threads (tsx issue #354, node #47747), so the worker first registers tsx's ESM hooks
 * itself, then imports the .ts file.
 */
function startWorker(data: BatchWorkerData): Worker {
  const here = import.meta.url;
  const ext = here.slice(here.lastIndexOf('.'));
  const url = new URL(`./batch-worker${ext}`, here);
  if (ext === '.js') return new Worker(url, { workerData: data });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

function rebuild(m: Extract<WorkerMessage, { type: 'error' }>): Error {
  if (m.name === 'TraceFormatError') return new TraceFormatError(m.message);
  if (m.exitCode !== undefined) return new UserError(m.message, m.exitCode);
  return new Error(m.message);
}

/**
 * The batches of the SQLite trace at `path`, in seq order, read in a worker thread that starts at
 * once (it reads ahead while the caller does other work). Each yielded batch is a fresh dense
 * EventBatch the consumer may keep. return() (or close()) stops the worker; an iteration that is
 * abandoned without either does not keep the process alive.
 */
export function sqliteBatchesInWorker(path: string, opts: { batchSize?: number; from?: number } = {}): WorkerBatches {
  return new WorkerBatches(path, opts);
}

export class WorkerBatches implements AsyncIterableIterator<EventBatch> {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(8));
  private readonly w: Worker;
  private readonly queue: Event[] = [];
  private wake: (() => void) | undefined;
  private finished = false;

  constructor(
    readonly path: string,
    opts: { batchSize?: number; from?: number },
  ) {
    const data: BatchWorkerData = { path, batchSize: opts.batchSize, from: opts.from, ahead: AHEAD, ctl: this.ctl };
    this.w = startWorker(data);
    this.w.on('message', (m: WorkerMessage) => this.push(m));
    this.w.on('error', (e: Error) => this.push({ type: 'crash', message: e.message }));
    this.w.on('exit', (code: number) => this.push({ type: 'exit', code }));
    // The worker keeps the process alive only while the consumer waits for it.
    this.w.unref();
  }

  private push(e: Event): void {
    this.queue.push(e);
    const f = this.wake;
    this.wake = undefined;
    f?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<EventBatch, undefined>> {
    if (this.finished) return { done: true, value: undefined };
    if (this.queue.length === 0) {
      this.w.ref();
      await new Promise<void>((r) => (this.wake = r));
      this.w.unref();
    }
    const m = this.queue.shift()!;
    if (m.type === 'batch') {
      Atomics.add(this.ctl, 0, 1);
      Atomics.notify(this.ctl, 0);
      return { done: false, value: new EventBatch(0, m.cols) };
    }
    await this.close();
    if (m.type === 'end') return { done: true, value: undefined };
    if (m.type === 'error') throw rebuild(m);
    if (m.type === 'crash') throw new Error(`${this.path}: batch reader thread failed: ${m.message}`);
    throw new Error(`${this.path}: batch reader thread exited (code ${m.code}) before the end of the trace`);
  }

  async return(): Promise<IteratorResult<EventBatch, undefined>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Stop the worker (idempotent). */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.queue.length = 0;
    Atomics.store(this.ctl, 1, 1);
    Atomics.notify(this.ctl, 0);
    await this.w.terminate();
  }
}
