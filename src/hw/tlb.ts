// A per-core TLB tagged by LPID, and the checks that make it a witness of KVM's tlbie discipline.
//
// Geometry: POWER7 congruence classes = 128 sets (kernel-model §G.2: the entry flush is 128 tlbiel
// with RB = 0x800 + k·0x1000), 4 ways each, round-robin replacement per set (deterministic).
// Set index = the low 7 bits of the virtual page number, VA >> pshift. The same index is derived
// from a tlbie RB: compute_tlbie_rb puts VA bits 12.. (4K), 16.. (64K, LP 0x1000 set) or 24..
// (16M, L set and no LP) at the same bit positions of RB (kernel-model §A.4 tlbie steps 1–4), so
// tlbie(RB) needs to look at one set only. An IS = 0b10 tlbiel with RB = 0x800 + k·0x1000 flushes
// set k of the issuing LPID; 128 of them flush the LPID.
//
// Invalidation by RB matches entries whose *stored* RB (compute_tlbie_rb of the HPTE that filled
// the entry) equals the operand: KVM always computes the operand from the same HPTE, and two HPTEs
// for the same virtual page and page size give the same RB (va_low undoes the primary/secondary
// hash), so this is the architectural "same VA, same page size" match in this model.
//
// Freshness. Each entry remembers the HPTE index and its (v, r) at fill time. On every hit the MMU
// calls tlb_entry_stale(): if the HPTE is no longer VALID, or its dword 0 / dword 1 (ignoring the
// R/C bits the hardware itself maintains) differs from the filled values, the entry is a
// translation whose HPTE changed without a tlbie reaching this core — the error §J 17/26 forbid.
// It is counted in `stale_tlb`, dropped, and the access re-walks the HPT (one bug, one count).

import { HPTE_R_C_LO, HPTE_R_R_LO, HPTE_V_HVLOCK_LO, HPTE_V_VALID_LO } from '../arch/index.js';
import { A } from '../trace/anomalies.js';

/** POWER7 TLB congruence classes (kernel-model §G.2). */
export const TLB_SETS_POWER7 = 128;
/** Ways per set in this model. */
export const TLB_WAYS = 4;
/** Anomaly code recorded for a stale-TLB use (after kernel-model §J item 26, TLB freshness). */
export const ANOMALY_STALE_TLB = A.j26_tlb_freshness;

const RC_LO = HPTE_R_R_LO | HPTE_R_C_LO;

/** Counters of one TLB (monotonic). */
export interface TlbCounters {
  hits: number;
  misses: number;
  fills: number;
  /** Entries removed by tlbie / tlbiel of one RB. */
  invalidated: number;
  /** Entries removed by set / LPID / full flushes. */
  flushed: number;
  /** Hits on an entry whose HPTE changed or went invalid without a tlbie: an error. */
  stale_tlb: number;
}

/**
 * Set index of a translation: low 7 bits of VA >> pshift, from the segment's VSID (low word of
 * slb_v) and EA. 256M: VA = VSID << 28 | (EA & 0x0fffffff); 1T: VA bits below 40 are EA's.
 */
export function tlb_set_of_va(slb_v_hi: number, slb_v_lo: number, ea_lo: number, pshift: number, sets: number): number {
  let vpn: number;
  if (pshift >= 32) return 0;
  if ((slb_v_hi & 0x40000000) !== 0) {
    vpn = ea_lo >>> pshift;
  } else {
    const off = ea_lo & 0x0fffffff;
    const vsid_lo = slb_v_lo >>> 12;
    vpn = (off >>> pshift) | (pshift <= 28 ? vsid_lo << (28 - pshift) : vsid_lo >>> (pshift - 28));
  }
  return vpn & (sets - 1);
}

/** Set index named by a tlbie RB (page size from its L bit and LP 0x1000). */
export function tlb_set_of_rb(rb_lo: number, sets: number): number {
  let shift = 12;
  if ((rb_lo & 1) !== 0) shift = (rb_lo & 0x1000) !== 0 ? 16 : 24;
  return (rb_lo >>> shift) & (sets - 1);
}

/** One core's TLB. All storage is preallocated typed arrays; no method allocates. */
export class Tlb {
  readonly core: number;
  readonly sets: number;
  readonly ways: number;
  readonly counters: TlbCounters = { hits: 0, misses: 0, fills: 0, invalidated: 0, flushed: 0, stale_tlb: 0 };

  readonly valid: Uint8Array;
  readonly lpid: Int32Array;
  /** Segment tag: slb_v with its flag bits (low 12) cleared: B | VSID. */
  readonly segHi: Uint32Array;
  readonly segLo: Uint32Array;
  /** Page number within the segment: (EA & segment mask) >> pshift. */
  readonly epn: Uint32Array;
  readonly pshift: Uint8Array;
  /** HPTE the entry was filled from, and its words then (r is kept up to date for R/C). */
  readonly index: Int32Array;
  readonly hv: Uint32Array;
  readonly hr: Uint32Array;
  /** compute_tlbie_rb of that HPTE. */
  readonly rb: Uint32Array;
  private readonly next: Uint8Array;

  constructor(core: number, sets = TLB_SETS_POWER7, ways = TLB_WAYS) {
    if (sets <= 0 || (sets & (sets - 1)) !== 0) throw new RangeError('TLB sets must be a power of two');
    this.core = core;
    this.sets = sets;
    this.ways = ways;
    const n = sets * ways;
    this.valid = new Uint8Array(n);
    this.lpid = new Int32Array(n);
    this.segHi = new Uint32Array(n);
    this.segLo = new Uint32Array(n);
    this.epn = new Uint32Array(n);
    this.pshift = new Uint8Array(n);
    this.index = new Int32Array(n);
    this.hv = new Uint32Array(n * 2);
    this.hr = new Uint32Array(n * 2);
    this.rb = new Uint32Array(n * 2);
    this.next = new Uint8Array(sets);
  }

  /** Entry slot (set * ways + way) holding (lpid, segment, epn, pshift), or -1. Counts hit/miss. */
  lookup(lpid: number, set: number, seg_hi: number, seg_lo: number, epn: number, pshift: number): number {
    const base = set * this.ways;
    for (let w = 0; w < this.ways; w++) {
      const e = base + w;
      if (
        this.valid[e] !== 0 &&
        this.lpid[e] === lpid &&
        this.epn[e] === epn &&
        this.pshift[e] === pshift &&
        this.segLo[e] === seg_lo &&
        this.segHi[e] === seg_hi
      ) {
        this.counters.hits++;
        return e;
      }
    }
    this.counters.misses++;
    return -1;
  }

  /** Install a translation (replacing round-robin within the set). Returns the entry slot. */
  fill(
    lpid: number,
    set: number,
    seg_hi: number,
    seg_lo: number,
    epn: number,
    pshift: number,
    index: number,
    v_hi: number,
    v_lo: number,
    r_hi: number,
    r_lo: number,
    rb_hi: number,
    rb_lo: number,
  ): number {
    const base = set * this.ways;
    // Re-use an entry with the same tag, else an invalid one, else round-robin.
    let e = -1;
    for (let w = 0; w < this.ways; w++) {
      const x = base + w;
      if (this.valid[x] !== 0 && this.lpid[x] === lpid && this.epn[x] === epn && this.pshift[x] === pshift && this.segLo[x] === seg_lo && this.segHi[x] === seg_hi) {
        e = x;
        break;
      }
    }
    if (e < 0) {
      for (let w = 0; w < this.ways; w++) {
        if (this.valid[base + w] === 0) {
          e = base + w;
          break;
        }
      }
    }
    if (e < 0) {
      e = base + this.next[set];
      this.next[set] = (this.next[set] + 1) % this.ways;
    }
    this.valid[e] = 1;
    this.lpid[e] = lpid;
    this.segHi[e] = seg_hi >>> 0;
    this.segLo[e] = seg_lo >>> 0;
    this.epn[e] = epn >>> 0;
    this.pshift[e] = pshift;
    this.index[e] = index;
    this.hv[e * 2] = v_hi >>> 0;
    this.hv[e * 2 + 1] = v_lo >>> 0;
    this.hr[e * 2] = r_hi >>> 0;
    this.hr[e * 2 + 1] = r_lo >>> 0;
    this.rb[e * 2] = rb_hi >>> 0;
    this.rb[e * 2 + 1] = rb_lo >>> 0;
    this.counters.fills++;
    return e;
  }

  /** tlbie / tlbiel of one RB for `lpid`: drop the matching entries. Returns how many. */
  // Mirrors the effect of tlbie/tlbiel with IS = 0 (PowerISA 2.06 Book III-S §5.9.3.3)
  tlbie(lpid: number, rb_hi: number, rb_lo: number): number {
    const base = tlb_set_of_rb(rb_lo, this.sets) * this.ways;
    let n = 0;
    for (let w = 0; w < this.ways; w++) {
      const e = base + w;
      if (this.valid[e] !== 0 && this.lpid[e] === lpid && this.rb[e * 2] === rb_hi >>> 0 && this.rb[e * 2 + 1] === rb_lo >>> 0) {
        this.valid[e] = 0;
        n++;
      }
    }
    this.counters.invalidated += n;
    return n;
  }

  /** tlbiel IS = 0b10 (RB = 0x800 + set·0x1000): every entry of `lpid` in one set. */
  tlbiel_set(lpid: number, set: number): number {
    const base = (set & (this.sets - 1)) * this.ways;
    let n = 0;
    for (let w = 0; w < this.ways; w++) {
      const e = base + w;
      if (this.valid[e] !== 0 && this.lpid[e] === lpid) {
        this.valid[e] = 0;
        n++;
      }
    }
    this.counters.flushed += n;
    return n;
  }

  /** The K34 entry flush: tlbiel IS = 0b10 over all sets (kernel-model §G.2 entry step 5). */
  flush_lpid(lpid: number): number {
    let n = 0;
    for (let s = 0; s < this.sets; s++) n += this.tlbiel_set(lpid, s);
    return n;
  }

  /** Untagged full flush (PPC970 style; tlbiel IS = 0b11). */
  flush_all(): number {
    let n = 0;
    for (let e = 0; e < this.valid.length; e++) {
      if (this.valid[e] !== 0) {
        this.valid[e] = 0;
        n++;
      }
    }
    this.counters.flushed += n;
    return n;
  }

  /** Valid entries of `lpid` (tests, summaries). */
  count(lpid: number): number {
    let n = 0;
    for (let e = 0; e < this.valid.length; e++) if (this.valid[e] !== 0 && this.lpid[e] === lpid) n++;
    return n;
  }
}

/**
 * Is TLB entry `e` stale against the HPT? True when its HPTE is no longer VALID, or dword 0 (minus
 * HVLOCK) or dword 1 (minus R/C) differ from the values the entry was filled with.
 */
export function tlb_entry_stale(tlb: Tlb, e: number, hpt: Uint32Array): boolean {
  const p = tlb.index[e] * 4;
  const v_lo = hpt[p + 1];
  if ((v_lo & HPTE_V_VALID_LO) === 0) return true;
  if (hpt[p] !== tlb.hv[e * 2] || ((v_lo ^ tlb.hv[e * 2 + 1]) & ~HPTE_V_HVLOCK_LO) !== 0) return true;
  if (hpt[p + 2] !== tlb.hr[e * 2] || ((hpt[p + 3] ^ tlb.hr[e * 2 + 1]) & ~RC_LO) !== 0) return true;
  return false;
}

/**
 * The hardware port through which a hypervisor's TLB invalidations reach the TLBs: KVM is given
 * one at VM creation (KvmOptions.tlb) and every tlbie it models goes through it, whatever checker
 * is or is not attached. Owned by hw/ so that kvm/ depends on the hardware, not the other way.
 */
export interface TlbPort {
  /**
   * tlbie (global: every core) or tlbiel (local: core `core` only; core -1 = unknown, applied to
   * every core) of one RB on `lpid`.
   */
  tlbie(lpid: number, core: number, rb_hi: number, rb_lo: number, local: boolean): void;
  /** tlbiel IS = 0b10 over every set of `core` for `lpid` (the POWER7 entry flush). */
  flushLpid(core: number, lpid: number): void;
  /** Untagged full flush of `core` (PPC970 partition switch). */
  flushAll(core: number): void;
}

/** A TlbPort for a VM without a hardware TLB model (KVM unit tests): every call does nothing. */
export const NO_TLB: TlbPort = Object.freeze({
  tlbie(): void {},
  flushLpid(): void {},
  flushAll(): void {},
});

/**
 * The machine's TlbPort: global tlbie → every core; local tlbiel → the issuing core. A local
 * tlbie without a core is applied to every core (conservative) and counted in `unplacedLocal`.
 * `tlbs` may be filled after construction (the machine sizes the TLBs from the VM's CPU).
 */
export class TlbShootdown implements TlbPort {
  readonly tlbs: readonly Tlb[];
  unplacedLocal = 0;
  constructor(tlbs: readonly Tlb[]) {
    this.tlbs = tlbs;
  }

  // Mirrors the broadcast (tlbie) vs. local (tlbiel) scope of the POWER7 TLB invalidations
  tlbie(lpid: number, core: number, rb_hi: number, rb_lo: number, local: boolean): void {
    const tlbs = this.tlbs;
    if (local) {
      if (core >= 0 && core < tlbs.length) {
        tlbs[core].tlbie(lpid, rb_hi, rb_lo);
        return;
      }
      this.unplacedLocal++;
    }
    for (let k = 0; k < tlbs.length; k++) tlbs[k].tlbie(lpid, rb_hi, rb_lo);
  }

  flushLpid(core: number, lpid: number): void {
    this.tlbs[core].flush_lpid(lpid);
  }

  flushAll(core: number): void {
    this.tlbs[core].flush_all();
  }

  /** Sum of the stale_tlb counters of every core. */
  get stale_tlb(): number {
    let n = 0;
    for (const t of this.tlbs) n += t.counters.stale_tlb;
    return n;
  }
}
