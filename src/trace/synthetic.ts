// Synthetic events of the real schema, for benchmarks and format tests. The mix and value ranges
// follow what a POWER7 run under memory pressure records (hcalls with HPTE writes, rmap links and
// tlbies; faults; notifier invalidations; partition switches), so sizes per event are realistic.

import { Prng } from '../base/prng.js';
import { E, K } from './kinds.js';
import { NO_CAUSE, type Recorder } from './recorder.js';

export function writeSyntheticEvents(rec: Recorder, count: number, seed = 1): void {
  const rng = new Prng(seed);
  const lpid = 1;
  let t = 0;
  const vcpus = 4;
  while (rec.eventCount < count) {
    t += 1 + rng.below(200);
    rec.now = t;
    const vcpu = rng.below(vcpus);
    const core = vcpu >> 2;
    const r = rng.below(100);
    const idx = rng.below(1 << 20);
    const gfn = rng.below(0x40000);
    const vsid = 0x100000 + rng.below(0x10000);
    if (r < 40) {
      // H_ENTER: enter, hpte_write, rmap link, exit (real mode).
      const enter = rec.emit(K.hcall_enter, lpid, vcpu, core, NO_CAUSE)
        .nr(0x08)
        .r4(0)
        .r5(idx & ~7)
        .r6(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .r7(0, ((gfn << 12) | 0x192) >>> 0).seq;
      rec.emit(K.hpte_write, lpid, vcpu, core, enter)
        .hpte_index(idx)
        .old_v(0)
        .old_r(0)
        .new_v(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .new_r(0, ((0x70000 + rng.below(0x10000)) * 4096 + 0x112) >>> 0)
        .guest_r(0, ((gfn << 12) | 0x192) >>> 0);
      rec.emit(K.rmap_change, lpid, vcpu, core, enter)
        .op(E.rmap_op.link)
        .gfn(gfn)
        .hpte_index(idx)
        .rmap(0x101, idx)
        .forw(idx)
        .back(idx);
      rec.emit(K.hcall_exit, lpid, vcpu, core, enter).nr(0x08).ret(0).path(E.hcall_path.real).out_r4(idx);
    } else if (r < 60) {
      // H_REMOVE: enter, hpte_write, tlbie, rmap unlink, exit.
      const enter = rec.emit(K.hcall_enter, lpid, vcpu, core, NO_CAUSE).nr(0x04).r4(0).r5(idx).seq;
      rec.emit(K.hpte_write, lpid, vcpu, core, enter)
        .hpte_index(idx)
        .old_v(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .old_r(0, 0x7e5a1192)
        .new_v(0)
        .new_r(0, 0x7e5a1192)
        .guest_r(0, 0x1234192);
      rec.emit(K.tlbie, lpid, vcpu, core, enter).rb(vsid >>> 4, 0x5000).scope(E.tlb_scope.global);
      rec.emit(K.rmap_change, lpid, vcpu, core, enter).op(E.rmap_op.unlink).gfn(gfn).hpte_index(idx).rmap(0).forw(-1).back(-1);
      rec.emit(K.hcall_exit, lpid, vcpu, core, enter)
        .nr(0x04)
        .ret(0)
        .path(E.hcall_path.real)
        .out_r4(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .out_r5(0, 0x1234192);
    } else if (r < 80) {
      // HDSI triage to virtual mode, page fault enter/exit, hpte_write.
      const ea = rng.u32();
      const f = rec.emit(K.fault_triage, lpid, vcpu, core, NO_CAUSE)
        .interrupt(E.fault_kind.hdsi)
        .ea(ea)
        .status(0x40000000)
        .slb_v(vsid >>> 20, (vsid << 12) >>> 0)
        .hpte_index(idx)
        .decision(E.fault_decision.virtual)
        .out_status(0)
        .gfn(gfn)
        .access(rng.below(2)).seq;
      const pf = rec.emit(K.page_fault_enter, lpid, vcpu, core, f)
        .hpte_v(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0)
        .hpte_r(0)
        .gpte_r(0, ((gfn << 12) | 0x192) >>> 0)
        .ea(ea)
        .base_gfn(0)
        .slot_flags(0)
        .dsisr(0x40000000)
        .hpte_index(idx)
        .gfn(gfn).seq;
      rec.emit(K.hpte_write, lpid, vcpu, core, pf)
        .hpte_index(idx)
        .old_v(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0)
        .old_r(0)
        .new_v(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .new_r(0, 0x7e5a1112)
        .guest_r(0, ((gfn << 12) | 0x192) >>> 0);
      rec.emit(K.page_fault_exit, lpid, vcpu, core, pf)
        .hpte_v(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .hpte_r(0)
        .ret(0)
        .outcome(E.page_fault_outcome.installed)
        .hpte_index(idx)
        .gfn(gfn);
    } else if (r < 90) {
      // Host swap-out with notifier invalidation of one HPTE.
      const hva = 0x3fff80000000 + gfn * 4096;
      const h = rec.emit(K.host_page, -1, -1, -1, NO_CAUSE)
        .op(E.host_page_op.swap_out)
        .hva(hva)
        .pfn(0x70000 + rng.below(0x10000))
        .writable(0)
        .page_shift(12)
        .owner(0).seq;
      const n = rec.emit(K.notifier, lpid, -1, -1, h)
        .callback(E.notifier_kind.invalidate_page)
        .hva_start(hva)
        .hva_end(hva + 4096)
        .gfn(gfn)
        .effect(E.notifier_effect.invalidated)
        .hptes(1)
        .mmu_seq(t >>> 8)
        .mmu_count(0).seq;
      rec.emit(K.hpte_write, lpid, -1, -1, n)
        .hpte_index(idx)
        .old_v(vsid >>> 20, ((vsid << 12) | 1) >>> 0)
        .old_r(0, 0x7e5a1192)
        .new_v(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0)
        .new_r(0, 0x7e5a1192)
        .guest_r(0, 0x1234192);
      rec.emit(K.tlbie, lpid, -1, -1, n).rb(vsid >>> 4, 0x5000).scope(E.tlb_scope.global);
    } else {
      // Full exit and re-entry: guest_exit, partition switches, guest_enter.
      const x = rec.emit(K.guest_exit, lpid, vcpu, core, NO_CAUSE)
        .trap(0x980)
        .pc(0xc0000000, rng.u32())
        .msr(0x80000000, 0x9032).seq;
      rec.emit(K.partition_switch, lpid, vcpu, core, x)
        .thread(0)
        .from_lpid(lpid)
        .to_lpid(0)
        .direction(E.switch_direction.exit)
        .trap(0x980);
      const s = rec.emit(K.partition_switch, lpid, vcpu, core, NO_CAUSE)
        .thread(0)
        .from_lpid(0)
        .to_lpid(lpid)
        .direction(E.switch_direction.entry)
        .trap(0).seq;
      rec.emit(K.guest_enter, lpid, vcpu, core, s).pc(0xc0000000, rng.u32()).msr(0x80000000, 0x9032);
    }
  }
}
