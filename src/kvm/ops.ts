// The per-VM operations tables (the KvmOps interface is declared in kvm.ts): everything that differs between the modelled kernel versions
// (Linux 3.3 "seed 1", 3.4, 4.20) and CPUs (POWER7 = ARCH_206, PPC970 = ARCH_201), chosen ONCE when
// the VM is created (kvm_create_vm → kvmOpsFor), the way the kernel picks
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
import { type HashVariantOps, type HcallHandler, Kvm, kvm_check_hpt_order, type KvmOps, type KvmOptions } from './kvm.js';
import {
  kvmppc_h_clear_mod,
  kvmppc_h_clear_ref,
  kvmppc_h_bulk_remove,
  kvmppc_h_enter,
  kvmppc_h_protect,
  kvmppc_h_read,
  kvmppc_h_remove,
} from './hash/rm_mmu.js';
import {
  kvmppc_core_commit_memory_region_33,
  kvmppc_core_destroy_vm_33,
  kvmppc_core_prepare_memory_region_33,
  kvmppc_h_bulk_remove_33,
  kvmppc_h_enter_33,
  kvmppc_h_protect_33,
  kvmppc_h_read_33,
  kvmppc_h_remove_33,
} from './hash/seed1.js';
import { kvm_alloc_rma, type KvmppcLinearInfo, kvmppc_core_prepare_memory_region, kvmppc_hv_setup_rma_970, unpin_slot } from './hash/slot_phys.js';
import { kvmppc_handle_exit_hv_fault, kvmppc_handle_exit_hv_fault_420, kvmppc_hdsi, kvmppc_hdsi_420, kvmppc_hisi, kvmppc_hisi_420 } from './hash/hv_fault.js';
import {
  fault_set_rpn_420,
  kvm_unmap_rmapp_420,
  kvmppc_add_revmap_chain_420,
  kvmppc_h_enter_420,
  kvmppc_h_protect_420,
  kvmppc_h_remove_420,
  kvmppc_virtmode_do_h_enter_420,
  unlink_revmap_chain_420,
  wimg_fixup_420,
} from './hash/k420.js';
import { kvmppc_add_revmap_chain, unlink_revmap_chain } from './hash/rmap.js';
import { fault_set_rpn_34, wimg_fixup_34 } from './hash/page_fault.js';
import { HvAudit, KvmInvariantChecker } from './hash/invariants.js';
import { kvm_unmap_rmapp, KvmMmuNotifier } from './hash/mmu_notifier.js';
import { kvmppc_hv_setup_rma } from './hash/vrma.js';
import { type CpuModel, type KernelVersion, KVM_MEM_SLOTS_NUM, type KvmChecker, type KvmVcpuRef, type UserspaceMemoryRegion } from './types.js';
import { kvmppc_virtmode_do_h_enter } from './hash/virtmode_h_enter.js';

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
// Mirrors hcall_real_table (arch/powerpc/kvm/book3s_hv_rmhandlers.S, Linux 4.20, tree sjitindarsingh/linux), MMU calls.
// H_READ and H_BULK_REMOVE keep the 3.4 code: their 4.20 differences (HPTE_GR_RESERVED stripped from
// r5, the dirty map of remove_revmap_chain) come through kvm.ops.hash and the 4.20 H_ENTER.
const HCALL_REAL_420 = hcallTable([
  [H_ENTER, kvmppc_h_enter_420],
  [H_REMOVE, kvmppc_h_remove_420],
  [H_READ, kvmppc_h_read],
  [H_CLEAR_MOD, kvmppc_h_clear_mod],
  [H_CLEAR_REF, kvmppc_h_clear_ref],
  [H_PROTECT, kvmppc_h_protect_420],
  [H_BULK_REMOVE, kvmppc_h_bulk_remove],
]);

/** The 3.4 rmap / fault steps (rmap.ts, page_fault.ts, mmu_notifier.ts); also used by 3.3 and PPC970 tables, whose paths reach few of them. */
const HASH_34: HashVariantOps = Object.freeze({
  addRevmapChain: kvmppc_add_revmap_chain,
  unlinkRevmapChain: unlink_revmap_chain,
  unmapRmapp: kvm_unmap_rmapp,
  cacheFlagsOk: wimg_fixup_34,
  faultSetRpn: fault_set_rpn_34,
});

/** The 4.20 rmap / fault steps (k420.ts). */
const HASH_420: HashVariantOps = Object.freeze({
  addRevmapChain: kvmppc_add_revmap_chain_420,
  unlinkRevmapChain: unlink_revmap_chain_420,
  unmapRmapp: kvm_unmap_rmapp_420,
  cacheFlagsOk: wimg_fixup_420,
  faultSetRpn: fault_set_rpn_420,
});

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

/** POWER7 (3.4, 4.20): the VRMA HPTEs at first KVM_RUN (hash/vrma.ts). */
const setupVrma = (kvm: Kvm, vcpu: KvmVcpuRef): number => kvmppc_hv_setup_rma(kvm, vcpu);

/**
 * PPC970: the VMM's RMA (KVM_ALLOCATE_RMA: kvm_alloc_linear takes the first free pool entry, `pool`
 * when the host reserved one at boot, else one allocated now), whose RMLS/RMOR go into HID4.
 */
// Mirrors the RMA branch of kvmppc_hv_setup_rma() (arch/powerpc/kvm/book3s_hv.c, Linux 3.4)
function setupRma970(kvm: Kvm, _vcpu: KvmVcpuRef, rmaBytes: number, pool?: KvmppcLinearInfo | null): number {
  const ri = pool ?? kvm_alloc_rma(kvm, rmaBytes);
  const r = kvmppc_hv_setup_rma_970(kvm, ri);
  kvm.rma_setup_done = true;
  return r;
}

/** Linux 3.3 mapped the VRMA when the region at gpa 0 was registered (kvmppc_map_vrma): nothing left. */
function setupRmaAtRegistration(kvm: Kvm): number {
  kvm.rma_setup_done = true;
  return 0;
}

/** The hash MMU's checks: the HPT/revmap/rmap audit per operation and the state invariants. */
function hashChecker(kvm: Kvm, digestEvery: number): KvmChecker {
  const audit = new HvAudit().attach(kvm);
  audit.digestEvery = digestEvery;
  const state = new KvmInvariantChecker(kvm);
  return {
    get violation() {
      return audit.violation;
    },
    check: () => state.check(),
  };
}

const hashMmuNotifier = (kvm: Kvm): KvmMmuNotifier => KvmMmuNotifier.register(kvm);

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
  hdsi: kvmppc_hdsi,
  hisi: kvmppc_hisi,
  handleExitHvFault: kvmppc_handle_exit_hv_fault,
  setupRma: setupVrma,
  mmuNotifier: hashMmuNotifier,
  checker: hashChecker,
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
  hash: HASH_34,
});

const POWER7_420: KvmOps = Object.freeze({
  ...POWER7_34,
  kernel: '4.20',
  hcallReal: HCALL_REAL_420,
  hEnterVirtmode: kvmppc_virtmode_do_h_enter_420,
  hdsi: kvmppc_hdsi_420,
  hisi: kvmppc_hisi_420,
  handleExitHvFault: kvmppc_handle_exit_hv_fault_420,
  hash: HASH_420,
});

const POWER7_33: KvmOps = Object.freeze({
  ...POWER7_34,
  kernel: '3.3',
  usingMmuNotifiers: false,
  registersMmuNotifier: false,
  memory: 'ram_pginfo',
  hcallReal: HCALL_REAL_33,
  // 3.3 has no virtual-mode H_ENTER: its one H_ENTER runs wherever KVM itself enters an HPTE.
  hEnterVirtmode: kvmppc_h_enter_33,
  setupRma: setupRmaAtRegistration,
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
  setupRma: setupRma970,
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

/**
 * Create a VM: pick the operations of its kernel and CPU once, then allocate it (HPT, LPID, LPCR;
 * records vm_create). The only way the model creates a Kvm.
 */
// Mirrors kvm_create_vm() → kvm_arch_init_vm() (virt/kvm/kvm_main.c, arch/powerpc/kvm/powerpc.c, Linux 3.4)
export function kvm_create_vm(opts: Omit<KvmOptions, 'ops'>): Kvm {
  kvm_check_hpt_order(opts.hptOrder ?? 24);
  return new Kvm({ ...opts, ops: kvmOpsFor(opts.kernel ?? '3.4', opts.cpu ?? 'power7') });
}
