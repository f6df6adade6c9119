// Writers of the event kinds recorded from more than one place, so each is written one way.
//
// hpte_write: KVM's HPTE stores (Kvm.setHpte) and the hardware's R/C update (hw_set_rc) both
// record the HPTE after the store, read back from the HPT and the revmap guest view.
// tlbie: KVM's tlbie/tlbiel of one entry and the partition switch's set flushes.

import type { Recorder } from './recorder.js';
import { K } from './kinds.js';

/**
 * hpte_write of HPTE `i` whose dwords were (ovh:ovl, orh:orl) before the store: the new dwords come
 * from `hpt` (4 words per HPTE: v_hi, v_lo, r_hi, r_lo) and guest_r from `guestR` (2 per HPTE).
 */
export function recordHpteWrite(
  rec: Recorder,
  lpid: number,
  vcpu: number,
  core: number,
  cause: number,
  i: number,
  ovh: number,
  ovl: number,
  orh: number,
  orl: number,
  hpt: Uint32Array,
  guestR: Uint32Array,
): void {
  const p = i * 4;
  const g = i * 2;
  rec
    .emit(K.hpte_write, lpid, vcpu, core, cause)
    .hpte_index(i)
    .old_v(ovh, ovl)
    .old_r(orh, orl)
    .new_v(hpt[p], hpt[p + 1])
    .new_r(hpt[p + 2], hpt[p + 3])
    .guest_r(guestR[g], guestR[g + 1]);
}

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
