// Replay checkpoints: a sidecar index next to the trace (`<trace>.hvidx`), built by one full fold on
// first open and reused afterwards. Seek = nearest checkpoint + fold (seek.ts).
//
// Why a sidecar built on open, not state written by the recorder into the trace:
//   - one design for both formats: an Arrow IPC *stream* cannot hold a side table, and a SQLite
//     `checkpoints` table would need a second encoding of the same thing;
//   - every trace gets fast seek, including traces written before this existed, converted ones
//     (`hvtrace convert`) and imported real-host traces, which never had an emulator behind them;
//   - the recorder's hot path stays free of snapshot work (the emulator already writes its own
//     `checkpoint` digest events, which stay the independent truth `replay --verify` checks);
//   - the trace file is never modified (traces are evidence in a post-mortem).
// The cost is one full fold on first use (≈ read time of the trace; see bench/README.md).
//
// Trust: the index is a cache, never trusted blindly. It records the trace's size and a hash of
// 17 blocks of 64 KiB spread evenly over it (first, middle and last included; the whole file when
// it is smaller), and the same of the SQLite -wal file, if any: content only, no mtime, so two
// recordings of one seed get byte-identical indexes. If any differ, or
// the magic, version, header CRC or a snapshot CRC is wrong, it is rebuilt. If the directory is
// not writable the index goes to $TMPDIR/hvtrace-index/.
//
// Layout of the index file:
//   [snapshot 0][snapshot 1]...[header json][u32 header bytes][u32 crc32(header)]["HVIDX001"]
// Snapshots (snapshot.ts) are FULL every `fullEvery`-th checkpoint and DELTAs (rows changed since
// the previous checkpoint, like KVM's HTAB stream) in between; checkpoint k holds the state after
// event seq (k + 1) * interval - 1. For Arrow the header also holds the byte offset of every
// record-batch message (event-source.ts), so a seek reads only the batches it folds.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { UserError } from '../trace/errors.js';
import type { TraceReader } from '../trace/reader.js';
import { encodeSnapshot } from './snapshot.js';
import { type ArrowLayout, scanArrowLayout } from './event-source.js';
import { StateFold } from './state.js';

// 2: snapshots walk the replay handlers (per-handler small state and tables).
// 3: the anomaly counters include the before-value checks (111..) and the first inconsistency;
//    the trace fingerprint is content only (size + sampled blocks), no mtime.
// 4: snapshots hold the perf handler (`stats`: exits, hcalls and page faults with their times,
//    per-context counts), so `stats` restores the last checkpoint and folds only the tail.
export const INDEX_VERSION = 4;
const MAGIC = Buffer.from('HVIDX001', 'latin1');
/** Default checkpoint interval in events and full-snapshot period (chosen by measurement: bench/README.md, replay). */
export const DEFAULT_INTERVAL = 32768;
export const DEFAULT_FULL_EVERY = 8;

export interface TraceFingerprint {
  format: string;
  size: number;
  /** sampledHash of the trace. */
  content: string;
  /** sampledHash of `<trace>-wal`, '' when there is none. */
  wal: string;
}

export interface CheckpointEntry {
  /** State after this event. */
  seq: number;
  time: number;
  off: number;
  len: number;
  full: boolean;
  crc: number;
}

export interface IndexHeader {
  version: number;
  trace: TraceFingerprint;
  interval: number;
  fullEvery: number;
  events: number;
  lastTime: number;
  checkpoints: CheckpointEntry[];
  arrow: ArrowLayout | null;
}

const BLOCK = 65536;
const BLOCKS = 17; // odd, so one block is centred on the middle of the file

/**
 * sha1 of the file's size and of BLOCKS blocks of BLOCK bytes at offsets k/(BLOCKS-1) of the way
 * through it (k = 0..BLOCKS-1: the first, the middle and the last block among them), or of the
 * whole file when it is no larger than that. '' for a missing file.
 */
export function sampledHash(path: string): string {
  if (!existsSync(path)) return '';
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha1').update(`${size}\n`);
    const buf = Buffer.alloc(BLOCK);
    const read = (pos: number, n: number) => h.update(buf.subarray(0, readSync(fd, buf, 0, n, pos)));
    if (size <= BLOCK * BLOCKS) for (let pos = 0; pos < size; pos += BLOCK) read(pos, Math.min(BLOCK, size - pos));
    else for (let k = 0; k < BLOCKS; k++) read(Math.floor((k * (size - BLOCK)) / (BLOCKS - 1)), BLOCK);
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

export function fingerprint(path: string, format: string): TraceFingerprint {
  return { format, size: statSync(path).size, content: sampledHash(path), wal: sampledHash(`${path}-wal`) };
}

const sameFingerprint = (a: TraceFingerprint, b: TraceFingerprint) =>
  a.format === b.format && a.size === b.size && a.content === b.content && a.wal === b.wal;

/** Where the index of `trace` lives: beside it, or in $TMPDIR/hvtrace-index if that is not writable. */
export function defaultIndexPath(trace: string): string {
  const abs = resolve(trace);
  const beside = `${abs}.hvidx`;
  try {
    const probe = `${beside}.probe-${process.pid}`;
    const fd = openSync(probe, 'w');
    closeSync(fd);
    unlinkSync(probe);
    return beside;
  } catch {
    const dir = join(tmpdir(), 'hvtrace-index');
    mkdirSync(dir, { recursive: true });
    return join(dir, `${createHash('sha1').update(abs).digest('hex').slice(0, 16)}-${basename(abs)}.hvidx`);
  }
}

export class CheckpointIndex {
  private fd: number | null = null;
  constructor(
    readonly path: string,
    readonly header: IndexHeader,
  ) {}

  /** Read and check a snapshot; throws if its CRC is wrong. */
  snapshot(k: number): Buffer {
    const c = this.header.checkpoints[k];
    this.fd ??= openSync(this.path, 'r');
    const buf = Buffer.alloc(c.len);
    const n = readSync(this.fd, buf, 0, c.len, c.off);
    if (n !== c.len || crc32(buf) !== c.crc) throw new CorruptIndexError(`${this.path}: checkpoint ${k} is corrupt`);
    return buf;
  }

  /** Bytes taken by the snapshots. */
  get snapshotBytes(): number {
    return this.header.checkpoints.reduce((n, c) => n + c.len, 0);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export class CorruptIndexError extends Error {}

/** Load the index if it exists and matches the trace; null if missing, stale or corrupt. */
export function loadIndex(indexPath: string, trace: string, format: string): CheckpointIndex | null {
  if (!existsSync(indexPath)) return null;
  let fd: number | null = null;
  try {
    fd = openSync(indexPath, 'r');
    const size = fstatSync(fd).size;
    if (size < 16) return null;
    const tail = Buffer.alloc(16);
    readSync(fd, tail, 0, 16, size - 16);
    if (!tail.subarray(8).equals(MAGIC)) return null;
    const hlen = tail.readUInt32LE(0);
    if (hlen <= 0 || hlen > size - 16) return null;
    const hb = Buffer.alloc(hlen);
    readSync(fd, hb, 0, hlen, size - 16 - hlen);
    if (crc32(hb) !== tail.readUInt32LE(4)) return null;
    const header = JSON.parse(hb.toString()) as IndexHeader;
    if (header.version !== INDEX_VERSION || !sameFingerprint(header.trace, fingerprint(trace, format))) return null;
    if (header.checkpoints.some((c) => c.off + c.len > size - 16 - hlen)) return null;
    return new CheckpointIndex(indexPath, header);
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export interface BuildOptions {
  interval?: number;
  fullEvery?: number;
  onProgress?: (events: number) => void;
}

/**
 * Fold the whole trace once, writing a snapshot every `interval` events, and write the index
 * atomically (temporary file + rename). Returns the loaded index.
 */
export async function buildIndex(reader: TraceReader, indexPath: string, opts: BuildOptions = {}): Promise<CheckpointIndex> {
  const interval = opts.interval ?? DEFAULT_INTERVAL;
  const fullEvery = opts.fullEvery ?? DEFAULT_FULL_EVERY;
  if (!(interval >= 1) || !(fullEvery >= 1)) throw new Error('checkpoint interval and full period must be ≥ 1');
  const trace = reader.path;
  const fp = fingerprint(trace, reader.format);
  const arrow = reader.format === 'arrow' ? scanArrowLayout(trace) : null;
  mkdirSync(dirname(indexPath), { recursive: true });
  const tmp = `${indexPath}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  const checkpoints: CheckpointEntry[] = [];
  let off = 0;
  const fold = new StateFold({ opIndex: true, perf: true });
  let events = 0;
  try {
    for await (const b of reader.batches()) {
      let i = 0;
      while (i < b.length) {
        const seq = b.firstSeq + i;
        const next = (Math.floor(seq / interval) + 1) * interval - 1; // seq of the next checkpoint
        const end = Math.min(b.length, next - b.firstSeq + 1);
        fold.foldRange(b, i, end);
        i = end;
        if (fold.lastSeq === next) {
          const full = checkpoints.length % fullEvery === 0;
          const snap = encodeSnapshot(fold, full);
          writeSync(fd, snap);
          checkpoints.push({ seq: fold.lastSeq, time: fold.lastTime, off, len: snap.length, full, crc: crc32(snap) });
          off += snap.length;
        }
      }
      events = b.firstSeq + b.length;
      opts.onProgress?.(events);
    }
    // Nothing to seek in: no index (a caller gets this one line, and no file is left behind).
    if (events === 0) throw new UserError(`${trace}: the trace has no events`);
    if (arrow && arrow.batches.length && arrow.batches.at(-1)![0] + arrow.batches.at(-1)![1] !== events)
      throw new Error(`${trace}: Arrow layout (${arrow.batches.length} batches) disagrees with the events read (${events})`);
    const header: IndexHeader = { version: INDEX_VERSION, trace: fp, interval, fullEvery, events, lastTime: fold.lastTime, checkpoints, arrow };
    const hb = Buffer.from(JSON.stringify(header));
    const tail = Buffer.alloc(16);
    tail.writeUInt32LE(hb.length, 0);
    tail.writeUInt32LE(crc32(hb), 4);
    MAGIC.copy(tail, 8);
    writeSync(fd, hb);
    writeSync(fd, tail);
    closeSync(fd);
    renameSync(tmp, indexPath);
    return new CheckpointIndex(indexPath, header);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
    throw e;
  }
}
