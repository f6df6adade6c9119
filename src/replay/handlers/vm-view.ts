// VmState: one VM as the queries see it, a read-only view over the per-VM parts that the HPT,
// memslot, rmap and vcpu handlers own. Built on demand (queries, digests), never per event.

import type { HptVm } from './hpt.js';
import type { FoldMemslot, MemslotVm } from './memslots.js';
import type { RmapVm } from './rmap.js';
import type { VcpuVm } from './vcpus.js';

export class VmState {
  constructor(
    readonly h: HptVm,
    readonly m: MemslotVm,
    readonly r: RmapVm,
    readonly c: VcpuVm,
  ) {}

  get lpid() { return this.h.lpid; }
  get hptOrder() { return this.h.hptOrder; }
  get npte() { return this.h.npte; }
  get gen() { return this.h.gen; }
  get sdr1Hi() { return this.h.sdr1Hi; }
  get sdr1Lo() { return this.h.sdr1Lo; }
  get lpcrHi() { return this.h.lpcrHi; }
  get lpcrLo() { return this.h.lpcrLo; }
  get vmId() { return this.h.vmId; }
  get hptT() { return this.h.hptT; }
  get guestT() { return this.h.guestT; }
  get hpt(): Uint32Array { return this.h.hptT.data; }
  get guestR(): Uint32Array { return this.h.guestT.data; }
  get linksT() { return this.r.linksT; }
  get mmuSeq() { return this.r.mmuSeq; }
  get mmuCount() { return this.r.mmuCount; }
  get memslots() { return this.m.memslots; }
  get slotList() { return this.m.slotList; }
  get vcpus() { return this.c.vcpus; }
  get vcores() { return this.c.vcores; }
  get slbT() { return this.c.slbT; }

  forw(i: number): number {
    return this.r.linksT.data[i * 2] - 1;
  }
  back(i: number): number {
    return this.r.linksT.data[i * 2 + 1] - 1;
  }
  slotOf(gfn: number): FoldMemslot | null {
    return this.m.slotOf(gfn);
  }

  /** rmap word of gfn as [hi, lo] ([0, 0] outside every memslot). */
  rmapWord(gfn: number): [number, number] {
    const s = this.m.slotOf(gfn);
    if (!s) return [0, 0];
    const d = this.r.rmap.get(s.gen)!.data;
    const o = (gfn - s.base_gfn) * 2;
    return [d[o], d[o + 1]];
  }

  /** Nonzero rmap words (gfn, hi, lo), gfn ascending. */
  *rmapEntries(): Generator<[number, number, number]> {
    for (const s of [...this.m.slotList].sort((a, b) => a.base_gfn - b.base_gfn)) {
      const d = this.r.rmap.get(s.gen)!.data;
      for (let off = 0; off < s.npages; off++) if ((d[off * 2] | d[off * 2 + 1]) !== 0) yield [s.base_gfn + off, d[off * 2], d[off * 2 + 1]];
    }
  }
}
