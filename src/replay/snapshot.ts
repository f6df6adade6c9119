// Snapshots of a StateFold, the payload of replay checkpoints (checkpoints.ts).
//
// A snapshot is [u32 json length][json: the small state][rows], deflated:
//   - the small state (VMs' registers and notifier counters, memslot list, vcpus, vcores, cores,
//     counters, anomalies) is always written whole: it is a few KB;
//   - the large state lives in RowTables (table.ts). A FULL snapshot holds every nonzero row of
//     every table; a DELTA holds only the rows changed since the previous checkpoint (zeroed rows
//     included), as KVM's HTAB stream sends only modified HPTEs after the first pass.
// Rows are [u32 row][width × u32]. Tables are listed in StateFold.tables() order and named in the
// json, so a decoder checks it is filling the table it thinks it is.
// VMs and memslots carry a generation number: a delta that names a VM or memslot generation the
// target fold does not have creates it fresh (a re-created VM/slot must not inherit old rows).

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { TraceFormatError } from '../trace/errors.js';
import { KINDS } from '../trace/kinds.js';
import { CoreFold, FoldMemslot, StateFold, VcoreFold, VcpuFold, VmState } from './state.js';

type Pair = [number, number];

interface SmallVm {
  lpid: number;
  gen: number;
  order: number;
  sdr1: Pair;
  lpcr: Pair;
  vmId: number;
  mmu: Pair;
  slbRows: number;
  memslots: [id: number, gen: number, base: number, npages: number, ua: number, flags: number][];
  vcpus: number[][];
  vcores: number[][];
}

interface SmallState {
  seq: number;
  time: number;
  gens: number;
  anomalyCount: number;
  anomalies: { seq: number; message: string }[];
  vms: SmallVm[];
  cores: number[][];
  hostRows: Pair;
  counters: Record<string, [number, number][]>;
  tables: string[];
}

const VCPU_FIELDS = ['inGuest', 'state', 'ret', 'exitReason', 'core', 'pcHi', 'pcLo', 'msrHi', 'msrLo', 'lastTrap', 'entries', 'exits'] as const;
const CORE_FIELDS = ['lpid', 'inGuest', 'sdr1Hi', 'sdr1Lo', 'lpcrHi', 'lpcrLo', 'switches', 'flushes', 'lastFlushSeq', 'lastFlushScope', 'lastFlushLpid', 'lastFlushVcpu', 'tlbieGlobal', 'tlbieLocal'] as const;
const COUNTER_ARRAYS = ['byKind', 'faults', 'pageFaultOutcome', 'notifier', 'hostOps', 'tlbScope', 'hcallPath', 'guestOps', 'mmio', 'anomalySeverity'] as const;

const sparse = (a: Float64Array): [number, number][] => {
  const out: [number, number][] = [];
  a.forEach((v, k) => v !== 0 && out.push([k, v]));
  return out;
};

function smallState(f: StateFold): SmallState {
  const counters: Record<string, [number, number][]> = {};
  for (const k of COUNTER_ARRAYS) counters[k] = sparse(f.counters[k]);
  counters.hcalls = [...f.counters.hcalls];
  return {
    seq: f.lastSeq,
    time: f.lastTime,
    gens: f.gens,
    anomalyCount: f.anomalyCount,
    anomalies: f.anomalies,
    vms: [...f.vms.values()].sort((a, b) => a.lpid - b.lpid).map((vm) => ({
      lpid: vm.lpid,
      gen: vm.gen,
      order: vm.hptOrder,
      sdr1: [vm.sdr1Hi, vm.sdr1Lo],
      lpcr: [vm.lpcrHi, vm.lpcrLo],
      vmId: vm.vmId,
      mmu: [vm.mmuSeq, vm.mmuCount],
      slbRows: vm.slbT.rows,
      memslots: vm.slotList.map((s) => [s.id, s.gen, s.base_gfn, s.npages, s.userspace_addr, s.flags]),
      vcpus: [...vm.vcpus.values()].map((v) => [v.id, ...VCPU_FIELDS.map((k) => Number(v[k]))]),
      vcores: [...vm.vcores.values()].map((v) => [v.id, v.state, v.nRunnable, v.core]),
    })),
    cores: [...f.cores.values()].map((c) => [c.id, ...CORE_FIELDS.map((k) => Number(c[k]))]),
    hostRows: [f.host.pages.rows, f.host.frames.rows],
    counters,
    tables: f.tables().map(([k]) => k),
  };
}

/** Make `f` match the small state (structure and scalars); tables of unchanged identity are kept. */
function applySmall(f: StateFold, s: SmallState): void {
  f.lastSeq = s.seq;
  f.lastTime = s.time;
  f.gens = s.gens;
  f.anomalyCount = s.anomalyCount;
  f.anomalies.length = 0;
  f.anomalies.push(...s.anomalies);
  const keep = new Set(s.vms.map((v) => v.lpid));
  for (const l of [...f.vms.keys()]) if (!keep.has(l)) f.vms.delete(l);
  for (const sv of s.vms) {
    let vm = f.vms.get(sv.lpid);
    if (!vm || vm.gen !== sv.gen) {
      vm = new VmState(sv.lpid, sv.order);
      vm.gen = sv.gen;
      f.vms.set(sv.lpid, vm);
    }
    [vm.sdr1Hi, vm.sdr1Lo] = sv.sdr1;
    [vm.lpcrHi, vm.lpcrLo] = sv.lpcr;
    vm.vmId = sv.vmId;
    [vm.mmuSeq, vm.mmuCount] = sv.mmu;
    vm.slbT.ensure(sv.slbRows);
    const old = vm.memslots;
    const slots = sv.memslots.map(([id, gen, base, npages, ua, flags]) => {
      const o = old.get(id);
      if (o && o.gen === gen) return o;
      const m = new FoldMemslot(id, base, npages, ua, flags);
      m.gen = gen;
      return m;
    });
    old.clear();
    for (const m of slots) old.set(m.id, m);
    vm.slotList = slots;
    vm.vcpus.clear();
    for (const [id, ...vals] of sv.vcpus) {
      const v = new VcpuFold(id);
      VCPU_FIELDS.forEach((k, j) => ((v as unknown as Record<string, number | boolean>)[k] = k === 'inGuest' ? vals[j] !== 0 : vals[j]));
      vm.vcpus.set(id, v);
    }
    vm.vcores.clear();
    for (const [id, state, n, core] of sv.vcores) {
      const v = new VcoreFold(id);
      v.state = state;
      v.nRunnable = n;
      v.core = core;
      vm.vcores.set(id, v);
    }
  }
  f.cores.clear();
  for (const [id, ...vals] of s.cores) {
    const c = new CoreFold(id);
    CORE_FIELDS.forEach((k, j) => ((c as unknown as Record<string, number | boolean>)[k] = k === 'inGuest' ? vals[j] !== 0 : vals[j]));
    f.cores.set(id, c);
  }
  f.host.pages.ensure(s.hostRows[0]);
  f.host.frames.ensure(s.hostRows[1]);
  for (const k of COUNTER_ARRAYS) {
    const a = f.counters[k];
    a.fill(0);
    for (const [i, v] of s.counters[k] ?? []) a[i] = v;
  }
  f.counters.hcalls.clear();
  for (const [k, v] of s.counters.hcalls ?? []) f.counters.hcalls.set(k, v);
  f.checkpoints = f.counters.byKind[KINDS.checkpoint.code];
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
  // Host page rows are append-only and a row's hva never changes: only new rows need indexing.
  const pagesBefore = f.host.pageRow.size === f.host.pages.rows ? f.host.pages.rows : 0;
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
  f.host.indexRows(pagesBefore);
}

/** Deep copy of a fold (for seek caches and tests); change tracking starts empty. */
export function cloneFold(f: StateFold): StateFold {
  const g = new StateFold();
  applySmall(g, smallState(f));
  const a = f.tables();
  const b = g.tables();
  a.forEach(([, t], k) => {
    const u = b[k][1];
    u.ensure(t.rows);
    u.data.set(t.data.subarray(0, t.rows * t.width));
  });
  for (const [k, r] of f.host.pageRow) g.host.pageRow.set(k, r);
  g.verify = f.verify;
  g.checkpoints = f.checkpoints;
  g.lastGoodCheckpoint = f.lastGoodCheckpoint;
  return g;
}
