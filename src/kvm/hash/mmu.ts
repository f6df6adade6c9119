// The hash MMU of a partition (Book3S HV with an HPT): everything the kernel keeps in kvm->arch
// for a hash guest — the HPT, its revmap, SDR1, the VRMA segment — held by Kvm as `kvm.mmu`, the
// way Linux 4.20 chooses per VM between the hash and the radix MMU (kvm->arch.radix). A radix MMU
// (partition-scoped page table, no HPT, no revmap) would be a second class beside this one; the
// hash paths (this folder) reach their state through kvm.mmu; a radix MMU goes in kvm/radix/.
//
// Storage (all typed arrays, allocated once):
//   hpt        Uint32Array, 4 words per HPTE: [v_hi, v_lo, r_hi, r_lo] (kernel: big-endian u64 pair)
//   revGuestR  Uint32Array, 2 words per HPTE: revmap[i].guest_rpte as [hi, lo]
//   revForw    Uint32Array, revmap[i].forw
//   revBack    Uint32Array, revmap[i].back

import { hpt_geometry, type HptGeometry, SLB_VSID_B_1T_HI, VRMA_VSID_LO } from '../../arch/index.js';
import { HostPage } from '../../host/gup.js';

export class HashMmu {
  /** kvm->arch.radix = 0: this is the hash MMU. */
  readonly radix = false;
  readonly geom: HptGeometry;
  readonly npte: number;
  readonly hpt: Uint32Array;
  readonly revGuestR: Uint32Array;
  readonly revForw: Uint32Array;
  readonly revBack: Uint32Array;
  /** SDR1 as (hi, lo) = __pa(hpt) | (order - 18). */
  readonly sdr1Hi: number;
  readonly sdr1Lo: number;
  /**
   * kvm->arch.vrma_slb_v as (hi, lo): kvmppc_core_init_vm gives a POWER7 VM B_1T | VRMA_VSID << 24
   * (senc 0); kvmppc_hv_setup_rma puts the VRMA page-size encoding in (vrma.ts).
   */
  vrma_slb_vHi: number;
  vrma_slb_vLo: number;
  /** Result of the VRMA set-up: HPTEs created, and the index at which H_ENTER failed (-1 none). */
  vrma_hptes = 0;
  vrma_failed_index = -1;
  vrma_failed_ret = 0;
  /** get_user_pages_fast result of the virtual-mode page fault in progress (reused, page_fault.ts). */
  readonly faultPage = new HostPage();

  // Mirrors the HPT part of kvmppc_alloc_hpt() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.4)
  constructor(order: number, base: number) {
    this.geom = hpt_geometry(order);
    this.npte = this.geom.npte;
    // HPT (zeroed: __GFP_ZERO) and revmap (vmalloc'd, not zeroed, in the kernel; zero here).
    this.hpt = new Uint32Array(this.npte * 4);
    this.revGuestR = new Uint32Array(this.npte * 2);
    this.revForw = new Uint32Array(this.npte);
    this.revBack = new Uint32Array(this.npte);
    // SDR1 = __pa(hpt) | (order - 18).
    if (base % this.geom.bytes !== 0) throw new RangeError('hptBase must be aligned to the HPT size');
    this.sdr1Hi = Math.floor(base / 0x1_0000_0000) >>> 0;
    this.sdr1Lo = ((base >>> 0) | this.geom.htabsize) >>> 0;
    this.vrma_slb_vHi = (SLB_VSID_B_1T_HI | (VRMA_VSID_LO >>> 8)) >>> 0;
    this.vrma_slb_vLo = ((VRMA_VSID_LO & 0xff) << 24) >>> 0;
  }
}
