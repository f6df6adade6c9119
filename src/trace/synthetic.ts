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
      const enter = rec.ev(K.hcall_enter, lpid, vcpu, core, NO_CAUSE);
      rec.u(0x08); rec.u(0); rec.u(idx & ~7);
      rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, ((gfn << 12) | 0x192) >>> 0);
      rec.ev(K.hpte_write, lpid, vcpu, core, enter);
      rec.u(idx); rec.u(0); rec.u(0);
      rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, ((0x70000 + rng.below(0x10000)) * 4096 + 0x112) >>> 0);
      rec.w(0, ((gfn << 12) | 0x192) >>> 0);
      rec.ev(K.rmap_change, lpid, vcpu, core, enter);
      rec.u(E.rmap_op.link); rec.u(gfn); rec.u(idx); rec.w(0x101, idx); rec.u(idx); rec.u(idx);
      const x = rec.ev(K.hcall_exit, lpid, vcpu, core, enter);
      void x;
      rec.u(0x08); rec.u(0); rec.u(E.hcall_path.real); rec.u(idx);
    } else if (r < 60) {
      // H_REMOVE: enter, hpte_write, tlbie, rmap unlink, exit.
      const enter = rec.ev(K.hcall_enter, lpid, vcpu, core, NO_CAUSE);
      rec.u(0x04); rec.u(0); rec.u(idx);
      rec.ev(K.hpte_write, lpid, vcpu, core, enter);
      rec.u(idx); rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, 0x7e5a1192); rec.u(0); rec.w(0, 0x7e5a1192); rec.w(0, 0x1234192);
      rec.ev(K.tlbie, lpid, vcpu, core, enter);
      rec.w(vsid >>> 4, 0x5000); rec.u(E.tlb_scope.global);
      rec.ev(K.rmap_change, lpid, vcpu, core, enter);
      rec.u(E.rmap_op.unlink); rec.u(gfn); rec.u(idx); rec.u(0); rec.u(-1); rec.u(-1);
      rec.ev(K.hcall_exit, lpid, vcpu, core, enter);
      rec.u(0x04); rec.u(0); rec.u(E.hcall_path.real); rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, 0x1234192);
    } else if (r < 80) {
      // HDSI triage to virtual mode, page fault enter/exit, hpte_write.
      const ea = rng.u32();
      const f = rec.ev(K.fault_triage, lpid, vcpu, core, NO_CAUSE);
      rec.u(E.fault_kind.hdsi); rec.u(ea); rec.u(0x40000000); rec.w(vsid >>> 20, (vsid << 12) >>> 0); rec.u(idx);
      rec.u(E.fault_decision.virtual); rec.u(0); rec.u(gfn); rec.u(rng.below(2));
      const pf = rec.ev(K.page_fault_enter, lpid, vcpu, core, f);
      rec.w(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0); rec.u(0); rec.w(0, ((gfn << 12) | 0x192) >>> 0); rec.u(ea); rec.u(0); rec.u(0); rec.u(0x40000000); rec.u(idx); rec.u(gfn);
      rec.ev(K.hpte_write, lpid, vcpu, core, pf);
      rec.u(idx); rec.w(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0); rec.u(0);
      rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, 0x7e5a1112); rec.w(0, ((gfn << 12) | 0x192) >>> 0);
      rec.ev(K.page_fault_exit, lpid, vcpu, core, pf);
      rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.u(0); rec.u(0); rec.u(E.page_fault_outcome.installed); rec.u(idx); rec.u(gfn);
    } else if (r < 90) {
      // Host swap-out with notifier invalidation of one HPTE.
      const hva = 0x3fff80000000 + gfn * 4096;
      const h = rec.ev(K.host_page, -1, -1, -1, NO_CAUSE);
      rec.u(E.host_page_op.swap_out); rec.u(hva); rec.u(0x70000 + rng.below(0x10000)); rec.u(0); rec.u(12); rec.u(0);
      const n = rec.ev(K.notifier, lpid, -1, -1, h);
      rec.u(E.notifier_kind.invalidate_page); rec.u(hva); rec.u(hva + 4096); rec.u(gfn); rec.u(E.notifier_effect.invalidated); rec.u(1); rec.u(t >>> 8); rec.u(0);
      rec.ev(K.hpte_write, lpid, -1, -1, n);
      rec.u(idx); rec.w(vsid >>> 20, ((vsid << 12) | 1) >>> 0); rec.w(0, 0x7e5a1192); rec.w(vsid >>> 20, ((vsid << 12) | 0x20) >>> 0); rec.w(0, 0x7e5a1192); rec.w(0, 0x1234192);
      rec.ev(K.tlbie, lpid, -1, -1, n);
      rec.w(vsid >>> 4, 0x5000); rec.u(E.tlb_scope.global);
    } else {
      // Full exit and re-entry: guest_exit, partition switches, guest_enter.
      const x = rec.ev(K.guest_exit, lpid, vcpu, core, NO_CAUSE);
      rec.u(0x980); rec.w(0xc0000000, rng.u32()); rec.w(0x80000000, 0x9032);
      rec.ev(K.partition_switch, lpid, vcpu, core, x);
      rec.u(0); rec.u(lpid); rec.u(0); rec.u(E.switch_direction.exit); rec.u(0x980);
      const s = rec.ev(K.partition_switch, lpid, vcpu, core, NO_CAUSE);
      rec.u(0); rec.u(0); rec.u(lpid); rec.u(E.switch_direction.entry); rec.u(0);
      rec.ev(K.guest_enter, lpid, vcpu, core, s);
      rec.w(0xc0000000, rng.u32()); rec.w(0x80000000, 0x9032);
    }
  }
}
