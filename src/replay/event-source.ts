// Random access to a trace's events by seq range, for seeks (nearest checkpoint + fold).
//
// SQLite: the events table's rowid is the seq, so a range is one indexed query (SqliteTraceReader).
// Arrow: an IPC *stream* has no footer, so the replay index (checkpoints.ts) records where each
// record-batch message starts; a seek reads just the schema message and the batches it needs and
// decodes them with apache-arrow, instead of streaming the file from the start.
//
// The Arrow decode below mirrors ArrowTraceReader.batches() (src/trace/reader.ts); it should move
// there as a shared `decodeArrowBatch` when that file's owner agrees (kept here to stay within
// the replayer's files).

import { RecordBatchReader } from 'apache-arrow';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EventBatch } from '../trace/batch.js';
import { TraceFormatError } from '../trace/errors.js';
import { decodeArrowBatch, SqliteTraceReader } from '../trace/reader.js';
import { registerZstd } from '../trace/zstd.js';

export interface EventSource {
  readonly count: number;
  /** Call fn for every batch overlapping [from, to) with the index range [i0, i1) inside it. */
  range(from: number, to: number, fn: (b: EventBatch, i0: number, i1: number) => boolean | void): void;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Arrow IPC stream message framing (Arrow columnar format, "Encapsulated message format"):
//   [0xFFFFFFFF][int32 metadata length][flatbuffer Message][body]; length 0 = end of stream.
// Message table fields: 0 version, 1 header_type (1 Schema, 2 DictionaryBatch, 3 RecordBatch),
// 2 header, 3 bodyLength (int64). RecordBatch field 0 = length (int64 rows).
// ---------------------------------------------------------------------------------------------

export interface ArrowLayout {
  /** [offset, bytes] of the schema message. */
  schema: [number, number];
  /** [firstSeq, rows, offset, bytes] per nonempty record batch, in order. */
  batches: [number, number, number, number][];
}

function fbField(buf: Buffer, table: number, field: number): number {
  const vt = table - buf.readInt32LE(table);
  const vtLen = buf.readUInt16LE(vt);
  const o = 4 + 2 * field;
  return o < vtLen ? buf.readUInt16LE(vt + o) : 0;
}

export function scanArrowLayout(path: string): ArrowLayout {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    let pos = 0;
    let seq = 0;
    let schema: [number, number] | null = null;
    const batches: [number, number, number, number][] = [];
    while (pos + 8 <= size) {
      readSync(fd, head, 0, 8, pos);
      let hdr = 8;
      let metaLen = head.readInt32LE(4);
      if (head.readUInt32LE(0) !== 0xffffffff) {
        hdr = 4;
        metaLen = head.readInt32LE(0);
      }
      if (metaLen === 0) break;
      if (metaLen < 0 || pos + hdr + metaLen > size) break;
      const meta = Buffer.alloc(metaLen);
      readSync(fd, meta, 0, metaLen, pos + hdr);
      const table = meta.readUInt32LE(0);
      const ht = fbField(meta, table, 1);
      const headerType = ht ? meta.readUInt8(table + ht) : 0;
      const bl = fbField(meta, table, 3);
      const bodyLength = bl ? Number(meta.readBigInt64LE(table + bl)) : 0;
      const total = hdr + metaLen + bodyLength;
      if (pos + total > size) break; // a message cut by a crash: the readers stop before it too
      if (headerType === 1) schema = [pos, total];
      else if (headerType === 3) {
        const h = fbField(meta, table, 2);
        const rbTable = table + h + meta.readUInt32LE(table + h);
        const lf = fbField(meta, rbTable, 0);
        const rows = lf ? Number(meta.readBigInt64LE(rbTable + lf)) : 0;
        if (rows > 0) batches.push([seq, rows, pos, total]);
        seq += rows;
      } else if (headerType === 2) throw new TraceFormatError(`${path}: dictionary batches are not part of an hvtrace stream`);
      pos += total;
    }
    if (!schema) throw new TraceFormatError(`${path}: no Arrow schema message`);
    return { schema, batches };
  } finally {
    closeSync(fd);
  }
}


export class ArrowEventSource implements EventSource {
  private readonly fd: number;
  private readonly schemaBytes: Buffer;
  private readonly starts: Float64Array;
  readonly count: number;
  /** Small cache of decoded batches (sequential seeks reuse them). */
  private cache: { k: number; b: EventBatch }[] = [];

  constructor(
    readonly path: string,
    readonly layout: ArrowLayout,
  ) {
    registerZstd();
    this.fd = openSync(path, 'r');
    this.schemaBytes = this.read(layout.schema[0], layout.schema[1]);
    this.starts = Float64Array.from(layout.batches.map((b) => b[0]));
    const last = layout.batches[layout.batches.length - 1];
    this.count = last ? last[0] + last[1] : 0;
  }

  private read(off: number, len: number): Buffer {
    const buf = Buffer.alloc(len);
    const n = readSync(this.fd, buf, 0, len, off);
    if (n !== len) throw new TraceFormatError(`${this.path}: short read at ${off} (the trace changed since it was indexed?)`);
    return buf;
  }

  /** Index of the batch holding seq. */
  private batchOf(seq: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= seq) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  batch(k: number): EventBatch {
    const hit = this.cache.find((c) => c.k === k);
    if (hit) return hit.b;
    const [first, rows, off, len] = this.layout.batches[k];
    const bytes = Buffer.concat([this.schemaBytes, this.read(off, len), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])]);
    const reader = RecordBatchReader.from(bytes);
    // Reuse the buffers of the batch about to be evicted (64K-event batches are ~7 MB each).
    let out: EventBatch | undefined = this.cache.length >= 2 ? this.cache.pop()!.b : undefined;
    for (const rb of reader) out = decodeArrowBatch(this.path, rb, first, out);
    if (!out || out.length !== rows) throw new TraceFormatError(`${this.path}: batch ${k} does not decode to ${rows} events`);
    this.cache.unshift({ k, b: out });
    if (this.cache.length > 2) this.cache.pop();
    return out;
  }

  range(from: number, to: number, fn: (b: EventBatch, i0: number, i1: number) => boolean | void): void {
    if (from >= to || this.layout.batches.length === 0) return;
    for (let k = this.batchOf(from); k < this.layout.batches.length; k++) {
      const [first, rows] = this.layout.batches[k];
      if (first >= to) break;
      const b = this.batch(k);
      if (fn(b, Math.max(0, from - first), Math.min(rows, to - first)) === false) break;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * SQLite: events are read in aligned chunks of CHUNK seqs (one rowid-range query each) and the last
 * two chunks are kept, so nearby seeks (stepping through events) do not query again.
 */
export class SqliteEventSource implements EventSource {
  static readonly CHUNK = 4096;
  readonly count: number;
  private cache: { start: number; b: EventBatch }[] = [];
  constructor(readonly reader: SqliteTraceReader) {
    this.count = reader.eventCount;
  }

  private chunk(start: number): EventBatch {
    const hit = this.cache.find((c) => c.start === start);
    if (hit) return hit.b;
    const C = SqliteEventSource.CHUNK;
    let out: EventBatch | undefined;
    for (const b of this.reader.batchesSync({ from: start, to: Math.min(start + C, this.count), batchSize: C })) out = b;
    if (!out) throw new TraceFormatError(`${this.reader.path}: no events at seq ${start}`);
    this.cache.unshift({ start, b: out });
    if (this.cache.length > 2) this.cache.pop();
    return out;
  }

  range(from: number, to: number, fn: (b: EventBatch, i0: number, i1: number) => boolean | void): void {
    const C = SqliteEventSource.CHUNK;
    to = Math.min(to, this.count);
    for (let start = Math.floor(from / C) * C; start < to; start += C) {
      const b = this.chunk(start);
      if (fn(b, Math.max(0, from - start), Math.min(b.length, to - start)) === false) break;
    }
  }

  close(): void {
    this.reader.close();
  }
}
