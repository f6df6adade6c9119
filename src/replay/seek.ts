// State at an event: seek = nearest checkpoint (checkpoints.ts) + fold of the events after it,
// and the point queries `hvtrace state` answers about the folded state.

import { hpteg_primary, hpteg_secondary } from '../arch/hash.js';
import { hash_real_address, hash_slb_lookup, hash_translate, HashTranslation } from '../arch/hash-translate.js';
import { HPTE_V_ABSENT_LO, HPTE_V_VALID_LO, hpte_page_size, hpte_rpn } from '../arch/hpte.js';
import { KVMPPC_RMAP_CHANGED_HI, KVMPPC_RMAP_INDEX_LO, KVMPPC_RMAP_PRESENT_HI, KVMPPC_RMAP_REFERENCED_HI } from '../arch/kvm_host.js';
import { SLB_VSID_B_1T_HI } from '../arch/slb.js';
import { UserError } from '../trace/errors.js';
import { ENUMS, KIND_BY_CODE } from '../trace/kinds.js';
import { openTrace, type SqliteTraceReader, type TraceReader } from '../trace/reader.js';
import type { RunInfo } from '../trace/run-info.js';
import { type BuildOptions, buildIndex, CheckpointIndex, CorruptIndexError, defaultIndexPath, loadIndex } from './checkpoints.js';
import { ArrowEventSource, type EventSource, SqliteEventSource } from './event-source.js';
import { applySnapshot, cloneFold } from './snapshot.js';
import { type FoldOptions, HOST_PRESENT, HOST_RW, HOST_SWAP, SLB_ROWS, StateFold, type VmState } from './state.js';

const u64 = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

export type SeekTarget = { seq: number } | { time: number } | 'end';

/** Linear fold from the start (no checkpoints): the reference the seek tests compare against. */
export async function stateAt(reader: TraceReader, at: { seq: number } | 'end', opts: FoldOptions = {}): Promise<StateFold> {
  const fold = new StateFold(opts);
  const upTo = at === 'end' ? Number.POSITIVE_INFINITY : at.seq;
  for await (const b of reader.batches()) if (!fold.foldBatch(b, upTo)) break;
  if (at !== 'end' && fold.lastSeq < at.seq) throw new UserError(`seq ${at.seq} is past the end of the trace (last seq ${fold.lastSeq})`);
  return fold;
}

export interface SeekerOptions extends BuildOptions {
  /** Where the checkpoint index lives (default: beside the trace, see checkpoints.ts). */
  indexPath?: string;
  /** Ignore an existing index and build a new one. */
  rebuild?: boolean;
  /** Seeks keep the perf handler (`stats`): its checkpointed state and the events after it. */
  perf?: boolean;
}

/**
 * The state at the end of a trace from its checkpoint index, when it has a valid one: the last
 * checkpoint restored and the events after it folded (finalized). Null when there is no valid
 * index, so the caller picks its own full pass (nothing is built or written here).
 * `fromCheckpoint` is the seq of the checkpoint the fold started from (null: from the start).
 */
export async function endFromIndex(
  path: string,
  opts: { indexPath?: string; perf?: boolean } = {},
): Promise<{ fold: StateFold; info: RunInfo; fromCheckpoint: number | null } | null> {
  const reader = await openTrace(path);
  const indexPath = opts.indexPath ?? defaultIndexPath(path);
  const index = loadIndex(indexPath, path, reader.format);
  reader.close();
  if (!index) return null;
  index.close();
  const seeker = await Seeker.open(path, { indexPath, perf: opts.perf });
  try {
    const cps = seeker.checkpointIndex.header.checkpoints;
    const fold = await seeker.seek('end');
    fold.finalize();
    const fromCheckpoint = cps.length && cps.at(-1)!.seq <= fold.lastSeq ? cps.at(-1)!.seq : null;
    return { fold, info: seeker.info, fromCheckpoint };
  } finally {
    seeker.close();
  }
}

/** Seeks in one trace. Each seek returns a fresh StateFold the caller owns. */
export class Seeker {
  private cached: { k: number; fold: StateFold } | null = null;
  private lastRestored = -2;
  /** The index was built by this open (not loaded from the cache). */
  built = false;

  private constructor(
    readonly path: string,
    readonly info: RunInfo,
    private index: CheckpointIndex,
    private source: EventSource,
    private readonly opts: SeekerOptions,
    private readonly reader: TraceReader,
  ) {}

  static async open(path: string, opts: SeekerOptions = {}): Promise<Seeker> {
    const reader = await openTrace(path);
    const indexPath = opts.indexPath ?? defaultIndexPath(path);
    let index = opts.rebuild ? null : loadIndex(indexPath, path, reader.format);
    // An explicitly requested layout that differs from the cached one is a rebuild too.
    if (index && ((opts.interval && opts.interval !== index.header.interval) || (opts.fullEvery && opts.fullEvery !== index.header.fullEvery))) index = null;
    let built = false;
    if (!index) {
      index = await buildIndex(reader, indexPath, opts);
      built = true;
    }
    const s = new Seeker(path, reader.info, index, Seeker.sourceFor(reader, index), opts, reader);
    s.built = built;
    return s;
  }

  private static sourceFor(reader: TraceReader, index: CheckpointIndex): EventSource {
    if (reader.format === 'sqlite') return new SqliteEventSource(reader as SqliteTraceReader);
    return new ArrowEventSource(reader.path, index.header.arrow!);
  }

  get events(): number {
    return this.index.header.events;
  }

  get checkpointIndex(): CheckpointIndex {
    return this.index;
  }

  /**
   * State after event `seq`, after the last event at or before time T, or at the end. `opIndex`:
   * the fold keeps the op index from the checkpoint on (as the index itself was built), so the
   * events after the checkpoint are checked as a linear fold with the op index checks them (the
   * op_cause_beyond_window anomaly): `info` uses it to match a full replay exactly.
   */
  async seek(target: SeekTarget, opts: { opIndex?: boolean } = {}): Promise<StateFold> {
    const opIndex = opts.opIndex ?? false;
    try {
      return this.seekOnce(target, opIndex);
    } catch (e) {
      if (!(e instanceof CorruptIndexError)) throw e;
      // The cache lied (disk corruption, a concurrent writer): rebuild it once and retry.
      this.index.close();
      this.cached = null;
      const reader = await openTrace(this.path);
      this.index = await buildIndex(reader, this.index.path, this.opts);
      this.source.close();
      this.source = Seeker.sourceFor(reader, this.index);
      return this.seekOnce(target, opIndex);
    }
  }

  private seekOnce(target: SeekTarget, opIndex: boolean): StateFold {
    const n = this.events;
    if (n === 0) throw new UserError(`${this.path}: the trace has no events`);
    const cps = this.index.header.checkpoints;
    if (target === 'end') target = { seq: n - 1 };
    if ('seq' in target) {
      const seq = target.seq;
      if (!Number.isInteger(seq) || seq < 0 || seq >= n) throw new UserError(`seq ${seq} is outside the trace (0..${n - 1})`);
      const f = this.base(lastAtOrBefore(cps.length, (k) => cps[k].seq <= seq), opIndex);
      this.source.range(f.lastSeq + 1, seq + 1, (b, i0, i1) => f.foldRange(b, i0, i1));
      return f;
    }
    const t = target.time;
    const f = this.base(lastAtOrBefore(cps.length, (k) => cps[k].time <= t), opIndex);
    this.source.range(f.lastSeq + 1, n, (b, i0, i1) => {
      let j = i0;
      while (j < i1 && b.time[j] <= t) j++;
      f.foldRange(b, i0, j);
      return j === i1;
    });
    if (f.lastSeq < 0) throw new UserError(`no event at or before time ${t} (the first event is later)`);
    return f;
  }

  /**
   * A fresh fold at checkpoint k (-1: the empty state before seq 0). A restored checkpoint is kept
   * (as a clone) once it is asked for twice in a row, so stepping through nearby events copies it
   * instead of restoring it again; random seeks do not pay for the extra copy.
   */
  private base(k: number, opIndex = false): StateFold {
    if (k < 0) return new StateFold({ opIndex, perf: this.opts.perf });
    if (!opIndex && this.cached?.k === k) return cloneFold(this.cached.fold);
    const cps = this.index.header.checkpoints;
    let full = k;
    while (full > 0 && !cps[full].full) full--;
    if (!cps[full].full) throw new CorruptIndexError(`${this.index.path}: no full checkpoint before ${k}`);
    const f = new StateFold({ opIndex, perf: this.opts.perf });
    try {
      for (let j = full; j <= k; j++) applySnapshot(f, this.index.snapshot(j));
    } catch (e) {
      throw e instanceof CorruptIndexError ? e : new CorruptIndexError((e as Error).message);
    }
    if (f.lastSeq !== cps[k].seq) throw new CorruptIndexError(`${this.index.path}: checkpoint ${k} restores seq ${f.lastSeq}, expected ${cps[k].seq}`);
    if (!opIndex && this.lastRestored === k) this.cached = { k, fold: cloneFold(f) };
    this.lastRestored = k;
    return f;
  }

  close(): void {
    this.index.close();
    this.source.close();
    if (this.reader.format === 'arrow') this.reader.close();
  }
}

function lastAtOrBefore(n: number, ok: (k: number) => boolean): number {
  let lo = -1;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Point queries
// ---------------------------------------------------------------------------------------------

export function pickVm(fold: StateFold, lpid: number | undefined): VmState {
  if (lpid !== undefined) {
    const vm = fold.vm(lpid);
    if (!vm) {
      const have = [...fold.vms.keys()];
      throw new UserError(`--lpid ${lpid}: no VM with LPID ${lpid} at seq ${fold.lastSeq} (${have.length ? `LPIDs there: ${have.join(', ')}` : 'no VM exists there'})`);
    }
    return vm;
  }
  if (fold.vms.size === 0) throw new UserError('no VM exists at this point of the trace');
  if (fold.vms.size > 1) throw new UserError(`several VMs (LPIDs ${[...fold.vms.keys()].join(', ')}): choose one with --lpid`);
  return fold.vms.values().next().value!;
}

export function hpteState(vm: VmState, index: number) {
  if (!Number.isInteger(index) || index < 0 || index >= vm.npte) throw new UserError(`HPTE index ${index} out of range (0..${vm.npte - 1})`);
  const h = vm.hpt;
  return {
    index,
    v: u64(h[index * 4], h[index * 4 + 1]),
    r: u64(h[index * 4 + 2], h[index * 4 + 3]),
    guest_r: u64(vm.guestR[index * 2], vm.guestR[index * 2 + 1]),
  };
}

export function rmapState(vm: VmState, gfn: number) {
  const [hi, lo] = vm.rmapWord(gfn);
  const present = (hi & KVMPPC_RMAP_PRESENT_HI) !== 0;
  const head = (lo & KVMPPC_RMAP_INDEX_LO) >>> 0;
  const chain: number[] = [];
  if (present) {
    let i = head;
    do {
      chain.push(i);
      i = vm.forw(i);
    } while (i !== head && i >= 0 && chain.length <= vm.npte);
  }
  return {
    gfn,
    rmap: u64(hi, lo),
    present,
    referenced: (hi & KVMPPC_RMAP_REFERENCED_HI) !== 0,
    changed: (hi & KVMPPC_RMAP_CHANGED_HI) !== 0,
    head: present ? head : null,
    chain,
  };
}

function hostPageState(fold: StateFold, hva: number) {
  const h = fold.host;
  const r = h.find(hva);
  if (r < 0) return { hva: u64(Math.floor(hva / 2 ** 32), hva >>> 0), state: 'never_mapped' as const, pfn: null, writable: false, page_shift: null, pins: 0 };
  const d = h.pages.data;
  const flags = d[r * 5 + 3];
  const pfn = d[r * 5 + 2];
  const present = (flags & HOST_PRESENT) !== 0;
  return {
    hva: u64(d[r * 5], d[r * 5 + 1]),
    state: present ? ('present' as const) : (flags & HOST_SWAP) !== 0 ? ('swapped' as const) : ('unmapped' as const),
    pfn: present ? BigInt(pfn) : null, // a 'hex' field (kinds.ts host_page.pfn): BigInt, so it prints 0x… as in events and query
    writable: present && (flags & HOST_RW) !== 0,
    page_shift: d[r * 5 + 4],
    pins: present ? h.pins(pfn) : 0,
  };
}

/** Everything about one guest frame: memslot, hva, host page, rmap chain, HPTEs mapping it. */
export function gfnState(fold: StateFold, vm: VmState, gfn: number, hostPageShift = 12, arch206 = true) {
  const slot = vm.slotOf(gfn);
  const hva = slot ? slot.userspace_addr + (gfn - slot.base_gfn) * 2 ** hostPageShift : null;
  const rmap = rmapState(vm, gfn);
  // HPTEs whose guest view maps this frame (valid or absent), chained or not.
  const mapping: { index: number; v: bigint; r: bigint; guest_r: bigint; valid: boolean; absent: boolean; in_chain: boolean }[] = [];
  const inChain = new Set(rmap.chain);
  for (let i = 0; i < vm.npte; i++) {
    const vlo = vm.hpt[i * 4 + 1];
    if ((vlo & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) === 0) continue;
    const psize = hpte_page_size(vlo, vm.guestR[i * 2 + 1], arch206);
    if (psize === 0) continue; // no page size on this CPU (e.g. a 64K encoding on PPC970)
    const g = hpte_rpn(vm.guestR[i * 2], vm.guestR[i * 2 + 1], psize, hostPageShift);
    const n = Math.max(1, psize / 2 ** hostPageShift);
    if (gfn >= g && gfn < g + n) {
      const e = hpteState(vm, i);
      mapping.push({ ...e, valid: (vlo & HPTE_V_VALID_LO) !== 0, absent: (vlo & HPTE_V_ABSENT_LO) !== 0, in_chain: inChain.has(i) });
    }
  }
  return {
    gfn,
    memslot: slot ? { slot: slot.id, base_gfn: slot.base_gfn, npages: slot.npages, userspace_addr: u64(Math.floor(slot.userspace_addr / 2 ** 32), slot.userspace_addr >>> 0), flags: BigInt(slot.flags) } : null, // memslot flags is 'hex' in kinds.ts
    hva: hva === null ? null : u64(Math.floor(hva / 2 ** 32), hva >>> 0),
    host_page: hva === null ? null : hostPageState(fold, hva),
    rmap,
    hptes: mapping,
  };
}

/** CPU_FTR_ARCH_206 of the recorded CPU: POWER7 has it, PPC970 not (4K and 16M pages only). */
export function arch206Of(info: Pick<RunInfo, 'profile'>): boolean {
  return info.profile !== 'ppc970';
}

/**
 * Translate EA on vcpu V as the hardware would, from the folded SLB and HPT, through the same rule
 * the hardware model uses (arch/hash-translate.ts): 1. SLB lookup (ESID compare under the segment
 * size of each valid entry); 2. VSID, VA and hash; 3. primary then secondary PTEG, first VALID
 * HPTE matching B|AVPN|L whose page size for this CPU (`arch206`: POWER7; PPC970 has no 64K pages)
 * is the segment's base page size; 4. RPN + page offset. With no VALID entry, the first ABSENT one
 * that matches is reported (the fault KVM would take to the host).
 */
export function eaState(vm: VmState, vcpu: number, ea: bigint, arch206: boolean) {
  if (!vm.vcpus.has(vcpu)) throw new UserError(`vcpu ${vcpu} has no state in this trace at this point (vcpus: ${[...vm.vcpus.keys()].join(', ') || 'none'})`);
  const eaHi = Number((ea >> 32n) & 0xffffffffn);
  const eaLo = Number(ea & 0xffffffffn);
  const d = vm.slbT.data;
  // 1.
  const slot = hash_slb_lookup(d, vcpu * SLB_ROWS, SLB_ROWS, eaHi, eaLo);
  const base = { vcpu, ea };
  if (slot < 0) return { ...base, slb: null, result: 'slb_miss (segment interrupt)' };
  const p = (vcpu * SLB_ROWS + slot) * 4;
  const vHi = d[p + 2];
  const vLo = d[p + 3];
  const slb = { slot, esid: u64(d[p], d[p + 1]), vsid: u64(vHi, vLo) };
  // 2. + 3.
  const oneT = (vHi & SLB_VSID_B_1T_HI) !== 0;
  const slbv = u64(vHi, vLo) & ~(3n << 62n);
  const vsid = oneT ? slbv >> 24n : slbv >> 12n;
  const segBits = oneT ? 40n : 28n;
  const va = (vsid << segBits) | (ea & ((1n << segBits) - 1n));
  const hashMask = vm.npte / 8 - 1;
  const t = new HashTranslation();
  const found = hash_translate(vm.hpt, hashMask, vHi, vLo, eaHi, eaLo, HPTE_V_VALID_LO, arch206, t);
  const primary = hpteg_primary(t.key.hash, hashMask);
  const walk = {
    ...base,
    slb,
    segment: oneT ? '1T' : '256M',
    base_page_shift: t.key.pshift,
    va,
    hash: BigInt(t.key.hash),
    pteg_primary: primary,
    pteg_secondary: hpteg_secondary(t.key.hash, hashMask),
  };
  if (!found) {
    const absent = hash_translate(vm.hpt, hashMask, vHi, vLo, eaHi, eaLo, HPTE_V_ABSENT_LO, arch206, t) ? t.index : null;
    return { ...walk, hpte: absent === null ? null : { ...hpteState(vm, absent), absent: true }, result: absent === null ? 'no HPTE (HDSI/HISI: no-HPTE fault)' : 'ABSENT HPTE (host page not present: fault to the host)' };
  }
  // 4.
  const i = t.index;
  const e = hpteState(vm, i);
  const rHi = vm.hpt[i * 4 + 2];
  const rLo = vm.hpt[i * 4 + 3];
  const ra = u64(t.raHi, t.raLo);
  const g = new HashTranslation();
  hash_real_address(vm.guestR[i * 2], vm.guestR[i * 2 + 1], t.psize, eaHi, eaLo, g);
  const secondary = Math.floor(i / 8) !== primary;
  return { ...walk, hpte: { ...e, slot: i & 7, secondary }, page_size: t.psize, real_address: ra, guest_physical: u64(g.raHi, g.raLo), pp: Number(rLo & 3) | ((rHi >>> 31) << 2), result: 'translated' };
}

const named = (names: readonly string[], a: Float64Array) => Object.fromEntries([...a].map((v, k) => [names[k] ?? String(k), v]).filter(([, v]) => v !== 0));

export function summaryState(fold: StateFold) {
  const c = fold.counters;
  const byKind = Object.fromEntries([...c.byKind].map((v, k) => [KIND_BY_CODE[k] ?? String(k), v]).filter(([, v]) => v !== 0));
  const faults: Record<string, number> = {};
  c.faults.forEach((v, k) => v && (faults[`${ENUMS.fault_kind[k >> 3]}/${ENUMS.fault_decision[k & 7]}`] = v));
  const notifier: Record<string, number> = {};
  c.notifierEffect.forEach((v, k) => v && (notifier[`${ENUMS.notifier_kind[k >> 3]}/${ENUMS.notifier_effect[k & 7]}`] = v));
  const hostOps: Record<string, number> = {};
  c.hostOps.forEach((v, k) => v && (hostOps[`${ENUMS.host_page_op[k >> 1]}/${k & 1 ? 'other' : 'vmm'}`] = v));
  const hcalls = [...c.hcalls].sort((a, b) => a[0] - b[0]).map(([k, v]) => ({ nr: `0x${Math.floor(k / 65536).toString(16)}`, ret: (k & 0xffff) << 16 >> 16, count: v }));
  const h = fold.host;
  let present = 0;
  let swapped = 0;
  for (let r = 0; r < h.pages.rows; r++) {
    const f = h.pages.data[r * 5 + 3];
    if (f & HOST_PRESENT) present++;
    else if (f & HOST_SWAP) swapped++;
  }
  let pinned = 0;
  let other = 0;
  for (let p = 0; p < h.frames.rows; p++) {
    if (h.frames.data[p * 2] !== 0) pinned++;
    if (h.frames.data[p * 2 + 1] !== 0) other++;
  }
  return {
    seq: fold.lastSeq,
    time: fold.lastTime,
    vms: [...fold.vms.values()].map((vm) => {
      let valid = 0;
      let absent = 0;
      for (let i = 0; i < vm.npte; i++) {
        const vlo = vm.hpt[i * 4 + 1];
        if (vlo & HPTE_V_VALID_LO) valid++;
        else if (vlo & HPTE_V_ABSENT_LO) absent++;
      }
      let chained = 0;
      for (const [, hi] of vm.rmapEntries()) if (hi & KVMPPC_RMAP_PRESENT_HI) chained++;
      return {
        lpid: vm.lpid,
        npte: vm.npte,
        valid_hptes: valid,
        absent_hptes: absent,
        gfns_mapped: chained,
        memslots: vm.memslots.size,
        mmu_notifier_seq: vm.mmuSeq,
        mmu_notifier_count: vm.mmuCount,
        vcpus: [...vm.vcpus.values()].map((v) => ({ vcpu: v.id, in_guest: v.inGuest, state: v.state < 0 ? null : ENUMS.vcpu_state[v.state], core: v.core, pc: u64(v.pcHi, v.pcLo), last_trap: `0x${v.lastTrap.toString(16)}`, entries: v.entries, exits: v.exits })),
        vcores: [...vm.vcores.values()].map((v) => ({ vcore: v.id, state: ENUMS.vcore_state[v.state] ?? v.state, n_runnable: v.nRunnable, core: v.core })),
      };
    }),
    cores: [...fold.cores.values()].map((x) => ({
      core: x.id,
      lpid: x.lpid,
      in_guest: x.inGuest,
      sdr1: u64(x.sdr1Hi, x.sdr1Lo),
      lpcr: u64(x.lpcrHi, x.lpcrLo),
      switches: x.switches,
      tlb_flushes: x.flushes,
      last_flush_seq: x.lastFlushSeq < 0 ? null : x.lastFlushSeq,
      last_flush_scope: x.lastFlushScope < 0 ? null : ENUMS.tlb_scope[x.lastFlushScope],
      tlbie_global: x.tlbieGlobal,
      tlbiel: x.tlbieLocal,
    })),
    host: { pages_present: present, pages_swapped: swapped, frames_pinned: pinned, frames_other: other },
    counters: {
      events: byKind,
      faults,
      page_faults: named(ENUMS.page_fault_outcome, c.pageFaultOutcome),
      hcalls,
      hcall_paths: named(ENUMS.hcall_path, c.hcallPath),
      notifier,
      host_ops: hostOps,
      tlbie: named(ENUMS.tlb_scope, c.tlbScope),
      guest_ops: named(ENUMS.guest_op_kind, c.guestOps),
      mmio: { loads: c.mmio[0], stores: c.mmio[1] },
    },
    anomalies: fold.anomalies.data(),
  };
}

export { u64 };
