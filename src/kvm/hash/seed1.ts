// Seed 1: the Linux 3.1–3.3 Book3S HV memory model (Kvm option kernel '3.3', POWER7 only;
// kernel-model §C.5, §D.3–D.7 "K33", §A.5 K31–K33, §G.1 K31–K33).
//
// All guest RAM is registered in 16 MiB chunks, each backed by one 16 MiB hugetlbfs page of the
// VMM and pinned (get_user_pages, never released before VM destroy) when the region is registered.
// kvm->arch.ram_pginfo[gpa >> 24] holds the host pfn of each chunk. The MMU hcalls translate the
// guest RPN through that table and write the *host* RPN straight into the HPT; there is no ABSENT
// bit, no revmap (so no guest view of dword 1), no rmap chain, no MMU notifier and no MMIO.
// Everything the guest reads back (H_READ, H_REMOVE) is the hardware entry.
//
// Read from: arch/powerpc/kvm/book3s_hv_rm_mmu.c, book3s_64_mmu_hv.c, book3s_hv.c,
// arch/powerpc/kvm/powerpc.c, arch/powerpc/include/asm/kvm_host.h of `jeffegg/beaglebone`
// (Linux 3.1.0, commit a5191c04) and of an unnamed 3.2/3.3 tree in the search index (same
// H_ENTER/H_REMOVE/H_READ/map_vrma code; its book3s_hv.c has the PPC970/RMA branches of 3.2+).
//
// Model notes (deviations are called out where they happen):
//   - the RMA branch of kvmppc_core_prepare_memory_region (a region at gpa 0 mmap'ed from a
//     kvm_rma_fops file) is not modelled: n_rma_pages is always 0 and map_vrma always runs;
//   - HPT order is whatever the Kvm was created with (the kernel fixes HPT_ORDER at 24);
//   - hot paths (the hcalls) allocate nothing and use no BigInt.

import {
  H_BULK_REMOVE_RESP_DONE,
  H_BULK_REMOVE_RESP_NOT_FOUND,
  H_BULK_REMOVE_RESP_PARM,
  H_LOCAL_LO,
  H_NOT_FOUND,
  H_PARAMETER,
  H_PTEG_FULL,
  H_R_XLATE_HI,
  H_READ_4_HI,
  H_SUCCESS,
  h_bulk_remove_ptex,
  h_bulk_remove_response,
  h_protect_bits,
  hpte_set_rpn,
  HPTE_R_C_LO,
  HPTE_R_I_LO,
  HPTE_R_KEY_HI_HI,
  HPTE_R_KEY_LO_LO,
  HPTE_R_M_LO,
  HPTE_R_N_LO,
  HPTE_R_PP0_HI,
  HPTE_R_PP_LO,
  HPTE_R_R_LO,
  HPTE_R_RPN_HI,
  HPTE_R_RPN_LO,
  HPTE_R_W_LO,
  HPTE_R_WIMG_LO,
  HPTE_V_1TB_SEG_HI,
  HPTE_V_ABSENT_LO,
  HPTE_V_BOLTED_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_LARGE_LO,
  HPTE_V_VALID_LO,
  HPTES_PER_GROUP,
  VRMA_VSID,
} from '../../arch/index.js';
import { E } from '../../trace/kinds.js';
import { NO_CAUSE } from '../../trace/recorder.js';
import type { Kvm } from '../kvm.js';
import { KVMPPC_RAM_PGINFO_ENTRIES, LARGE_PAGE_ORDER, type UserspaceMemoryRegion } from '../types.js';

export { KVMPPC_RAM_PGINFO_ENTRIES, KvmppcPginfo, LARGE_PAGE_ORDER, MAX_MEM_ORDER } from '../types.js';
import { badIndex, h_avpn_mismatch, h_bulk_remove_match, h_enter_find_slot, h_remove_mismatch } from './rm_mmu.js';

const EINVAL = -22;
const TWO32 = 0x1_0000_0000;

// book3s_64_mmu_hv.c (Linux 3.1–3.3)
/** VRMA pages are 16 MiB. */
export const VRMA_PAGE_ORDER = 24;
/** Low word of VRMA_VSID ^ (VRMA_VSID << 25) = 0x3ffffffffffff (a PTEG mask never exceeds it). */
const VRMA_HASH_XOR_LO = Number(BigInt.asUintN(32, VRMA_VSID ^ (VRMA_VSID << 25n)));
/** dword 0 of a VRMA HPTE without the page number: 1TB_SEG | VRMA_VSID << (40 - 16). */
const VRMA_V_HI = (HPTE_V_1TB_SEG_HI | Number(VRMA_VSID >> 8n)) >>> 0;
const VRMA_V_LO = (Number(BigInt.asUintN(32, VRMA_VSID << 24n)) | HPTE_V_BOLTED_LO | HPTE_V_LARGE_LO | HPTE_V_VALID_LO) >>> 0;

// ---------------------------------------------------------------------------------------------
// Region registration (KVM_SET_USER_MEMORY_REGION), VRMA, destroy
// ---------------------------------------------------------------------------------------------

/**
 * get_user_pages_fast(addr, 1, write = 1): fault in and pin the page at hva. Returns the pfn of the
 * frame backing hva, or -1. The pin reference is recorded as a host_page 'pin' event.
 */
// Mirrors hva_to_page() (arch/powerpc/kvm/book3s_hv.c, Linux 3.3)
export function hva_to_page(kvm: Kvm, hva: number): number {
  const mm = kvm.mm;
  const pfn = mm.get_user_pages_fast(hva, true, kvm.ctxCause);
  if (pfn < 0) return -1;
  const vma = mm.foundVma!;
  mm.recordPage(E.host_page_op.pin, hva, pfn, true, vma.pageShift, kvm.ctxCause, kvm.lpid);
  return pfn;
}

/**
 * Check and pin a new region: size and gpa multiples of 16 MiB, (gpa + size) ≤ 64 GiB, and every
 * chunk backed by the *head* of a 16 MiB compound page (hugetlbfs VMA with pageShift 24, hva at
 * the start of a huge page), whose pfn goes into ram_pginfo[gpa >> 24]. Returns 0 or -EINVAL.
 *
 * Kernel facts kept: ram_npages is raised before the chunks are pinned, so it stays raised when
 * pinning fails half-way; the chunks pinned before the failure keep their ram_pginfo entries and
 * references (usable by H_ENTER although the memslot is never created); a page that fails the
 * 16 MiB test keeps the reference get_user_pages took (leaked: `ram_pginfo.leaked`).
 */
// Mirrors kvmppc_core_prepare_memory_region() (arch/powerpc/kvm/book3s_hv.c, Linux 3.3)
export function kvmppc_core_prepare_memory_region_33(kvm: Kvm, mem: UserspaceMemoryRegion): number {
  const pg = kvm.ram_pginfo!;
  const psize = pg.ram_psize;
  // 1. "For now, only allow 16MB pages."
  if (mem.memory_size % psize !== 0 || mem.guest_phys_addr % psize !== 0) return EINVAL;
  const npages = mem.memory_size / psize;
  const totalpages = (mem.guest_phys_addr + mem.memory_size) / psize;
  // 2. More memory than ram_pginfo can track?
  if (totalpages > KVMPPC_RAM_PGINFO_ENTRIES) return EINVAL;
  // 3. (RMA registered at gpa 0: not modelled.) Raise ram_npages now.
  if (totalpages > pg.ram_npages) pg.ram_npages = totalpages;
  // 4. Pin every chunk; each must be the head page of a 16 MiB compound page.
  const headOrderShift = LARGE_PAGE_ORDER;
  let pg_ix = mem.guest_phys_addr / psize;
  for (let i = 0; i < npages; ++i, ++pg_ix) {
    const hva = mem.userspace_addr + i * psize;
    const pfn = hva_to_page(kvm, hva);
    if (pfn < 0) return EINVAL; // "oops, no pfn for hva"
    const vma = kvm.mm.foundVma!;
    const isHead = vma.pageShift === headOrderShift && (hva - vma.start) % psize === 0;
    if (!isHead) {
      pg.leaked.push(pfn); // "page at %lx isn't 16MB": goto err without put_page
      return EINVAL;
    }
    pg.pfn[pg_ix] = pfn;
    pg.hva[pg_ix] = hva;
  }
  return 0;
}

/**
 * After a region is installed: a region at gpa 0 (of nonzero size, without an RMA) gets its VRMA
 * HPTEs. `cause` = the memslot event (recorded as the cause of the hpte_write events).
 */
// Mirrors kvmppc_core_commit_memory_region() (arch/powerpc/kvm/book3s_hv.c, Linux 3.3)
export function kvmppc_core_commit_memory_region_33(kvm: Kvm, mem: UserspaceMemoryRegion, cause: number = NO_CAUSE): void {
  if (mem.guest_phys_addr === 0 && mem.memory_size !== 0 && kvm.ram_pginfo!.n_rma_pages === 0) {
    kvmppc_map_vrma(kvm, cause);
  }
}

/**
 * Write the VRMA HPTEs directly into the HPT (no hcall, no tlbie, no refcnt): for chunk i (until
 * the first chunk without a pfn; at most 1 TiB of VRMA and one entry per PTEG) slot 7 of PTEG
 * (i ^ (VRMA_VSID ^ (VRMA_VSID << 25))) & mask gets
 *   dword 1 = (pfn << PAGE_SHIFT) | R | C | M | PP_RWXX
 *   dword 0 = 1TB_SEG | VRMA_VSID << 24 | i << 8 | BOLTED | LARGE | VALID.
 * The kernel assumes the slot is free and overwrites whatever is there. Returns the number of
 * entries written. Recorded as hpte_write events (cause `cause`); observers see it as one
 * operation with nr 0.
 */
// Mirrors kvmppc_map_vrma() (arch/powerpc/kvm/book3s_64_mmu_hv.c, Linux 3.3)
export function kvmppc_map_vrma(kvm: Kvm, cause: number = NO_CAUSE): number {
  const pg = kvm.ram_pginfo;
  // 1. No ram_pginfo (not a seed-1 VM) → nothing.
  if (pg === null) return 0;
  // 2. Cap: the VRMA can't be > 1 TiB; can't use more than one HPTE per PTEG.
  let npages = pg.ram_npages;
  const maxVrma = 2 ** (40 - pg.ram_porder);
  if (npages > maxVrma) npages = maxVrma;
  if (npages > kvm.mmu.geom.npteg) npages = kvm.mmu.geom.npteg;
  const mask = kvm.mmu.geom.hashMask;
  const obs = kvm.observer;
  if (obs !== null) obs.opBegin(kvm, 0, null);
  kvm.setCtx(-1, -1, cause);
  let i = 0;
  for (; i < npages; ++i) {
    // 3. Stop at the first chunk without a page.
    const pfn = pg.pfn[i];
    if (pfn === 0) break;
    // 4. hash = (i ^ (VRMA_VSID ^ (VRMA_VSID << 25))) & HPT_HASH_MASK; entry 7 of that PTEG.
    const hash = ((i ^ VRMA_HASH_XOR_LO) & mask) >>> 0;
    const index = hash * HPTES_PER_GROUP + 7;
    const pa = pfn * kvm.pageSize;
    const r_hi = Math.floor(pa / TWO32) >>> 0;
    const r_lo = ((pa >>> 0) | HPTE_R_R_LO | HPTE_R_C_LO | HPTE_R_M_LO) >>> 0; // PP_RWXX = 0
    const v_lo = (VRMA_V_LO | (i << (VRMA_PAGE_ORDER - 16))) >>> 0;
    // 5. dword 1, wmb, dword 0.
    kvm.mmu.setHpte(index, VRMA_V_HI, v_lo, r_hi, r_lo);
  }
  kvm.clearCtx();
  if (obs !== null) obs.opEnd(kvm, 0, 0, null);
  return i;
}

/**
 * VM destroy: put_page for every ram_pginfo entry with a pfn, from n_rma_pages to ram_npages
 * (recorded as host_page 'unpin'). One reference per entry: a chunk pinned twice (the region
 * re-registered after a delete) keeps its second reference, as do the `leaked` ones.
 */
// Mirrors the ram_pginfo part of kvmppc_core_destroy_vm() (arch/powerpc/kvm/book3s_hv.c, Linux 3.3)
export function kvmppc_core_destroy_vm_33(kvm: Kvm): void {
  const pg = kvm.ram_pginfo;
  if (pg === null) return;
  for (let i = pg.n_rma_pages; i < pg.ram_npages; ++i) {
    const pfn = pg.pfn[i];
    if (pfn === 0) continue;
    kvm.mm.recordPage(E.host_page_op.unpin, pg.hva[i], pfn, true, LARGE_PAGE_ORDER, NO_CAUSE, kvm.lpid);
    kvm.mm.phys.unpin(pfn);
  }
  // kfree(pginfo): the model keeps the arrays (Kvm.destroyed says they are dead).
}

// ---------------------------------------------------------------------------------------------
// The real-mode MMU hcalls (register convention as in rm_mmu.ts: r(4+k) = regs[2k], regs[2k+1])
// ---------------------------------------------------------------------------------------------

/**
 * H_ENTER: r4 = flags (H_EXACT), r5 = pte_index, r6 = pteh, r7 = ptel; on success r4 = index.
 * Translates the guest RPN through ram_pginfo and writes pteh (less HVLOCK|ABSENT) as given: the
 * entry is VALID if the guest set VALID (Linux guests always do). WIMG must be exactly M or
 * W|I|M (SAO), else H_PARAMETER (no silent rewrite as in K34).
 */
// Mirrors kvmppc_h_enter() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function kvmppc_h_enter_33(kvm: Kvm, regs: Uint32Array): number {
  const pg = kvm.ram_pginfo!;
  const flags_hi = regs[0];
  const idx_hi = regs[2];
  const idx_lo = regs[3];
  const pteh_hi = regs[4];
  let pteh_lo = regs[5];
  let ptel_hi = regs[6];
  let ptel_lo = regs[7];
  // 1. Page order: 4K, 64K (POWER7: LP nibble 0001) or 16M (LP bits zero, lowest AVA bit zero).
  let porder = 12;
  if ((pteh_lo & HPTE_V_LARGE_LO) !== 0) {
    if (kvm.arch206 && (ptel_lo & 0xf000) === 0x1000) {
      porder = 16;
    } else if ((ptel_lo & 0xff000) === 0) {
      porder = 24;
      if ((pteh_lo & 0x80) !== 0) return H_PARAMETER;
    } else {
      return H_PARAMETER;
    }
  }
  // 2. lpn = (ptel & HPTE_R_RPN) >> ram_porder must be a registered chunk; page ≤ 16 MiB.
  const lpn = (ptel_hi & HPTE_R_RPN_HI) * 2 ** (32 - pg.ram_porder) + ((ptel_lo & HPTE_R_RPN_LO) >>> pg.ram_porder);
  if (lpn >= pg.ram_npages || porder > pg.ram_porder) return H_PARAMETER;
  // 3. pa = ram_pginfo[lpn].pfn << PAGE_SHIFT; no page → H_PARAMETER.
  const pfn = pg.pfn[lpn];
  if (pfn === 0) return H_PARAMETER;
  // 4. WIMG must be M, or W|I|M (SAO).
  const wimg = ptel_lo & HPTE_R_WIMG_LO;
  if (wimg !== HPTE_R_M_LO && wimg !== (HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_M_LO)) return H_PARAMETER;
  // 5. pteh &= ~(HVLOCK | ABSENT); ptel = (ptel & ~(PP0 - ram_psize)) | pa: the RPN bits of the
  //    16 MiB chunk are replaced, the offset inside it (and LP, key-lo, R, C, WIMG, N, PP) kept.
  pteh_lo = (pteh_lo & ~(HPTE_V_HVLOCK_LO | HPTE_V_ABSENT_LO)) >>> 0;
  const pa = pfn * kvm.pageSize;
  const t = kvm.tmp;
  hpte_set_rpn(ptel_hi, ptel_lo, pg.ram_psize, Math.floor(pa / TWO32) >>> 0, pa >>> 0, t, 0);
  ptel_hi = t[0];
  ptel_lo = t[1];
  // 6. Index in range; then a slot without VALID (first in the PTEG, or the exact one).
  if (badIndex(kvm, idx_hi, idx_lo)) return H_PARAMETER;
  const index = h_enter_find_slot(kvm.mmu.hpt, flags_hi, idx_lo, HPTE_V_VALID_LO);
  if (index < 0) return H_PTEG_FULL;
  // 7. hpte[1] = ptel; eieio; hpte[0] = pteh (unlocks); refcnt++ (never dropped); r4 = index.
  kvm.mmu.setHpte(index, pteh_hi >>> 0, pteh_lo, ptel_hi >>> 0, ptel_lo >>> 0);
  pg.refcnt[lpn]++;
  regs[0] = 0;
  regs[1] = index;
  return H_SUCCESS;
}

/**
 * H_REMOVE: r4 = flags (H_AVPN, H_ANDCOND, H_LOCAL), r5 = pte_index, r6 = avpn; returns r4 = old
 * dword 0, r5 = old *hardware* dword 1 (host RPN). VALID entries only; dword 0 = 0, then tlbie
 * (tlbiel with H_LOCAL or a single online vcpu). dword 1 is left as it was.
 */
// Mirrors kvmppc_h_remove() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function kvmppc_h_remove_33(kvm: Kvm, regs: Uint32Array): number {
  let flags_lo = regs[1];
  // 1. Bounds; lock.
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = (hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0;
  const r_hi = hpt[p + 2];
  const r_lo = hpt[p + 3];
  const a_hi = regs[4];
  const a_lo = regs[5];
  // 2. Not VALID, AVPN mismatch, or ANDCOND hit (tested on the locked word: 0x40 in the mask hits).
  if ((v_lo & HPTE_V_VALID_LO) === 0 || h_remove_mismatch(flags_lo, v_hi, v_lo, a_hi, a_lo)) return H_NOT_FOUND;
  // 3. One online vcpu → local; r4/r5 = the hardware words; dword 0 = 0; tlbie(l).
  if (kvm.online_vcpus === 1) flags_lo |= H_LOCAL_LO;
  kvm.mmu.setHpte(i, 0, 0, r_hi, r_lo);
  kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, (flags_lo & H_LOCAL_LO) !== 0);
  regs[0] = v_hi;
  regs[1] = v_lo;
  regs[2] = r_hi;
  regs[3] = r_lo;
  return H_SUCCESS;
}

/**
 * H_BULK_REMOVE: up to four (tsh, tsl) pairs in r4..r11, rewritten in place (0x80|flags|R 0x08|
 * C 0x04 removed, 0x90|flags not found, 0xa0|flags parameter error, which stops with H_PARAMETER).
 * VALID entries only. One pass: R/C are read from hardware dword 1 *before* the invalidation; all
 * tlbies (global unless exactly one vcpu is online) follow the loop, also after a parameter error.
 */
// Mirrors kvmppc_h_bulk_remove() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function kvmppc_h_bulk_remove_33(kvm: Kvm, regs: Uint32Array): number {
  const local = kvm.online_vcpus === 1;
  const hpt = kvm.mmu.hpt;
  const bIdx = kvm.bulkIndex;
  const bV = kvm.bulkV;
  const bR = kvm.bulkR;
  let n_inval = 0;
  let ret = H_SUCCESS;
  // 1. Each request in turn.
  for (let i = 0; i < 4; ++i) {
    const j = i * 4; // word offset of r(4 + 2i)
    const tsh_hi = regs[j];
    const tsh_lo = regs[j + 1];
    let flags = tsh_hi >>> 24;
    const pte_index = h_bulk_remove_ptex(tsh_hi, tsh_lo);
    const req = flags >>> 6;
    flags &= 3;
    if (req === 3) break;
    if (req !== 1 || flags === 3 || pte_index >= kvm.mmu.npte) {
      h_bulk_remove_response(H_BULK_REMOVE_RESP_PARM, flags, 0, pte_index, regs, j);
      ret = H_PARAMETER;
      break;
    }
    const p = pte_index * 4;
    const v_hi = hpt[p];
    const v_lo = hpt[p + 1];
    const a_hi = regs[j + 2];
    const a_lo = regs[j + 3];
    // andcond: hp[0] is locked (HVLOCK set) when tested.
    const found = (v_lo & HPTE_V_VALID_LO) !== 0 && h_bulk_remove_match(flags, v_hi, v_lo, a_hi, a_lo);
    if (!found) {
      h_bulk_remove_response(H_BULK_REMOVE_RESP_NOT_FOUND, flags, 0, pte_index, regs, j);
      continue;
    }
    // 2. flags |= (hp[1] >> 5) & 0x0c (R → 0x08, C → 0x04); collect the RB; hp[0] = 0.
    const r_hi = hpt[p + 2];
    const r_lo = hpt[p + 3];
    h_bulk_remove_response(H_BULK_REMOVE_RESP_DONE, flags, r_lo & (HPTE_R_R_LO | HPTE_R_C_LO), pte_index, regs, j);
    kvm.mmu.setHpte(pte_index, 0, 0, r_hi, r_lo);
    bIdx[n_inval] = pte_index;
    bV[n_inval * 2] = v_hi;
    bV[n_inval * 2 + 1] = v_lo;
    bR[n_inval * 2] = r_hi;
    bR[n_inval * 2 + 1] = r_lo;
    ++n_inval;
  }
  // 3. One tlbie sequence for everything removed.
  for (let k = 0; k < n_inval; k++) kvm.mmu.tlbie(bV[k * 2], bV[k * 2 + 1], bR[k * 2 + 1], bIdx[k], local);
  return ret;
}

/**
 * H_PROTECT: r4 = flags (PP0/PP/N/key bits, H_AVPN, H_LOCAL), r5 = pte_index, r6 = avpn. VALID
 * entries only: the hardware dword 1 gets the new bits, with VALID cleared around a tlbie(l).
 */
// Mirrors kvmppc_h_protect() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function kvmppc_h_protect_33(kvm: Kvm, regs: Uint32Array): number {
  let flags_lo = regs[1];
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const i = regs[3];
  const hpt = kvm.mmu.hpt;
  const p = i * 4;
  const v_hi = hpt[p];
  const v_lo = hpt[p + 1];
  // 1. Not VALID or AVPN mismatch.
  if ((v_lo & HPTE_V_VALID_LO) === 0 || h_avpn_mismatch(flags_lo, v_hi, v_lo, regs[4], regs[5])) return H_NOT_FOUND;
  if (kvm.online_vcpus === 1) flags_lo |= H_LOCAL_LO;
  // 2. r = (hpte[1] & ~(PP0|PP|N|KEY_HI|KEY_LO)) | new bits.
  const t = kvm.tmp;
  h_protect_bits(flags_lo, t, 0);
  const r_hi = ((hpt[p + 2] & ~(HPTE_R_PP0_HI | HPTE_R_KEY_HI_HI)) | t[0]) >>> 0;
  const r_lo = ((hpt[p + 3] & ~(HPTE_R_PP_LO | HPTE_R_N_LO | HPTE_R_KEY_LO_LO)) | t[1]) >>> 0;
  // 3. hpte[0] = v & ~VALID; tlbie(l) with RB from (v, new r); hpte[1] = r; hpte[0] = v.
  kvm.mmu.setHpte(i, v_hi, v_lo, r_hi, r_lo);
  kvm.mmu.tlbie(v_hi, v_lo, r_lo, i, (flags_lo & H_LOCAL_LO) !== 0);
  return H_SUCCESS;
}

/**
 * The guest real address of host real address (hi, lo) by a linear search of ram_pginfo, or all
 * ones in the RPN field (HPTE_R_RPN) if no chunk matches. Result in out[off], out[off + 1].
 *
 * Kernel quirk kept: the match for chunk i returns (i << PAGE_SHIFT) + offset, not
 * (i << ram_porder) + offset, so only chunk 0 translates to its true guest address; chunk i ≥ 1
 * yields i * PAGE_SIZE + offset.
 */
// Mirrors reverse_xlate() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function reverse_xlate(kvm: Kvm, real_hi: number, real_lo: number, out: Uint32Array, off = 0): void {
  const pg = kvm.ram_pginfo!;
  // 1. offset = realaddr & (ram_psize - 1); rpn = (realaddr - offset) >> PAGE_SHIFT.
  const offset = real_lo & (pg.ram_psize - 1);
  const chunk = real_hi * 2 ** (32 - pg.ram_porder) + (real_lo >>> pg.ram_porder);
  const rpn = chunk * 2 ** (pg.ram_porder - kvm.pageShift);
  // 2. First chunk whose pfn matches (unfilled chunks have pfn 0).
  for (let i = 0; i < pg.ram_npages; ++i) {
    if (rpn === pg.pfn[i]) {
      const x = i * kvm.pageSize + offset; // (i << PAGE_SHIFT) + offset < 2^29
      out[off] = 0;
      out[off + 1] = x >>> 0;
      return;
    }
  }
  out[off] = HPTE_R_RPN_HI;
  out[off + 1] = HPTE_R_RPN_LO;
}

/**
 * H_READ: r4 = flags (H_READ_4, H_R_XLATE), r5 = pte_index; returns the raw hardware (v, r) in
 * r4/r5, or four pairs in r4..r11 from pte_index & ~3. With H_R_XLATE a VALID entry's RPN field
 * is replaced by reverse_xlate() of it. No locking, no state change.
 */
// Mirrors kvmppc_h_read() (arch/powerpc/kvm/book3s_hv_rm_mmu.c, Linux 3.3)
export function kvmppc_h_read_33(kvm: Kvm, regs: Uint32Array): number {
  if (badIndex(kvm, regs[2], regs[3])) return H_PARAMETER;
  const flags_hi = regs[0];
  let idx = regs[3];
  let n = 1;
  if ((flags_hi & H_READ_4_HI) !== 0) {
    idx &= ~3;
    n = 4;
  }
  const hpt = kvm.mmu.hpt;
  const t = kvm.tmp;
  for (let k = 0; k < n; k++, idx++) {
    const p = idx * 4;
    const v_hi = hpt[p];
    const v_lo = hpt[p + 1];
    let r_hi = hpt[p + 2];
    let r_lo = hpt[p + 3];
    if ((flags_hi & H_R_XLATE_HI) !== 0 && (v_lo & HPTE_V_VALID_LO) !== 0) {
      reverse_xlate(kvm, r_hi & HPTE_R_RPN_HI, r_lo & HPTE_R_RPN_LO, t, 0);
      r_hi = (t[0] | (r_hi & ~HPTE_R_RPN_HI)) >>> 0;
      r_lo = (t[1] | (r_lo & ~HPTE_R_RPN_LO)) >>> 0;
    }
    regs[k * 4] = v_hi;
    regs[k * 4 + 1] = v_lo;
    regs[k * 4 + 2] = r_hi;
    regs[k * 4 + 3] = r_lo;
  }
  return H_SUCCESS;
}
