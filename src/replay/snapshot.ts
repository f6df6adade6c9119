// Snapshots of a replay (StateFold), the payload of replay checkpoints (checkpoints.ts). They walk
// the handlers: each handler saves and restores its own small state and lists its own tables;
// there is no central list of fields here.
//
// A snapshot is [u32 json length][json: {seq, time, handlers: {name: save()}, tables}][rows], deflated:
//   - the small state of every handler is always written whole: it is a few KB;
//   - the large state lives in RowTables (table.ts). A FULL snapshot holds every nonzero row of
//     every table; a DELTA holds only the rows changed since the previous checkpoint (zeroed rows
//     included), as KVM's HTAB stream sends only modified HPTEs after the first pass.
// Rows are [u32 row][width × u32]. Tables are listed in StateFold.tables() order (handlers in
// dependency order) and named in the json, so a decoder checks it is filling the table it thinks
// it is. VMs and memslots carry a generation number: a delta that names a generation the target
// does not have creates it fresh (a re-created VM/slot must not inherit old rows).

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { TraceFormatError } from '../trace/errors.js';
import { StateFold } from './state.js';

interface SmallState {
  seq: number;
  time: number;
  handlers: Record<string, unknown>;
  tables: string[];
}

function smallState(f: StateFold): SmallState {
  const handlers: Record<string, unknown> = {};
  for (const h of f.order) handlers[h.name] = h.save();
  return { seq: f.lastSeq, time: f.lastTime, handlers, tables: f.tables().map(([k]) => k) };
}

/** Make `f` match the small state, handler by handler in dependency order. */
function applySmall(f: StateFold, s: SmallState): void {
  f.lastSeq = s.seq;
  f.lastTime = s.time;
  for (const h of f.order) {
    if (!(h.name in s.handlers)) throw new TraceFormatError(`checkpoint snapshot has no state for replay handler ${h.name}`);
    h.restore(s.handlers[h.name]);
  }
}

function afterRestore(f: StateFold): void {
  for (const h of f.order) h.afterRestore?.();
}

/**
 * Encode a checkpoint of `f` (full: every nonzero row; else the rows changed since the last
 * encode) and clear the change tracking. Returns the deflated bytes.
 */
export function encodeSnapshot(f: StateFold, full: boolean): Buffer {
  const json = Buffer.from(JSON.stringify(smallState(f)));
  const tables = f.tables();
  let words = 0;
  const picks: Int32Array[] = [];
  for (const [, t] of tables) {
    let rows: Int32Array;
    if (full) {
      const nz: number[] = [];
      for (let r = 0; r < t.rows; r++) if (!t.rowIsZero(r)) nz.push(r);
      rows = Int32Array.from(nz);
    } else rows = t.dirtyRows().slice().sort();
    picks.push(rows);
    words += 1 + rows.length * (1 + t.width);
  }
  const body = new Uint32Array(words);
  let p = 0;
  tables.forEach(([, t], k) => {
    const rows = picks[k];
    body[p++] = rows.length;
    const d = t.data;
    const w = t.width;
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j];
      body[p++] = r;
      for (let x = 0; x < w; x++) body[p++] = d[r * w + x];
    }
    t.clearDirty();
  });
  const head = Buffer.alloc(4);
  head.writeUInt32LE(json.length);
  return deflateRawSync(Buffer.concat([head, json, Buffer.from(body.buffer, body.byteOffset, body.byteLength)]), { level: 1 });
}

/** Apply a snapshot to `f` (a fresh StateFold for a full one; the previous checkpoint's state for a delta). */
export function applySnapshot(f: StateFold, bytes: Uint8Array): void {
  let raw: Buffer;
  try {
    raw = inflateRawSync(bytes);
  } catch (e) {
    throw new TraceFormatError(`checkpoint snapshot does not inflate: ${(e as Error).message}`);
  }
  const jl = raw.readUInt32LE(0);
  const s = JSON.parse(raw.subarray(4, 4 + jl).toString()) as SmallState;
  applySmall(f, s);
  const tables = f.tables();
  if (tables.length !== s.tables.length || tables.some(([k], j) => k !== s.tables[j])) throw new TraceFormatError('checkpoint snapshot tables do not match its state');
  const off = 4 + jl;
  const body = new Uint32Array(raw.buffer.slice(raw.byteOffset + off, raw.byteOffset + raw.byteLength));
  let p = 0;
  for (const [key, t] of tables) {
    const n = body[p++];
    const w = t.width;
    const d = t.data;
    for (let j = 0; j < n; j++) {
      const r = body[p++];
      if (r >= t.rows) throw new TraceFormatError(`checkpoint snapshot row ${r} out of range in ${key}`);
      for (let x = 0; x < w; x++) d[r * w + x] = body[p++];
    }
  }
  if (p !== body.length) throw new TraceFormatError('checkpoint snapshot has trailing data');
  afterRestore(f);
}

/** Deep copy of a replay (for seek caches and tests); change tracking starts empty. */
export function cloneFold(f: StateFold): StateFold {
  const g = new StateFold({ perf: f.h.perf.enabled });
  // Through JSON so that no handler's restore can alias the source's objects.
  applySmall(g, JSON.parse(JSON.stringify(smallState(f))) as SmallState);
  const a = f.tables();
  const b = g.tables();
  a.forEach(([, t], k) => {
    const u = b[k][1];
    u.ensure(t.rows);
    u.data.set(t.data.subarray(0, t.rows * t.width));
  });
  afterRestore(g);
  g.verify = f.verify;
  return g;
}
