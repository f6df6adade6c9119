// The per-VM operations table: everything that differs between the modelled kernel versions
// (Linux 3.3 "seed 1", 3.4, 4.20) and CPUs (POWER7 = ARCH_206, PPC970 = ARCH_201), chosen ONCE when
// the VM is created (kvmOpsFor, called by the Kvm constructor), the way the kernel picks
// hcall_real_table (book3s_hv_rmhandlers.S) and kvmppc_hv_ops at module load. The model's paths
// read `kvm.ops.x` instead of comparing version strings; where the kernel itself tests a per-VM
// flag at run time (kvm->arch.using_mmu_notifiers, cpu_has_feature(CPU_FTR_ARCH_206)), the model
// keeps that test on the same flag, which this table sets.

import {
  H_BULK_REMOVE,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_ENTER,
  H_PROTECT,
  H_READ,
  H_REMOVE,
  hid4_set_lpid,
  LPCR_DPFD_SH,
  LPCR_HDICE_LO,
  LPCR_LPES_LO,
  LPCR_PECE_LO,
  LPCR_VPM0_HI,
  LPCR_VPM1_HI,
  LPCR_VRMA_L_HI,
  MAX_LPID_970,
  NR_LPIDS,
} from '../arch/index.js';
import type { Kvm } from './kvm.js';
import type { UserspaceMemoryRegion } from './memslot.js';
import {
  kvmppc_h_clear_mod,
  kvmppc_h_clear_ref,
  kvmppc_h_bulk_remove,
  kvmppc_h_enter,
  kvmppc_h_protect,
  kvmppc_h_read,
  kvmppc_h_remove,
} from './rm_mmu.js';
import {
  kvmppc_core_commit_memory_region_33,
  kvmppc_core_destroy_vm_33,
  kvmppc_core_prepare_memory_region_33,
  kvmppc_h_bulk_remove_33,
  kvmppc_h_enter_33,
  kvmppc_h_protect_33,
  kvmppc_h_read_33,
  kvmppc_h_remove_33,
} from './seed1.js';
import { kvmppc_core_prepare_memory_region, unpin_slot } from './slot_phys.js';
import { type CpuModel, type KernelVersion, KVM_MEM_SLOTS_NUM } from './types.js';
import { kvmppc_virtmode_do_h_enter } from './hcall.js';

/** A real-mode (or virtual-mode) hcall handler on r4..r11 in `regs` (outputs in place); returns r3. */
export type HcallHandler = (kvm: Kvm, regs: Uint32Array) => number;

/**
 * How guest memory is held (kernel-model §C.4, C.5):
 * - 'rmap': pages faulted in on demand, tracked by rmap chains, invalidated by MMU notifiers (POWER7, 3.4/4.20);
 * - 'slot_phys': every page pinned into kvm->arch.slot_phys by H_ENTER in virtual mode (PPC970, 3.4);
 * - 'ram_pginfo': 16 MiB chunks pinned into kvm->arch.ram_pginfo at region registration (seed 1, 3.3).
 */
export type KvmMemoryModel = 'rmap' | 'slot_phys' | 'ram_pginfo';

/**
 * Guest real mode at first KVM_RUN (kvmppc_hv_setup_rma): 'vrma' = VRMA HPTEs (POWER7, 3.4);
 * 'rma' = a preallocated RMA in HID4 (PPC970); 'at_registration' = nothing at first run, the VRMA
 * was written when the region at gpa 0 was registered (3.3 kvmppc_map_vrma).
 */
export type KvmRmaSetup = 'vrma' | 'rma' | 'at_registration';

export interface KvmOps {
  readonly kernel: KernelVersion;
  readonly cpu: CpuModel;
  /** cpu_has_feature(CPU_FTR_ARCH_206). */
  readonly arch206: boolean;
  /** kvm->arch.using_mmu_notifiers (none at all in 3.3). */
  readonly usingMmuNotifiers: boolean;
  /** KVM_ARCH_WANT_MMU_NOTIFIER: kvm_init_mmu_notifier registers on the VMM's mm (not before 3.4). */
  readonly registersMmuNotifier: boolean;
  readonly memory: KvmMemoryModel;
  /** Highest LPID kvm_alloc_hpt may take (6-bit LPIDs with 63 reserved on PPC970, kernel-model §J 24). */
  readonly maxLpid: number;
  /** hcall_real_table, indexed by nr >> 2: the handler that completes the call in real mode, or null. */
  readonly hcallReal: readonly (HcallHandler | null)[];
  /** Does an H_ENTER that real mode gave up on (H_TOO_HARD) continue in host virtual mode? */
  readonly hEnterInVirtmode: boolean;
  /** H_ENTER issued from host virtual mode (the VRMA set-up, or the continuation above). */
  readonly hEnterVirtmode: HcallHandler;
  /** kvm->arch.lpcr at VM creation (kvmppc_core_init_vm): the guest LPCR, or HID4 on PPC970. */
  initLpcr(kvm: Kvm, hostLpcrLo: number, hostHid4: bigint): void;
  /** kvm_arch_prepare_memory_region: 0 or a negative errno. */
  prepareMemoryRegion(kvm: Kvm, mem: UserspaceMemoryRegion, npages: number): number;
  /** kvm_arch_commit_memory_region; `cause` = the memslot event. */
  commitMemoryRegion(kvm: Kvm, mem: UserspaceMemoryRegion, cause: number): void;
  /** The version-specific part of kvmppc_core_destroy_vm (before the LPID is freed). */
  destroyVm(kvm: Kvm): void;
  readonly rmaSetup: KvmRmaSetup;
  /** Backing page shift the VMM must give guest RAM (3.3: 16 MiB hugetlbfs), or 0 for any. */
  readonly ramPageShift: number;
  /** SLB entries of the CPU (POWER7 32, PPC970 64). */
  readonly slbEntries: number;
  /** TLB congruence classes (POWER7 128, PPC970 256). */
  readonly tlbSets: number;
  /**
   * TLB flush rule of the partition switch (kernel-model §G.2): 'lpid_on_new_pairing' = POWER7's
   * LPID-tagged TLB, flushed for the LPID on entry when the vcpu/pcpu pairing changed;
   * 'all_on_switch' = PPC970's untagged TLB, flushed whole on every entry and exit.
   */
  readonly tlbFlush: 'lpid_on_new_pairing' | 'all_on_switch';
}

/** Highest hcall number a real-mode table holds, plus one, in table slots (nr >> 2). */
const HCALL_REAL_SLOTS = (H_BULK_REMOVE >> 2) + 1;

/** hcall_real_table from (nr, handler) pairs. */
function hcallTable(entries: readonly (readonly [number, HcallHandler])[]): readonly (HcallHandler | null)[] {
  const t = new Array<HcallHandler | null>(HCALL_REAL_SLOTS).fill(null);
  for (const [nr, h] of entries) t[nr >> 2] = h;
  return Object.freeze(t);
}

// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.3)
const HCALL_REAL_33 = hcallTable([
  [H_ENTER, kvmppc_h_enter_33],
  [H_REMOVE, kvmppc_h_remove_33],
  [H_READ, kvmppc_h_read_33],
  [H_PROTECT, kvmppc_h_protect_33],
  [H_BULK_REMOVE, kvmppc_h_bulk_remove_33],
]);
const HCALL_REAL_34_ENTRIES = [
  [H_ENTER, kvmppc_h_enter],
  [H_REMOVE, kvmppc_h_remove],
  [H_READ, kvmppc_h_read],
  [H_PROTECT, kvmppc_h_protect],
  [H_BULK_REMOVE, kvmppc_h_bulk_remove],
] as const;
// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 3.4)
const HCALL_REAL_34 = hcallTable(HCALL_REAL_34_ENTRIES);
// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 4.20), MMU calls
const HCALL_REAL_420 = hcallTable([...HCALL_REAL_34_ENTRIES, [H_CLEAR_REF, kvmppc_h_clear_ref], [H_CLEAR_MOD, kvmppc_h_clear_mod]]);

/** The guest LPCR of kvmppc_core_init_vm (K34): host PECE|LPES, DPFD 4, HDICE, VPM0, VPM1. */
// Mirrors the POWER7 LPCR set-up of kvmppc_core_init_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
function initLpcrPower7(kvm: Kvm, hostLpcrLo: number): void {
  kvm.lpcrHi = (LPCR_VPM0_HI | LPCR_VPM1_HI | (4 << (LPCR_DPFD_SH - 32))) >>> 0;
  kvm.lpcrLo = ((hostLpcrLo & (LPCR_PECE_LO | LPCR_LPES_LO)) | LPCR_HDICE_LO) >>> 0;
}

/**
 * Seed 1: VRMA with 16 MiB pages (VRMA_L), no VPM1, so guest storage faults go to the guest (all
 * its pages are pinned).
 */
// Mirrors the POWER7 LPCR set-up of kvmppc_core_init_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.3)
function initLpcrPower7_33(kvm: Kvm, hostLpcrLo: number): void {
  kvm.lpcrHi = (LPCR_VPM0_HI | LPCR_VRMA_L_HI | (4 << (LPCR_DPFD_SH - 32))) >>> 0;
  kvm.lpcrLo = ((hostLpcrLo & (LPCR_PECE_LO | LPCR_LPES_LO)) | LPCR_HDICE_LO) >>> 0;
}

/** PPC970: the host HID4 with the guest LPID in its split field (lpid >> 4 at LPID1, lpid & 0xf at LPID5). */
// Mirrors the PPC970 HID4 set-up of kvmppc_core_init_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
function initHid4Ppc970(kvm: Kvm, _hostLpcrLo: number, hostHid4: bigint): void {
  const hid4 = hid4_set_lpid(BigInt.asUintN(64, hostHid4), kvm.lpid);
  kvm.lpcrHi = Number(hid4 >> 32n) >>> 0;
  kvm.lpcrLo = Number(hid4 & 0xffffffffn) >>> 0;
}

/** Without notifiers, unpin_slot() for every slot (SetPageDirty + put_page of each GOT_PAGE entry). */
// Mirrors the slot_phys part of kvmppc_core_destroy_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
function destroyVmSlotPhys(kvm: Kvm): void {
  for (let i = 0; i < KVM_MEM_SLOTS_NUM; i++) unpin_slot(kvm, i);
}

const prepareSlotPhys = (kvm: Kvm, mem: UserspaceMemoryRegion, npages: number): number => kvmppc_core_prepare_memory_region(kvm, mem.slot, npages);
const nothing = (): void => {};

const POWER7_34: KvmOps = Object.freeze({
  kernel: '3.4',
  cpu: 'power7',
  arch206: true,
  usingMmuNotifiers: true,
  registersMmuNotifier: true,
  memory: 'rmap',
  maxLpid: NR_LPIDS - 1,
  hcallReal: HCALL_REAL_34,
  hEnterInVirtmode: false,
  hEnterVirtmode: kvmppc_virtmode_do_h_enter,
  initLpcr: initLpcrPower7,
  // kvmppc_core_prepare_memory_region has nothing to do with notifiers on.
  prepareMemoryRegion: prepareSlotPhys,
  commitMemoryRegion: nothing,
  destroyVm: nothing,
  rmaSetup: 'vrma',
  ramPageShift: 0,
  slbEntries: 32,
  tlbSets: 128,
  tlbFlush: 'lpid_on_new_pairing',
});

const POWER7_420: KvmOps = Object.freeze({ ...POWER7_34, kernel: '4.20', hcallReal: HCALL_REAL_420 });

const POWER7_33: KvmOps = Object.freeze({
  ...POWER7_34,
  kernel: '3.3',
  usingMmuNotifiers: false,
  registersMmuNotifier: false,
  memory: 'ram_pginfo',
  hcallReal: HCALL_REAL_33,
  // 3.3 has no virtual-mode H_ENTER: its one H_ENTER runs wherever KVM itself enters an HPTE.
  hEnterVirtmode: kvmppc_h_enter_33,
  initLpcr: initLpcrPower7_33,
  prepareMemoryRegion: kvmppc_core_prepare_memory_region_33,
  commitMemoryRegion: kvmppc_core_commit_memory_region_33,
  destroyVm: kvmppc_core_destroy_vm_33,
  rmaSetup: 'at_registration',
  ramPageShift: 24,
});

const PPC970_34: KvmOps = Object.freeze({
  ...POWER7_34,
  cpu: 'ppc970',
  arch206: false,
  usingMmuNotifiers: false,
  memory: 'slot_phys',
  maxLpid: MAX_LPID_970 - 1,
  hEnterInVirtmode: true,
  initLpcr: initHid4Ppc970,
  destroyVm: destroyVmSlotPhys,
  rmaSetup: 'rma',
  slbEntries: 64,
  tlbSets: 256,
  tlbFlush: 'all_on_switch',
});

/** The operations of a VM of this kernel on this CPU; throws for a combination not modelled. */
export function kvmOpsFor(kernel: KernelVersion, cpu: CpuModel): KvmOps {
  if (cpu !== 'power7' && cpu !== 'ppc970') throw new Error(`cpu '${String(cpu)}' is not modelled`);
  if (kernel !== '3.3' && kernel !== '3.4' && kernel !== '4.20') throw new Error(`kernel '${String(kernel)}' is not modelled`);
  if (cpu === 'ppc970') {
    if (kernel === '4.20') throw new Error('PPC970 support was removed before Linux 4.20: use kernel 3.4');
    if (kernel === '3.3') {
      throw new Error('PPC970 under Linux 3.3 (RMA from a kvm_rma_fops mapping at region registration) is not modelled: use kernel 3.4');
    }
    return PPC970_34;
  }
  return kernel === '3.3' ? POWER7_33 : kernel === '3.4' ? POWER7_34 : POWER7_420;
}
