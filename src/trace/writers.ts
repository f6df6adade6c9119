// Writers of event kinds recorded from more than one folder, so each is written one way.
//
// tlbie: KVM's tlbie/tlbiel of one entry (HashMmu.tlbie, kvm/hash/mmu.ts) and the partition
// switch's set flushes (machine.ts). (hpte_write has its one writer in HashMmu.recordHpteWrite,
// next to the HPT it reads:
// KVM's stores and the hardware's R/C store through HashPageTableVhyp.hpteSetRC both use it.)

import type { Recorder } from './recorder.js';
import { K } from './kinds.js';

/** tlbie of RB (rbHi:rbLo) with scope `E.tlb_scope.*` over `sets` TLB sets (0 for one entry). */
export function recordTlbie(
  rec: Recorder,
  lpid: number,
  vcpu: number,
  core: number,
  cause: number,
  rbHi: number,
  rbLo: number,
  scope: number,
  sets: number,
): void {
  rec.emit(K.tlbie, lpid, vcpu, core, cause).rb(rbHi, rbLo).scope(scope).sets(sets);
}
