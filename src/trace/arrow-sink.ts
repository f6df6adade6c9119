// Arrow IPC *stream* sink. Each EventBatch becomes one record batch built by wrapping typed arrays
// (no per-row Builder calls) and is written synchronously with fs.writeSync, so a batch is on disk
// (in the page cache) when writeBatch returns: a recorder killed later leaves a stream whose complete
// batches are all readable. Completion is marked by a run_end event and the end-of-stream marker.

import {
  AsyncByteQueue,
  CompressionType,
  Int64,
  List,
  RecordBatch,
  RecordBatchStreamWriter,
  type Schema,
  Struct,
  Uint32,
  Uint64,
  makeData,
} from 'apache-arrow';
import { closeSync, openSync, writeSync } from 'node:fs';
import { arrowSchema } from './arrow-schema.js';
import type { EventBatch } from './batch.js';
import type { EventSink } from './recorder.js';
import type { RunInfo } from './run-info.js';
import { registerZstd } from './zstd.js';

/** A byte queue whose writes go straight to a file descriptor. */
class FdByteSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }
  override write(value: ArrayBufferView | ArrayBuffer | string): void {
    const u8 =
      typeof value === 'string'
        ? Buffer.from(value)
        : value instanceof ArrayBuffer
          ? new Uint8Array(value)
          : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    let off = 0;
    while (off < u8.byteLength) off += writeSync(this.fd, u8, off, u8.byteLength - off);
  }
}

/**
 * apache-arrow 21.2.0 writes the compressed length in each compressed buffer's prefix; the Arrow
 * spec (Message.fbs, BodyCompression) wants the uncompressed length, or -1 when left uncompressed.
 * Fixed upstream in apache/arrow-js PR #470 (unreleased): we rewrite the prefixes here.
 */
class SpecCompliantStreamWriter extends RecordBatchStreamWriter {
  protected override _compressBodyBuffers(buffers: ArrayBufferView[]) {
    const out = super._compressBodyBuffers(buffers);
    let k = 0;
    for (const b of buffers) {
      const prefix = out.buffers[k];
      const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
      if (b.byteLength > 0 && view.getBigInt64(0, true) !== -1n) view.setBigInt64(0, BigInt(b.byteLength), true);
      k += 2;
    }
    return out;
  }
}

export interface ArrowSinkOptions {
  compress?: 'zstd' | undefined;
}

export class ArrowStreamSink implements EventSink {
  private fd = -1;
  private writer: RecordBatchStreamWriter | undefined;
  private schema: Schema | undefined;
  constructor(
    readonly path: string,
    private readonly opts: ArrowSinkOptions = {},
  ) {}

  open(info: RunInfo): void {
    if (this.opts.compress === 'zstd') registerZstd();
    this.fd = openSync(this.path, 'w');
    this.schema = arrowSchema(info);
    const writer = new SpecCompliantStreamWriter({
      autoDestroy: false,
      compressionType: this.opts.compress === 'zstd' ? CompressionType.ZSTD : null,
    } as never);
    writer.reset(new FdByteSink(this.fd) as never, this.schema);
    this.writer = writer;
  }

  /** Wrap the batch's wire columns (EventBatch.toWire: the recorder writes them as it records). */
  writeBatch(b: EventBatch): void {
    const n = b.length;
    if (n === 0) return;
    const w = b.toWire();
    const nwords = w.wofs[n];
    const u64 = (u32: Uint32Array<ArrayBufferLike>) => new BigUint64Array(u32.buffer, u32.byteOffset, n);
    const fields = this.schema!.fields;
    const children = [
      makeData({ type: fields[0].type as Uint64, length: n, data: u64(w.seq) }),
      makeData({ type: fields[1].type as Uint64, length: n, data: u64(w.time) }),
      makeData({ type: fields[2].type, length: n, data: b.kind.subarray(0, n) } as never),
      makeData({ type: fields[3].type, length: n, data: b.lpid.subarray(0, n) } as never),
      makeData({ type: fields[4].type, length: n, data: b.vcpu.subarray(0, n) } as never),
      makeData({ type: fields[5].type, length: n, data: b.core.subarray(0, n) } as never),
      makeData({
        type: fields[6].type as Int64,
        length: n,
        nullCount: w.causeNulls,
        nullBitmap: w.causeNulls > 0 ? w.causeValid.subarray(0, (n + 7) >> 3) : undefined,
        data: new BigInt64Array(w.cause.buffer, w.cause.byteOffset, n),
      }),
      makeData({
        type: fields[7].type as List<Uint32>,
        length: n,
        nullCount: 0,
        valueOffsets: w.wofs.subarray(0, n + 1),
        child: makeData({ type: new Uint32(), length: nwords, data: w.words.subarray(0, nwords) }),
      }),
      makeData({ type: fields[8].type, length: n, data: w.wmask.subarray(0, n) } as never),
    ];
    const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
    this.writer!.write(new RecordBatch(this.schema!, data));
  }

  close(_complete: boolean, _eventCount: number): void {
    if (this.fd < 0) return;
    // finish() writes the end-of-stream marker without tearing down the sink.
    this.writer!.finish();
    closeSync(this.fd);
    this.fd = -1;
  }
}
