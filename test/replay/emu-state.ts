// Test helpers: the same canonical view of machine state computed from the emulator (Machine) and
// from a fold (StateFold), component by component, so a seek can be compared with the emulator.
//
// Components (both sides): HPT words (HVLOCK masked: a software lock bit the trace does not carry),
// guest view, revmap chains (walked from each present rmap head), rmap words (lock bit masked),
// memslots, notifier seq/count, host VMM page table (present / swapped / writable, pfn, page size;
// young/dirty are not in trace v1), pin references per frame, frames of other processes, SLBs,
// per-core LPID and in-guest, vcore states, vcpu in-guest, total TLB flushes.

import { FRAME_OTHER } from '../../src/host/physmem.js';
import { PTE_PRESENT, PTE_RW, PTE_SWAP } from '../../src/host/mm.js';
import type { Machine } from '../../src/machine/machine.js';
import { HOST_PRESENT, SLB_ROWS, type StateFold } from '../../src/replay/state.js';

export const HVLOCK_LO = 0x40;
const RMAP_LOCK_HI = 0x80000000;
const RMAP_PRESENT_HI = 0x1;

class H {
  a = 0x12345678;
  b = 0x9abcdef0;
  n = 0;
  add(x: number): void {
    this.a = (Math.imul(this.a ^ (x >>> 0), 0x9e3779b1) + 1) | 0;
    this.b = (this.b + this.a) | 0;
    this.n++;
  }
  get s(): string {
    return `${(this.a >>> 0).toString(16)}.${(this.b >>> 0).toString(16)}.${this.n}`;
  }
}

export type Canon = Record<string, string>;

function chainsHash(npte: number, rmap: Iterable<[number, number, number]>, forw: (i: number) => number): string {
  const h = new H();
  for (const [gfn, hi, lo] of rmap) {
    if ((hi & RMAP_PRESENT_HI) === 0) continue;
    h.add(gfn);
    const head = lo >>> 0;
    let i = head;
    let n = 0;
    do {
      h.add(i);
      i = forw(i);
    } while (i !== head && ++n <= npte);
  }
  return h.s;
}

export function emuCanon(m: Machine): Canon {
  const kvm = m.kvm;
  const c: Canon = {};
  let h = new H();
  for (let i = 0; i < kvm.mmu.npte * 4; i++) h.add((i & 3) === 1 ? kvm.mmu.hpt[i] & ~HVLOCK_LO : kvm.mmu.hpt[i]);
  c.hpt = h.s;
  h = new H();
  for (let i = 0; i < kvm.mmu.npte * 2; i++) h.add(kvm.mmu.revGuestR[i]);
  c.guest = h.s;
  const slots = [...kvm.memslots].sort((a, b) => a.base_gfn - b.base_gfn);
  const rmap: [number, number, number][] = [];
  for (const s of slots) for (let o = 0; o < s.npages; o++) {
    const hi = s.rmap[o * 2] & ~RMAP_LOCK_HI;
    const lo = s.rmap[o * 2 + 1];
    if ((hi | lo) !== 0) rmap.push([s.base_gfn + o, hi >>> 0, lo]);
  }
  h = new H();
  for (const [g, hi, lo] of rmap) (h.add(g), h.add(hi), h.add(lo));
  c.rmap = h.s;
  c.chains = chainsHash(kvm.mmu.npte, rmap, (i) => kvm.mmu.revForw[i]);
  c.memslots = JSON.stringify([...kvm.memslots].sort((a, b) => a.id - b.id).map((s) => [s.id, s.base_gfn, s.npages, s.userspace_addr, s.flags]));
  c.mmu = `${kvm.mmu_notifier_seq}/${kvm.mmu_notifier_count}`;
  h = new H();
  for (const v of [...m.mm.vmas].sort((a, b) => a.start - b.start)) {
    for (let i = 0; i < v.npages; i++) {
      const f = v.flags[i] & (PTE_PRESENT | PTE_RW | PTE_SWAP);
      if (f === 0) continue;
      const hva = v.address(i);
      h.add(Math.floor(hva / 2 ** 32));
      h.add(hva >>> 0);
      h.add(f);
      h.add(f & PTE_PRESENT ? v.pfn[i] : 0);
      h.add(f & PTE_PRESENT ? v.pageShift : 0);
    }
  }
  c.hostPages = h.s;
  h = new H();
  const o = new H();
  for (let p = 0; p < m.phys.npages; p++) {
    const n = m.phys.pinCount(p);
    if (n) (h.add(p), h.add(n));
    if (m.phys.owner[p] === FRAME_OTHER) o.add(p);
  }
  c.pins = h.s;
  c.otherFrames = o.s;
  h = new H();
  for (const hw of m.hw) {
    for (let k = 0; k < Math.min(hw.slb_nr, SLB_ROWS); k++) {
      const w = [hw.slbOrige[k * 2], hw.slbOrige[k * 2 + 1], hw.slbOrigv[k * 2], hw.slbOrigv[k * 2 + 1]];
      if (w.every((x) => x === 0)) continue;
      h.add(hw.vcpu_id);
      h.add(k);
      for (const x of w) h.add(x);
    }
  }
  c.slb = h.s;
  c.cores = JSON.stringify(m.cores.map((x) => [x.id, x.lpid, x.inGuest]));
  c.vcores = JSON.stringify(m.vcores.map((v) => [v.id, v.state]));
  c.vcpus = JSON.stringify(m.vcpus.map((v) => [v.id, v.inGuest]));
  c.tlbFlushes = String(m.counters.tlbFlushes);
  return c;
}

export function foldCanon(f: StateFold, lpid: number, ncores: number, nvcores: number, nvcpus: number): Canon {
  const vm = f.vm(lpid)!;
  const c: Canon = {};
  let h = new H();
  for (let i = 0; i < vm.npte * 4; i++) h.add(vm.hpt[i]);
  c.hpt = h.s;
  h = new H();
  for (let i = 0; i < vm.npte * 2; i++) h.add(vm.guestR[i]);
  c.guest = h.s;
  const rmap = [...vm.rmapEntries()].map(([g, hi, lo]) => [g, (hi & ~RMAP_LOCK_HI) >>> 0, lo] as [number, number, number]);
  h = new H();
  for (const [g, hi, lo] of rmap) (h.add(g), h.add(hi), h.add(lo));
  c.rmap = h.s;
  c.chains = chainsHash(vm.npte, rmap, (i) => vm.forw(i));
  c.memslots = JSON.stringify([...vm.memslots.values()].sort((a, b) => a.id - b.id).map((s) => [s.id, s.base_gfn, s.npages, s.userspace_addr, s.flags]));
  c.mmu = `${vm.mmuSeq}/${vm.mmuCount}`;
  const hp = f.host.pages;
  const rows: number[] = [];
  for (let r = 0; r < hp.rows; r++) if (hp.data[r * 5 + 3] !== 0) rows.push(r);
  const hvaOf = (r: number) => hp.data[r * 5] * 2 ** 32 + hp.data[r * 5 + 1];
  rows.sort((a, b) => hvaOf(a) - hvaOf(b));
  h = new H();
  for (const r of rows) {
    const d = hp.data;
    const fl = d[r * 5 + 3];
    h.add(d[r * 5]);
    h.add(d[r * 5 + 1]);
    h.add(fl);
    h.add(fl & HOST_PRESENT ? d[r * 5 + 2] : 0);
    h.add(fl & HOST_PRESENT ? d[r * 5 + 4] : 0);
  }
  c.hostPages = h.s;
  h = new H();
  const o = new H();
  const fr = f.host.frames;
  for (let p = 0; p < fr.rows; p++) {
    if (fr.data[p * 2]) (h.add(p), h.add(fr.data[p * 2]));
    if (fr.data[p * 2 + 1]) o.add(p);
  }
  c.pins = h.s;
  c.otherFrames = o.s;
  h = new H();
  const d = vm.slbT.data;
  for (let v = 0; v < nvcpus; v++) {
    for (let k = 0; k < SLB_ROWS; k++) {
      const p = (v * SLB_ROWS + k) * 4;
      if (p + 3 >= vm.slbT.rows * 4) continue;
      const w = [d[p], d[p + 1], d[p + 2], d[p + 3]];
      if (w.every((x) => x === 0)) continue;
      h.add(v);
      h.add(k);
      for (const x of w) h.add(x);
    }
  }
  c.slb = h.s;
  c.cores = JSON.stringify(Array.from({ length: ncores }, (_, id) => [id, f.cores.get(id)?.lpid ?? 0, f.cores.get(id)?.inGuest ?? false]));
  c.vcores = JSON.stringify(Array.from({ length: nvcores }, (_, id) => [id, vm.vcores.get(id)?.state ?? 0]));
  c.vcpus = JSON.stringify(Array.from({ length: nvcpus }, (_, id) => [id, vm.vcpus.get(id)?.inGuest ?? false]));
  c.tlbFlushes = String([...f.cores.values()].reduce((n, x) => n + x.flushes, 0));
  return c;
}

/**
 * Hash of a fold for seek-vs-linear comparisons: the small state (vcpus, vcores, cores, counters,
 * notifier seq/count) always, and with `tables` every RowTable word (HPT, guest view, links, rmap,
 * SLBs, host pages and frames), which costs O(state).
 */
export function foldHash(f: StateFold, tables = true, withOps = true): string {
  const h = new H();
  if (tables) for (const [, t] of f.tables()) {
    h.add(t.rows);
    const d = t.data;
    const n = t.rows * t.width;
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      a = (a + d[i]) | 0;
      b = (b + a) | 0;
    }
    h.add(a);
    h.add(b);
  }
  for (const vm of f.vms.values()) {
    h.add(vm.mmuSeq);
    h.add(vm.mmuCount);
    for (const v of vm.vcpus.values()) for (const x of [v.id, +v.inGuest, v.state, v.ret, v.core, v.pcLo, v.lastTrap, v.entries, v.exits]) h.add(x);
    for (const v of vm.vcores.values()) for (const x of [v.id, v.state, v.nRunnable, v.core]) h.add(x);
  }
  for (const c of f.cores.values()) for (const x of [c.id, c.lpid, +c.inGuest, c.switches, c.flushes, c.lastFlushSeq, c.tlbieGlobal, c.tlbieLocal]) h.add(x);
  const k = f.counters;
  for (const a of [k.byKind, k.faults, k.pageFaultOutcome, k.notifierEffect, k.hostOps, k.tlbScope, k.hcallPath, k.guestOps, k.mmio, k.scalars, f.anomalies.counts]) for (let i = 0; i < a.length; i++) if (a[i]) (h.add(i), h.add(a[i]));
  for (const [key, v] of k.hcalls) (h.add(key), h.add(v));
  for (const [key, v] of k.hcallEnters) (h.add(key), h.add(v));
  // The perf handler (stats): accumulators and open starts.
  const p = f.perf.save();
  if (p) {
    for (const rows of [...p.sections, p.exits, p.hcalls, p.pfs]) for (const r of rows) for (const x of r) (h.add(x), h.add(Math.floor(x / 4294967296)));
    h.add(p.unpaired[0]);
    h.add(p.unpaired[1]);
  }
  if (f.h.ops.enabled && withOps) {
    h.add(f.h.ops.data().current);
    // The op index's checkpointed part (the runs of the last CAUSE_WINDOW events), with the tables.
    if (tables) for (const x of (f.h.ops.save() as { tail: number[] }).tail) h.add(x);
  }
  h.add(f.lastSeq);
  return h.s;
}
