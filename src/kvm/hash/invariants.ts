// Invariant checker for the Book3S HV model (kernel-model §J). Two halves:
//
//   KvmInvariantChecker.check()  state invariants at a quiescent point (between operations):
//                                J1 geometry, J2 lock hygiene, J3 VALID/ABSENT exclusive, J4 chain
//                                membership, J5 ring integrity, J6 MMIO marking (none at all on
//                                PPC970), J8 no stale host page (notifiers on), J10 size containment,
//                                J11 WIMG, J12 pinned mode (VALID HPTE ⇒ nonzero slot_phys entry
//                                whose frame it maps; slot_phys entries never cleared before
//                                destroy), J24 LPID range (PPC970 ≤ 62).
//   HvAudit (a KvmObserver)      operation invariants, checked as the operation runs and ends:
//                                J7 guest view of H_READ/H_REMOVE outputs, J12 pinned mode (notifier
//                                callbacks change no HPTE/revmap/rmap word, H_ENTER never writes
//                                ABSENT), J14 R/C monotonicity, J16 insertion R/C ⊆ rmap R/C, J17
//                                tlbie discipline, J20 fault re-validation (via
//                                KvmObserver.faultCommit, for a fault path), J21 H_ENTER placement,
//                                J22 H_REMOVE effect.
//   checkLpids(kvms)             J24 across VMs: distinct LPIDs, none reserved.
//
// Seed 1 (kernel '3.3', kernel-model §C.5) has no ABSENT bit, revmap, rmap chain or notifier, so
// the checker replaces J3/J4/J5/J6/J7/J8/J12/J16 by the seed-1 invariants (codes S1_*):
//   S1_NO_ABSENT   no HPTE is ever ABSENT (state, and every hpte_write)
//   S1_PINNED      every VALID HPTE's RPN lies in a ram_pginfo page that still holds a pin
//                  reference; ram_pginfo entries are never cleared and refcnt never drops before
//                  destroy; ram_npages ≤ 4096
//   S1_NO_RMAP     no rmap word, revmap guest_rpte or chain link is ever nonzero
//   S1_NO_NOTIFIER no notifier callback reaches the VM
//   S1_GUEST_VIEW  H_REMOVE returns the hardware dword 1, H_READ the raw hardware words (RPN
//                  field reverse-translated with H_R_XLATE)
// and keeps J1, J2, J10, J11 (WIMG M or W|I|M), J14, J17, J21, J22, J24.
//
// checkInvariants(kvm, audit?) returns the first violation of either, or null. Not hot code: it
// allocates freely and walks the whole HPT.

import {
  compute_tlbie_rb,
  H_ENTER,
  H_CLEAR_MOD,
  H_CLEAR_REF,
  H_EXACT_HI,
  H_PTEG_FULL,
  H_READ,
  H_READ_4_HI,
  H_R_XLATE_HI,
  H_REMOVE,
  H_SUCCESS,
  HPTE_R_C_LO,
  HPTE_R_I_LO,
  HPTE_R_M_LO,
  HPTE_R_R_LO,
  HPTE_R_RPN_HI,
  HPTE_R_RPN_LO,
  HPTE_R_W_LO,
  HPTE_R_WIMG_LO,
  HPTE_V_ABSENT_LO,
  HPTE_V_HVLOCK_LO,
  HPTE_V_VALID_LO,
  hpte_is_mmio_key,
  hpte_page_size,
  hpte_rpn,
  hpte_storage_key,
  KVMPPC_PAGE_ORDER_MASK,
  KVMPPC_RMAP_LOCK_HI,
  KVMPPC_RMAP_PRESENT_HI,
  LPID_RSVD,
  MAX_LPID_970,
  PPC_MIN_HPT_ORDER,
} from '../../arch/index.js';
import { PTE_PRESENT } from '../../host/mm.js';
import type { Kvm, KvmObserver } from '../kvm.js';
import type { Memslot, Violation } from '../types.js';
import { slot_is_aligned } from './rm_mmu.js';
import { KVMPPC_RAM_PGINFO_ENTRIES } from './seed1.js';

/** The first broken invariant. `code` is 'J<n>_<NAME>' after kernel-model §J item n. */
export type { Violation } from '../types.js';
import type { AnomalyName } from '../../trace/anomalies.js';

const RC = HPTE_R_R_LO | HPTE_R_C_LO;
const TWO32 = 0x1_0000_0000;
const hex = (n: number): string => '0x' + n.toString(16);
const hex64 = (hi: number, lo: number): string => '0x' + (BigInt(hi >>> 0) * 0x1_0000_0000n + BigInt(lo >>> 0)).toString(16);

function v(code: AnomalyName, message: string, detail: Record<string, unknown> = {}): Violation {
  return { code, message, detail };
}

/** Base gfn of HPTE i's guest view, or -1 if its page-size encoding is invalid. */
function guestGfn(kvm: Kvm, i: number): number {
  const v_lo = kvm.mmu.hpt[i * 4 + 1];
  const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
  const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
  if (psize === 0) return -1;
  return hpte_rpn(kvm.mmu.revGuestR[i * 2], gr_lo, psize, kvm.pageShift);
}

/** Is HPTE i a member of the chain of rmap word `off` of slot s? (Bounded walk.) */
function inChain(kvm: Kvm, s: Memslot, off: number, i: number): boolean {
  if ((s.rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) return false;
  const head = s.rmap[off * 2 + 1];
  let j = head;
  for (let n = 0; n <= kvm.mmu.npte; n++) {
    if (j === i) return true;
    j = kvm.mmu.revForw[j];
    if (j === head) return false;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// State invariants
// ---------------------------------------------------------------------------------------------

export class KvmInvariantChecker {
  readonly kvm: Kvm;
  /** 0 = not seen, 1 = seen in an earlier chain walk, 2 = seen in the current walk. */
  private readonly visited: Uint8Array;
  /** J12: per slot id, which slot_phys entries were nonzero at the last check. */
  private readonly physSeen: (Uint8Array | null)[] = [];
  /** S1_PINNED: ram_pginfo pfn / refcnt at the last check (seed 1 only). */
  private pginfoSeen: Uint32Array | null = null;
  private refcntSeen: Uint32Array | null = null;

  constructor(kvm: Kvm) {
    this.kvm = kvm;
    this.visited = new Uint8Array(kvm.mmu.npte);
  }

  /** First violated state invariant, or null. */
  check(): Violation | null {
    if (this.kvm.ops.memory === 'ram_pginfo') return this.geometry() ?? this.lpidRange() ?? this.seed1PerHpte() ?? this.seed1NoRmap() ?? this.seed1Pginfo();
    return this.geometry() ?? this.lpidRange() ?? this.perHpte() ?? this.chains() ?? this.rmapLocks() ?? this.slotPhysKept();
  }

  // J24 (this VM): not the host LPID 0, not the reserved one; PPC970: 6 bits, 63 reserved.
  private lpidRange(): Violation | null {
    const kvm = this.kvm;
    const max = kvm.arch206 ? LPID_RSVD - 1 : MAX_LPID_970 - 1;
    if (kvm.lpid === 0 || kvm.lpid > max) return v('j24_lpid', `LPID ${kvm.lpid} outside 1..${max}`, { lpid: kvm.lpid, cpu: kvm.cpu });
    return null;
  }

  // J12: slot_phys entries are never cleared before VM destroy.
  private slotPhysKept(): Violation | null {
    const kvm = this.kvm;
    if (kvm.usingMmuNotifiers || kvm.destroyed) return null;
    for (let id = 0; id < kvm.slot_phys.length; id++) {
      const sp = kvm.slot_phys[id];
      const seen = this.physSeen[id] ?? null;
      if (sp === null) {
        if (seen !== null) return v('j12_pinned', 'slot_phys array freed before VM destroy', { slot: id });
        continue;
      }
      let m = seen;
      if (m === null || m.length !== sp.npages) {
        m = new Uint8Array(sp.npages);
        this.physSeen[id] = m;
      }
      for (let j = 0; j < sp.npages; j++) {
        const has = sp.has(j);
        if (m[j] === 1 && !has) return v('j12_pinned', 'slot_phys entry cleared before VM destroy', { slot: id, index: j });
        m[j] = has ? 1 : 0;
      }
    }
    return null;
  }

  // Seed 1: J2 (HPTE half), S1_NO_ABSENT, S1_PINNED, J10, J11.
  private seed1PerHpte(): Violation | null {
    const kvm = this.kvm;
    const pg = kvm.ram_pginfo!;
    const hpt = kvm.mmu.hpt;
    const phys = kvm.mm.phys;
    const chunkFrames = pg.ram_psize / kvm.pageSize;
    const lpnOf = new Map<number, number>();
    for (let lpn = 0; lpn < pg.ram_npages; lpn++) if (pg.pfn[lpn] !== 0 && !lpnOf.has(pg.pfn[lpn])) lpnOf.set(pg.pfn[lpn], lpn);
    for (let i = 0; i < kvm.mmu.npte; i++) {
      const p = i * 4;
      const v_lo = hpt[p + 1];
      if ((v_lo & HPTE_V_HVLOCK_LO) !== 0) return v('j2_lock', 'HPTE left with HVLOCK', { index: i });
      if ((v_lo & HPTE_V_ABSENT_LO) !== 0) return v('s1_no_absent', 'ABSENT HPTE in a seed-1 (3.3) VM', { index: i, v: hex64(hpt[p], v_lo) });
      if ((v_lo & HPTE_V_VALID_LO) === 0) continue;
      const r_hi = hpt[p + 2];
      const r_lo = hpt[p + 3];
      // J10: a page size H_ENTER accepts (≤ 16 MiB = ram_psize).
      const psize = hpte_page_size(v_lo, r_lo, kvm.arch206);
      if (psize === 0 || psize > pg.ram_psize) return v('j10_size', 'VALID HPTE with a page size seed 1 does not allow', { index: i, psize });
      // S1_PINNED: the 16 MiB frame block containing the RPN is a ram_pginfo page still pinned.
      const pa = (r_hi & HPTE_R_RPN_HI) * TWO32 + ((r_lo & HPTE_R_RPN_LO) >>> 0);
      const head = Math.floor(pa / pg.ram_psize) * chunkFrames;
      const lpn = lpnOf.get(head);
      if (lpn === undefined) return v('s1_pinned', 'VALID HPTE whose RPN is in no ram_pginfo page', { index: i, pa: hex(pa) });
      if (phys.pinCount(head) === 0) return v('s1_pinned', 'VALID HPTE maps a ram_pginfo page that holds no pin reference', { index: i, lpn, pfn: hex(head) });
      // J11: hardware WIMG is M or the POWER7 SAO value W|I|M (H_ENTER accepts nothing else).
      const wimg = r_lo & HPTE_R_WIMG_LO;
      if (wimg !== HPTE_R_M_LO && wimg !== (HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_M_LO)) {
        return v('j11_wimg', 'VALID HPTE whose hardware WIMG is neither M nor W|I|M', { index: i, wimg: hex(wimg) });
      }
    }
    return null;
  }

  // Seed 1: S1_NO_RMAP — no rmap word, revmap entry or chain link was ever written.
  private seed1NoRmap(): Violation | null {
    const kvm = this.kvm;
    for (const s of kvm.memslots) {
      for (let k = 0; k < s.rmap.length; k++) {
        if (s.rmap[k] !== 0) return v('s1_no_rmap', 'rmap word changed in a seed-1 (3.3) VM', { gfn: s.base_gfn + (k >> 1) });
      }
    }
    const gr = kvm.mmu.revGuestR;
    for (let k = 0; k < gr.length; k++) if (gr[k] !== 0) return v('s1_no_rmap', 'revmap guest_rpte written in a seed-1 (3.3) VM', { index: k >> 1 });
    for (let i = 0; i < kvm.mmu.npte; i++) {
      if (kvm.mmu.revForw[i] !== 0 || kvm.mmu.revBack[i] !== 0) return v('s1_no_rmap', 'revmap chain link written in a seed-1 (3.3) VM', { index: i });
    }
    return null;
  }

  // Seed 1: S1_PINNED — ram_pginfo entries are never cleared, refcnt never drops, ram_npages ≤ 4096.
  private seed1Pginfo(): Violation | null {
    const kvm = this.kvm;
    const pg = kvm.ram_pginfo!;
    if (pg.ram_npages > KVMPPC_RAM_PGINFO_ENTRIES) return v('s1_pinned', 'ram_npages beyond MAX_MEM_ORDER', { ram_npages: pg.ram_npages });
    if (kvm.destroyed) return null;
    if (this.pginfoSeen === null || this.refcntSeen === null) {
      this.pginfoSeen = new Uint32Array(KVMPPC_RAM_PGINFO_ENTRIES);
      this.refcntSeen = new Uint32Array(KVMPPC_RAM_PGINFO_ENTRIES);
    }
    const ps = this.pginfoSeen;
    const rs = this.refcntSeen;
    for (let lpn = 0; lpn < KVMPPC_RAM_PGINFO_ENTRIES; lpn++) {
      if (ps[lpn] !== 0 && pg.pfn[lpn] === 0) return v('s1_pinned', 'ram_pginfo entry cleared before VM destroy', { lpn });
      if (pg.refcnt[lpn] < rs[lpn]) return v('s1_pinned', 'ram_pginfo refcnt decreased', { lpn, before: rs[lpn], after: pg.refcnt[lpn] });
      ps[lpn] = pg.pfn[lpn];
      rs[lpn] = pg.refcnt[lpn];
    }
    return null;
  }

  // J1
  private geometry(): Violation | null {
    const kvm = this.kvm;
    const g = kvm.mmu.geom;
    if (g.order < PPC_MIN_HPT_ORDER) return v('j1_geometry', `HPT order ${g.order} < 18`);
    if (kvm.mmu.npte !== 2 ** (g.order - 4) || kvm.mmu.hpt.length !== kvm.mmu.npte * 4) {
      return v('j1_geometry', 'HPT size is not 2^order bytes', { order: g.order, npte: kvm.mmu.npte, words: kvm.mmu.hpt.length });
    }
    if (g.hashMask !== 2 ** (g.order - 7) - 1) return v('j1_geometry', 'hash mask is not 2^(order-7)-1', { mask: g.hashMask });
    if ((kvm.mmu.sdr1Lo & 0x1f) !== g.order - 18) return v('j1_geometry', 'SDR1 HTABSIZE != order - 18', { sdr1Lo: hex(kvm.mmu.sdr1Lo) });
    return null;
  }

  // J2 (rmap half)
  private rmapLocks(): Violation | null {
    for (const s of this.kvm.memslots) {
      for (let off = 0; off < s.npages; off++) {
        if ((s.rmap[off * 2] & KVMPPC_RMAP_LOCK_HI) !== 0) {
          return v('j2_lock', 'rmap lock bit set at a quiescent point', { gfn: s.base_gfn + off });
        }
      }
    }
    return null;
  }

  // J2 (HPTE half), J3, J6, J8, J10, J11
  private perHpte(): Violation | null {
    const kvm = this.kvm;
    const hpt = kvm.mmu.hpt;
    const mm = kvm.mm;
    for (let i = 0; i < kvm.mmu.npte; i++) {
      const p = i * 4;
      const v_lo = hpt[p + 1];
      if ((v_lo & HPTE_V_HVLOCK_LO) !== 0) return v('j2_lock', 'HPTE left with HVLOCK', { index: i });
      const valid = (v_lo & HPTE_V_VALID_LO) !== 0;
      const absent = (v_lo & HPTE_V_ABSENT_LO) !== 0;
      if (valid && absent) return v('j3_valid_absent', 'HPTE both VALID and ABSENT', { index: i, v: hex64(hpt[p], v_lo) });
      if (!valid && !absent) continue;
      const r_hi = hpt[p + 2];
      const r_lo = hpt[p + 3];
      const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
      const psize = hpte_page_size(v_lo, gr_lo, kvm.arch206);
      const gfn = guestGfn(kvm, i);
      const slot = gfn < 0 ? null : kvm.valid_memslot(gfn);
      // J6: no memslot = emulated MMIO: ABSENT, key 31, never VALID; PPC970 has none at all.
      if (slot === null) {
        if (valid) return v('j6_mmio', 'VALID HPTE whose guest page is in no valid memslot', { index: i, gfn });
        if (!kvm.arch206) return v('j6_mmio', 'MMIO (ABSENT, no memslot) HPTE on PPC970', { index: i, gfn });
        // K34 quirk: H_PROTECT rewrites the key bits of ABSENT entries too, so after a guest
        // H_PROTECT an MMIO HPTE carries the guest's key (hardware key == guest key) instead of 31.
        // (K420 H_PROTECT, hash/k420.ts, updates the hardware word only if VALID, so it keeps key 31.)
        const quirk = hpte_storage_key(r_hi, r_lo) === hpte_storage_key(kvm.mmu.revGuestR[i * 2], gr_lo);
        if (!hpte_is_mmio_key(r_hi, r_lo) && !quirk) {
          return v('j6_mmio', 'MMIO HPTE without storage key 31', { index: i, r: hex64(r_hi, r_lo) });
        }
        continue;
      }
      // J12: pinned mode never has ABSENT entries for RAM.
      if (!kvm.usingMmuNotifiers && !valid) return v('j12_pinned', 'ABSENT HPTE in pinned mode', { index: i, gfn });
      if (!valid) continue;
      if (!kvm.usingMmuNotifiers) {
        const x = this.pinnedHpte(i, slot, gfn, psize, r_hi, r_lo, gr_lo);
        if (x !== null) return x;
        continue;
      }
      // J10: page fits the host backing and the slot alignment.
      const off = gfn - slot.base_gfn;
      const hva = kvm.gfn_to_hva_memslot(slot, gfn);
      const pi = mm.find_linux_pte_or_hugepte(hva);
      const vma = pi >= 0 ? mm.foundVma : null;
      if (vma === null) return v('j8_stale_host_page', 'VALID HPTE for an hva in no VMA', { index: i, gfn, hva: hex(hva) });
      const pteSize = 2 ** vma.pageShift;
      if (psize > pteSize || !slot_is_aligned(slot, psize, kvm.pageSize)) {
        return v('j10_size', 'VALID HPTE larger than its host page or in an unaligned slot', { index: i, psize, pteSize });
      }
      // J8: the host still maps the page, at the frame the HPTE points to.
      if ((vma.flags[pi] & PTE_PRESENT) === 0) {
        return v('j8_stale_host_page', 'VALID HPTE for a host page that is not present', { index: i, gfn, hva: hex(hva) });
      }
      const gpaLo = gr_lo & HPTE_R_RPN_LO;
      const expect = vma.pfn[pi] * kvm.pageSize + ((gpaLo & (pteSize - 1) & ~(psize - 1)) >>> 0);
      const got = (r_hi & HPTE_R_RPN_HI) * TWO32 + ((r_lo & HPTE_R_RPN_LO & ~(psize - 1)) >>> 0);
      if (got !== expect) {
        return v('j8_stale_host_page', 'VALID HPTE points at a frame the host no longer maps there', {
          index: i,
          gfn,
          hpte_pa: hex(got),
          host_pa: hex(expect),
        });
      }
      // J11: RAM is mapped M (or SAO on POWER7) in hardware.
      if (vma.cacheBits === 0) {
        const wimg = r_lo & HPTE_R_WIMG_LO;
        const sao = HPTE_R_W_LO | HPTE_R_I_LO | HPTE_R_M_LO;
        if (wimg !== HPTE_R_M_LO && !(kvm.arch206 && wimg === sao)) {
          return v('j11_wimg', 'VALID RAM HPTE whose hardware WIMG is not M', { index: i, wimg: hex(wimg) });
        }
      }
      void off;
    }
    return null;
  }

  // J12, J10, J11 for a VALID HPTE of a pinned-mode VM: its page has a nonzero slot_phys entry, the
  // hardware RPN is that entry's frame (plus the offset inside a larger backing page), the page fits
  // the backing size and the slot, and RAM is mapped M.
  private pinnedHpte(i: number, slot: Memslot, gfn: number, psize: number, r_hi: number, r_lo: number, gr_lo: number): Violation | null {
    const kvm = this.kvm;
    const sp = kvm.slot_phys[slot.id];
    const off = gfn - slot.base_gfn;
    if (sp === null || off >= sp.npages || !sp.has(off)) {
      return v('j12_pinned', 'VALID HPTE whose page has no slot_phys entry', { index: i, gfn });
    }
    const ef = sp.flags[off];
    const pteSize = kvm.pageSize * 2 ** (ef & KVMPPC_PAGE_ORDER_MASK);
    if (psize > pteSize || !slot_is_aligned(slot, psize, kvm.pageSize)) {
      return v('j10_size', 'VALID HPTE larger than its pinned backing page or in an unaligned slot', { index: i, psize, pteSize });
    }
    // pa = (pfn << PAGE_SHIFT) | (gpa & (pte_size - 1)) when the backing page is larger, as H_ENTER.
    const base = sp.pfn[off] * kvm.pageSize;
    let lo = base >>> 0;
    if (pteSize > psize) lo = (lo | (gr_lo & HPTE_R_RPN_LO & (pteSize >= TWO32 ? 0xffffffff : pteSize - 1))) >>> 0;
    const expectPage = Math.floor(base / TWO32) * TWO32 + ((lo & ~(psize - 1)) >>> 0);
    const got = (r_hi & HPTE_R_RPN_HI) * TWO32 + ((r_lo & HPTE_R_RPN_LO & ~(psize - 1)) >>> 0);
    if (got !== expectPage) {
      return v('j12_pinned', 'VALID HPTE does not map the frame slot_phys pinned for its page', { index: i, gfn, hpte_pa: hex(got), pinned_pa: hex(expectPage) });
    }
    if ((ef & (HPTE_R_I_LO | HPTE_R_W_LO)) === 0 && (r_lo & HPTE_R_WIMG_LO) !== HPTE_R_M_LO) {
      return v('j11_wimg', 'VALID RAM HPTE whose hardware WIMG is not M', { index: i, wimg: hex(r_lo & HPTE_R_WIMG_LO) });
    }
    return null;
  }

  // J1 (indexes), J4, J5
  private chains(): Violation | null {
    const kvm = this.kvm;
    const vis = this.visited;
    vis.fill(0);
    const forw = kvm.mmu.revForw;
    const back = kvm.mmu.revBack;
    for (const s of kvm.memslots) {
      for (let off = 0; off < s.npages; off++) {
        if ((s.rmap[off * 2] & KVMPPC_RMAP_PRESENT_HI) === 0) continue;
        const gfn = s.base_gfn + off;
        const head = s.rmap[off * 2 + 1];
        if (head >= kvm.mmu.npte) return v('j1_geometry', 'rmap INDEX beyond NPTE', { gfn, index: head });
        let i = head;
        const walked: number[] = [];
        for (;;) {
          if (vis[i] === 2) return v('j5_ring', 'chain does not return to its head', { gfn, head, at: i });
          if (vis[i] === 1) return v('j4_chain_membership', 'HPTE on two chains', { gfn, index: i });
          vis[i] = 2;
          walked.push(i);
          const f = forw[i];
          const b = back[i];
          if (f >= kvm.mmu.npte || b >= kvm.mmu.npte) return v('j1_geometry', 'revmap link beyond NPTE', { index: i, forw: f, back: b });
          if (back[f] !== i || forw[b] !== i) return v('j5_ring', 'forw/back links disagree', { gfn, index: i, forw: f, back: b });
          const vl = kvm.mmu.hpt[i * 4 + 1];
          if ((vl & HPTE_V_VALID_LO) === 0) return v('j4_chain_membership', 'non-VALID HPTE on a chain', { gfn, index: i });
          if (guestGfn(kvm, i) !== gfn) {
            return v('j4_chain_membership', 'HPTE on the chain of another gfn', { gfn, index: i, its_gfn: guestGfn(kvm, i) });
          }
          i = f;
          if (i === head) break;
        }
        for (const w of walked) vis[w] = 1;
      }
    }
    // Every VALID HPTE that maps RAM is on a chain.
    for (let i = 0; i < kvm.mmu.npte; i++) {
      if ((kvm.mmu.hpt[i * 4 + 1] & HPTE_V_VALID_LO) === 0 || vis[i] !== 0) continue;
      const gfn = guestGfn(kvm, i);
      if (gfn >= 0 && kvm.valid_memslot(gfn) !== null) {
        return v('j4_chain_membership', 'VALID RAM HPTE on no chain', { index: i, gfn });
      }
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Operation invariants
// ---------------------------------------------------------------------------------------------

/**
 * Observer that checks each operation as it happens. Attach with `audit.attach(kvm)` (sets
 * kvm.observer). The first violation is kept in `violation`.
 */
export class HvAudit implements KvmObserver {
  violation: Violation | null = null;
  /** Operations seen (hcalls + notifier callbacks). */
  ops = 0;
  private op = 0;
  private readonly inRegs = new Uint32Array(16);
  /** Guest-visible R/C per HPTE as last seen (bits 0x180), for J14. */
  private lastRc = new Uint16Array(0);
  // Pending invalidations: [index, rb_hi, rb_lo, required(1)/allowed(0)] flattened.
  private pending: number[] = [];
  private readonly t = new Uint32Array(2);
  /** HPTE a fault path decided not to touch in this operation (J20), or -1. */
  private untouchable = -1;
  /** J12: digest of HPT + revmap + rmap words at the start of a notifier callback (pinned mode). */
  private notifierDigest = -1;
  /**
   * J12 digest check of notifier callbacks in pinned mode (O(HPT size) per callback; turn off for
   * very large HPTs if the hpte_write check alone is enough).
   */
  digestNotifiers = true;
  /** Digest one notifier op in this many (1 = every op). */
  digestEvery = 1;
  private notifierOps = 0;

  attach(kvm: Kvm): this {
    kvm.observer = this;
    this.lastRc = new Uint16Array(kvm.mmu.npte);
    for (let i = 0; i < kvm.mmu.npte; i++) {
      if ((kvm.mmu.hpt[i * 4 + 1] & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) !== 0) {
        this.lastRc[i] = (kvm.mmu.revGuestR[i * 2 + 1] | kvm.mmu.hpt[i * 4 + 3]) & RC;
      }
    }
    return this;
  }

  private fail(x: Violation): void {
    if (this.violation === null) this.violation = x;
  }

  opBegin(kvm: Kvm, nr: number, regs: Uint32Array | null): void {
    this.ops++;
    this.op = nr;
    if (regs !== null) this.inRegs.set(regs);
    else this.inRegs.fill(0);
    this.pending.length = 0;
    this.untouchable = -1;
    if (nr < 0 && kvm.ops.memory === 'ram_pginfo') {
      this.fail(v('s1_no_notifier', 'an MMU-notifier callback reached a seed-1 (3.3) VM, which has no notifier', { op: nr }));
    }
    // J12 (pinned mode): a digest of the HPT/rmap before and after a notifier op. It walks the whole
    // HPT, so long runs may sample it (digestEvery); the ops between samples are still checked by
    // the hpteWrite/tlbie observer paths.
    this.notifierOps += nr < 0 ? 1 : 0;
    this.notifierDigest =
      nr < 0 && !kvm.usingMmuNotifiers && this.digestNotifiers && this.notifierOps % this.digestEvery === 0 ? mmuStateDigest(kvm) : -1;
  }

  // J20: the fault path commits only on an unchanged snapshot, and otherwise leaves the HPTE alone.
  faultCommit(kvm: Kvm, index: number, snap: Uint32Array, committed: boolean): void {
    if (!committed) {
      this.untouchable = index;
      return;
    }
    const p = index * 4;
    const same =
      kvm.mmu.hpt[p] === snap[0] &&
      ((kvm.mmu.hpt[p + 1] & ~HPTE_V_HVLOCK_LO) >>> 0) === snap[1] &&
      kvm.mmu.hpt[p + 2] === snap[2] &&
      kvm.mmu.hpt[p + 3] === snap[3] &&
      kvm.mmu.revGuestR[index * 2] === snap[4] &&
      kvm.mmu.revGuestR[index * 2 + 1] === snap[5];
    if (!same) this.fail(v('j20_fault_revalidate', 'page fault committed over a changed HPTE', { index }));
  }

  hpteWrite(kvm: Kvm, i: number, ov_hi: number, ov_lo: number, or_hi: number, or_lo: number): void {
    const p = i * 4;
    const nv_hi = kvm.mmu.hpt[p];
    const nv_lo = kvm.mmu.hpt[p + 1];
    const nr_hi = kvm.mmu.hpt[p + 2];
    const nr_lo = kvm.mmu.hpt[p + 3];
    // J12: in pinned mode a notifier callback (op < 0) never writes an HPTE.
    if (this.op < 0 && !kvm.usingMmuNotifiers) this.fail(v('j12_pinned', 'HPTE written by an MMU-notifier callback in pinned mode', { index: i, op: this.op }));
    if (i === this.untouchable) {
      this.fail(v('j20_fault_revalidate', 'page fault wrote an HPTE after deciding not to commit', { index: i }));
    }
    // S1_NO_ABSENT: seed 1 never writes an ABSENT HPTE, on any path.
    if (kvm.ops.memory === 'ram_pginfo' && (nv_lo & HPTE_V_ABSENT_LO) !== 0) {
      this.fail(v('s1_no_absent', 'ABSENT HPTE written in a seed-1 (3.3) VM', { index: i, v: hex64(nv_hi, nv_lo), op: this.op }));
    }
    // J12: in pinned mode notifier callbacks write no HPTE, and H_ENTER never writes ABSENT.
    if (!kvm.usingMmuNotifiers) {
      if (this.op < 0) this.fail(v('j12_pinned', 'notifier callback wrote an HPTE in pinned mode', { index: i, op: this.op }));
      if (this.op === H_ENTER && (nv_lo & HPTE_V_ABSENT_LO) !== 0) {
        this.fail(v('j12_pinned', 'H_ENTER created an ABSENT HPTE in pinned mode', { index: i, v: hex64(nv_hi, nv_lo) }));
      }
    }
    // J17: a VALID entry that changes needs a tlbie of its old translation; one that is rewritten
    // unchanged may get one (K34 H_PROTECT and the clear-mod path invalidate regardless).
    if ((ov_lo & HPTE_V_VALID_LO) !== 0) {
      compute_tlbie_rb(ov_hi, ov_lo, or_lo, i, kvm.arch206, this.t, 0);
      const changed = nv_hi !== ov_hi || nv_lo !== ov_lo || nr_hi !== or_hi || nr_lo !== or_lo;
      this.pending.push(i, this.t[0], this.t[1], changed ? 1 : 0);
    }
    // J21: H_ENTER only writes slots that had neither VALID nor ABSENT.
    if (this.op === H_ENTER && (ov_lo & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) !== 0) {
      this.fail(v('j21_h_enter_placement', 'H_ENTER overwrote an in-use slot', { index: i, old_v: hex64(ov_hi, ov_lo) }));
    }
    // J14: guest-visible R/C of a live entry never drops, except by H_CLEAR_REF/H_CLEAR_MOD.
    const liveBefore = (ov_lo & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) !== 0;
    const liveAfter = (nv_lo & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) !== 0;
    const rcNow = (kvm.mmu.revGuestR[i * 2 + 1] | nr_lo) & RC;
    if (liveBefore && liveAfter && this.op !== H_CLEAR_REF && this.op !== H_CLEAR_MOD && this.op !== H_ENTER) {
      const before = this.lastRc[i];
      if ((rcNow & before) !== before) {
        this.fail(v('j14_rc_monotonic', 'guest-visible R/C dropped', { index: i, before: hex(before), after: hex(rcNow), op: this.op }));
      }
    }
    this.lastRc[i] = liveAfter ? rcNow : 0;
  }

  tlbie(kvm: Kvm, rb_hi: number, rb_lo: number, _local: boolean): void {
    const pd = this.pending;
    for (let k = 0; k < pd.length; k += 4) {
      if (pd[k + 1] === rb_hi && pd[k + 2] === rb_lo) {
        pd.splice(k, 4);
        return;
      }
    }
    this.fail(v('j17_tlbie', 'tlbie without a preceding write of a VALID HPTE with that RB', { rb: hex64(rb_hi, rb_lo), lpid: kvm.lpid }));
  }

  opEnd(kvm: Kvm, nr: number, ret: number, regs: Uint32Array | null): void {
    if (this.notifierDigest !== -1) {
      if (mmuStateDigest(kvm) !== this.notifierDigest) {
        this.fail(v('j12_pinned', 'notifier callback changed HPT/revmap/rmap state in pinned mode', { op: nr }));
      }
      this.notifierDigest = -1;
    }
    const pd = this.pending;
    for (let k = 0; k < pd.length; k += 4) {
      if (pd[k + 3] === 1) {
        this.fail(v('j17_tlbie', 'VALID HPTE changed without a tlbie', { index: pd[k], rb: hex64(pd[k + 1], pd[k + 2]), op: nr }));
        break;
      }
    }
    pd.length = 0;
    if (regs === null) return;
    const inr = this.inRegs;
    if (kvm.ops.memory === 'ram_pginfo') {
      this.checkSeed1(kvm, nr, ret, inr, regs);
      return;
    }
    if (nr === H_ENTER) this.checkEnter(kvm, ret, inr, regs);
    else if (nr === H_REMOVE && ret === H_SUCCESS) this.checkRemove(kvm, inr, regs);
    else if (nr === H_READ && ret === H_SUCCESS) this.checkRead(kvm, inr, regs);
  }

  // Seed 1: J21 (placement), J22 and S1_GUEST_VIEW (H_REMOVE / H_READ return hardware words).
  private checkSeed1(kvm: Kvm, nr: number, ret: number, inr: Uint32Array, regs: Uint32Array): void {
    if (nr === H_ENTER) {
      this.checkEnter(kvm, ret, inr, regs, false);
      return;
    }
    if (ret !== H_SUCCESS) return;
    if (nr === H_REMOVE) {
      const i = inr[3];
      const p = i * 4;
      if (kvm.mmu.hpt[p] !== 0 || kvm.mmu.hpt[p + 1] !== 0) {
        this.fail(v('j22_h_remove_effect', 'dword 0 not zero after H_REMOVE', { index: i }));
      } else if ((regs[1] & HPTE_V_VALID_LO) === 0) {
        this.fail(v('s1_guest_view', 'seed-1 H_REMOVE removed an entry that was not VALID', { index: i }));
      } else if (regs[2] !== kvm.mmu.hpt[p + 2] || regs[3] !== kvm.mmu.hpt[p + 3]) {
        this.fail(v('s1_guest_view', 'seed-1 H_REMOVE r5 is not the hardware dword 1', { index: i, r5: hex64(regs[2], regs[3]) }));
      }
      return;
    }
    if (nr === H_READ) {
      let idx = inr[3];
      let n = 1;
      if ((inr[0] & H_READ_4_HI) !== 0) {
        idx &= ~3;
        n = 4;
      }
      const xlate = (inr[0] & H_R_XLATE_HI) !== 0;
      for (let k = 0; k < n; k++, idx++) {
        const p = idx * 4;
        const h = kvm.mmu.hpt;
        const vOk = regs[k * 4] === h[p] && regs[k * 4 + 1] === h[p + 1];
        const rawR = regs[k * 4 + 2] === h[p + 2] && regs[k * 4 + 3] === h[p + 3];
        const xl = xlate && (h[p + 1] & HPTE_V_VALID_LO) !== 0;
        const nonRpnOk = ((regs[k * 4 + 2] ^ h[p + 2]) & ~HPTE_R_RPN_HI) === 0 && ((regs[k * 4 + 3] ^ h[p + 3]) & ~HPTE_R_RPN_LO) === 0;
        if (!vOk || (xl ? !nonRpnOk : !rawR)) {
          this.fail(v('s1_guest_view', 'seed-1 H_READ did not return the hardware words', { index: idx, xlate }));
          return;
        }
      }
    }
  }

  // J16, J21
  private checkEnter(kvm: Kvm, ret: number, inr: Uint32Array, regs: Uint32Array, rmapRc = true): void {
    const req = inr[3];
    const exact = (inr[0] & H_EXACT_HI) !== 0;
    if (ret === H_SUCCESS) {
      const idx = regs[1];
      if (regs[0] !== 0 || (exact ? idx !== req : idx < (req & ~7) || idx > (req & ~7) + 7)) {
        this.fail(v('j21_h_enter_placement', 'H_ENTER returned an index outside its PTEG / not the exact one', { requested: req, got: idx, exact }));
        return;
      }
      const p = idx * 4;
      if (rmapRc && (kvm.mmu.hpt[p + 1] & HPTE_V_VALID_LO) !== 0) {
        const gfn = guestGfn(kvm, idx);
        const s = kvm.valid_memslot(gfn);
        if (s !== null) {
          const rmapRc = s.rmap[(gfn - s.base_gfn) * 2] & RC;
          const hwRc = kvm.mmu.hpt[p + 3] & RC;
          if ((hwRc & rmapRc) !== hwRc) {
            this.fail(v('j16_rc_insert', 'H_ENTER set hardware R/C the rmap word does not have', { index: idx, hw: hex(hwRc), rmap: hex(rmapRc) }));
          }
        }
      }
    } else if (ret === H_PTEG_FULL) {
      const first = exact ? req : req & ~7;
      const n = exact ? 1 : 8;
      for (let k = 0; k < n; k++) {
        if ((kvm.mmu.hpt[(first + k) * 4 + 1] & (HPTE_V_VALID_LO | HPTE_V_ABSENT_LO)) === 0) {
          this.fail(v('j21_h_enter_placement', 'H_PTEG_FULL with a free slot', { index: first + k }));
          return;
        }
      }
    }
  }

  // J7, J22
  private checkRemove(kvm: Kvm, inr: Uint32Array, regs: Uint32Array): void {
    const i = inr[3];
    const p = i * 4;
    if (kvm.mmu.hpt[p] !== 0 || kvm.mmu.hpt[p + 1] !== 0) {
      this.fail(v('j22_h_remove_effect', 'dword 0 not zero after H_REMOVE', { index: i }));
      return;
    }
    if (regs[2] !== kvm.mmu.revGuestR[i * 2] || regs[3] !== kvm.mmu.revGuestR[i * 2 + 1]) {
      this.fail(v('j7_guest_view', 'H_REMOVE r5 is not the guest view', { index: i, r5: hex64(regs[2], regs[3]) }));
      return;
    }
    // Not on the chain of its page (use the returned old v for the page size).
    const gr_lo = kvm.mmu.revGuestR[i * 2 + 1];
    const psize = hpte_page_size(regs[1], gr_lo, kvm.arch206);
    if (psize === 0) return;
    const gfn = hpte_rpn(kvm.mmu.revGuestR[i * 2], gr_lo, psize, kvm.pageShift);
    const s = kvm.gfn_to_memslot(gfn);
    if (s !== null && inChain(kvm, s, gfn - s.base_gfn, i)) {
      this.fail(v('j22_h_remove_effect', 'removed HPTE still on its chain', { index: i, gfn }));
    }
  }

  // J7
  private checkRead(kvm: Kvm, inr: Uint32Array, regs: Uint32Array): void {
    let idx = inr[3];
    let n = 1;
    if ((inr[0] & H_READ_4_HI) !== 0) {
      idx &= ~3;
      n = 4;
    }
    for (let k = 0; k < n; k++, idx++) {
      const ov_lo = regs[k * 4 + 1];
      if ((ov_lo & HPTE_V_ABSENT_LO) !== 0) {
        this.fail(v('j7_guest_view', 'H_READ reported ABSENT', { index: idx }));
        return;
      }
      if ((ov_lo & HPTE_V_VALID_LO) === 0) continue;
      const gr_hi = kvm.mmu.revGuestR[idx * 2];
      const gr_lo = kvm.mmu.revGuestR[idx * 2 + 1];
      if (regs[k * 4 + 2] !== gr_hi || ((regs[k * 4 + 3] & ~RC) >>> 0) !== ((gr_lo & ~RC) >>> 0)) {
        this.fail(v('j7_guest_view', 'H_READ dword 1 is not the guest view', { index: idx, r: hex64(regs[k * 4 + 2], regs[k * 4 + 3]) }));
        return;
      }
    }
  }
}

/** 31-bit digest of the HPT, the revmap (guest_rpte, forw, back) and every rmap word (J12). */
export function mmuStateDigest(kvm: Kvm): number {
  let h = 0x811c9dc5;
  const mix = (a: Uint32Array): void => {
    for (let k = 0; k < a.length; k++) h = Math.imul(h ^ a[k], 0x01000193);
  };
  mix(kvm.mmu.hpt);
  mix(kvm.mmu.revGuestR);
  mix(kvm.mmu.revForw);
  mix(kvm.mmu.revBack);
  for (const s of kvm.memslots) mix(s.rmap);
  return (h >>> 1) & 0x7fffffff;
}

/**
 * J24 across VMs of one host: LPIDs distinct, none the host's (0) or reserved (0x3ff; 63 on
 * PPC970), PPC970 ones ≤ 62. Returns the first violation or null.
 */
export function checkLpids(kvms: readonly Kvm[]): Violation | null {
  const seen = new Map<number, number>();
  for (const k of kvms) {
    if (k.destroyed) continue;
    const max = k.arch206 ? LPID_RSVD - 1 : MAX_LPID_970 - 1;
    if (k.lpid === 0 || k.lpid > max) return v('j24_lpid', `LPID ${k.lpid} outside 1..${max}`, { vm: k.vmId, lpid: k.lpid, cpu: k.cpu });
    const other = seen.get(k.lpid);
    if (other !== undefined) return v('j24_lpid', `LPID ${k.lpid} used by two live VMs`, { vm: k.vmId, other });
    seen.set(k.lpid, k.vmId);
  }
  return null;
}

/**
 * All implemented invariants at a quiescent point: the audit's first operation violation (if an
 * audit is attached), then the state invariants.
 */
export function checkInvariants(kvm: Kvm, audit?: HvAudit | null, checker?: KvmInvariantChecker): Violation | null {
  if (audit && audit.violation !== null) return audit.violation;
  return (checker ?? new KvmInvariantChecker(kvm)).check();
}

