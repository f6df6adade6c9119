// The seam between the hardware hash MMU and whoever owns the partition's page table: what
// target/ppc/mmu-hash64.c reaches through `cpu->vhyp` (PPCVirtualHypervisorClass: hpt_mask,
// map_hptes, hpte_set_r / hpte_set_c) so that it never knows whether KVM, sPAPR or bare metal owns
// the HPT. hw/ owns this interface; kvm/ implements it (the hash MMU, HashMmu = kvm.mmu, which the
// machine gives the core's MmuContext at every partition switch). The hardware reads the table in
// place (map_hptes without a copy), and every store it makes goes back through the owner, which
// records it.

import type { Recorder } from '../trace/recorder.js';

export interface HashPageTableVhyp {
  /** The partition running on the thread (the LPID the TLB tags entries with). */
  readonly lpid: number;
  /** POWER7 (ISA 2.06: VPM, LPCR, 64K pages) rather than PPC970: selects page-size and RB forms. */
  readonly arch206: boolean;
  /** The table SDR1 points at, four 32-bit words per HPTE: v_hi, v_lo, r_hi, r_lo (map_hptes). */
  readonly hpt: Uint32Array;
  /** PTEG index mask (hpt_mask): primary PTEG = hash & hashMask. */
  readonly hashMask: number;
  /** Where the hardware's own events (storage faults delivered to the guest, stale TLB use) go. */
  readonly rec: Recorder;
  /**
   * The hardware set R (and C) in dword 1 of HPTE `index`: `r_lo` is the new low word (hpte_set_r /
   * hpte_set_c). The owner stores and records it.
   */
  hpteSetRC(index: number, r_lo: number, vcpu: number, core: number, cause: number): void;
  /** The guest frame HPTE `index` maps in the guest's own view, or -1 (for fault records). */
  guestGfnOf(index: number): number;
}
