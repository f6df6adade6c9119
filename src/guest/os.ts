// A paravirtualised guest OS, modelled on a Linux 3.4 pSeries guest: processes with their own
// address spaces (VSIDs from context ids via vsid_scramble), Linux-style page tables, demand paging
// of guest RAM, and hash-table management only through hcalls (arch/powerpc/platforms/pseries/
// lpar.c): H_ENTER into the primary group, then the secondary, then evict a random non-bolted slot
// with H_REMOVE(H_ANDCOND BOLTED) and retry (hash_low_64.S); invalidation with H_REMOVE(H_AVPN),
// munmap/exit through H_BULK_REMOVE(AVPN) in batches of four, mprotect through H_PROTECT(H_AVPN).
//
// The guest sees the machine only through GuestPort: what a real guest sees (hcall results, the
// interrupts it takes). Simplifications: 256 MiB segments and 4 KiB pages only; no COW (fork
// gives the child fresh pages on first touch).

import { H_ANDCOND_LO, H_AVPN_LO, H_BULK_REMOVE, H_ENTER, H_PROTECT, H_PTEG_FULL, H_REMOVE, H_SUCCESS } from '../arch/hcall.js';
import { hpt_hash, MMU_SEGSIZE_256M } from '../arch/hash.js';
import { HPTE_R_C_LO, HPTE_R_G_LO, HPTE_R_I_LO, HPTE_R_M_LO, HPTE_R_R_LO, HPTE_V_BOLTED_LO, HPTE_V_SECONDARY_LO, HPTE_V_VALID_LO, PP_RWRW_LO, PP_RXRX_LO } from '../arch/hpte.js';
import { DSISR_NOHPTE, DSISR_PROTFAULT } from '../arch/reg.js';
import type { Prng } from '../base/prng.js';

/** What the guest can do to / learn from the machine. EAs are (hi, lo) halves. */
export interface GuestPort {
  /** `sc 1`: r3 = nr, r4..r11 in regs (hi, lo pairs), outputs in place. Returns r3. */
  hcall(vcpu: number, nr: number, regs: Uint32Array, opId: number): number;
  slbmte(vcpu: number, rs_hi: number, rs_lo: number, rb_hi: number, rb_lo: number): void;
  slbia(vcpu: number): void;
  /** One access; returns ACCESS_* and, for a storage interrupt, the DSISR/SRR1 bits in `status`. */
  access(vcpu: number, ea_hi: number, ea_lo: number, kind: AccessKind, pr: boolean, opId: number): number;
  readonly status: number;
}

export type AccessKind = 0 | 1 | 2;
export const LOAD: AccessKind = 0;
export const STORE: AccessKind = 1;
export const IFETCH: AccessKind = 2;

/** The access completed. */
export const ACCESS_OK = 0;
/** The guest took a DSI/ISI (status = DSISR or SRR1 cause bits). */
export const ACCESS_STORAGE = 1;
/** The guest took a segment interrupt (no SLB entry). */
export const ACCESS_SEGMENT = 2;
/** The access could not complete (KVM_RUN failed or the fault never resolved). */
export const ACCESS_FAILED = 3;

// arch/powerpc/include/asm/mmu-hash64.h (Linux 3.4): VSID scrambling for 256M segments.
const VSID_MULTIPLIER_256M = 200730139n;
const VSID_MODULUS_256M = (1n << 36n) - 1n;
const USER_ESID_BITS = 16n;
// SLB_VSID_USER = Kp|Ks|C; SLB_VSID_KERNEL = Kp (Linux 3.4 mmu-hash64.h)
const SLB_VSID_USER_LO = 0x400 | 0x800 | 0x80;
const SLB_VSID_KERNEL_LO = 0x400;

/** vsid_scramble(protovsid, 256M) (mmu-hash64.h, Linux 3.4). */
export function vsid_scramble(protovsid: bigint): number {
  return Number((protovsid * VSID_MULTIPLIER_256M) % VSID_MODULUS_256M);
}

/** get_vsid(context, ea, 256M) for a user EA (mmu-hash64.h, Linux 3.4). */
export function user_vsid(context: number, esid: number): number {
  return vsid_scramble((BigInt(context) << USER_ESID_BITS) | BigInt(esid));
}

/** get_kernel_vsid(ea, 256M): protovsid = ea >> SID_SHIFT (mmu-hash64.h, Linux 3.4). */
export function kernel_vsid(ea_hi: number, ea_lo: number): number {
  return vsid_scramble((BigInt(ea_hi) << 4n) | BigInt(ea_lo >>> 28));
}

/**
 * hpte_encode_avpn for a 4K page in a 256M segment: (VA >> 23) << 7 with VA = VSID << 28 | EA
 * offset, i.e. VSID << 12 | ((EA >> 23) & 0x1f) << 7 (B = 00). A number: VSIDs are ≤ 36 bits.
 */
// Mirrors hpte_encode_avpn() (arch/powerpc/platforms/pseries/lpar.c, Linux 3.4)
export function hpte_avpn(vsid: number, ea_lo: number): number {
  return vsid * 4096 + (((ea_lo >>> 23) & 0x1f) << 7);
}

/** A Linux PTE of the model: guest frame, protection and where its HPTE was put (hidx). */
export interface GuestPte {
  gfn: number;
  writable: boolean;
  io: boolean;
  /** HPTE index last inserted for this page (-1: not hashed). */
  slot: number;
}

export class Process {
  readonly ptes = new Map<number, GuestPte>();
  constructor(
    readonly pid: number,
    readonly context: number,
  ) {}
}

export interface GuestOsOptions {
  /** Guest frames available to the OS (from the memslots), excluding kernel-reserved ones. */
  firstFreeGfn: number;
  frames: number;
  hashMask: number;
  /** Kernel linear-mapping pages bolted at boot. */
  boltedPages: number;
  /** gpa of the emulated device (outside RAM), for the MMIO driver. */
  mmioGpa: number;
}

export interface GuestCounters {
  pageFaults: number;
  hashInserts: number;
  hashEvictions: number;
  hashMisses: number;
  invalidations: number;
  bulkRemoveCalls: number;
  protectCalls: number;
  segmentMisses: number;
  hcallFailures: number;
}

const KERNEL_EA_HI = 0xc0000000;
/** PP_RWXX (0): supervisor read/write, no user access (kernel linear mapping). */
const PP_RWXX = 0;

export class GuestOs {
  readonly procs = new Map<number, Process>();
  readonly counters: GuestCounters = { pageFaults: 0, hashInserts: 0, hashEvictions: 0, hashMisses: 0, invalidations: 0, bulkRemoveCalls: 0, protectCalls: 0, segmentMisses: 0, hcallFailures: 0 };
  /** Current process per vcpu (-1 none). */
  private readonly current: number[] = [];
  private readonly freeFrames: number[] = [];
  private nextContext = 1;
  private nextPid = 1;
  private readonly regs = new Uint32Array(16);
  /** Kernel linear-mapping HPTE slots (bolted). */
  readonly boltedSlots: number[] = [];
  /** Per-vcpu SLB slot round robin (slot 0 is the kernel segment). */
  private readonly slbNext: number[] = [];
  opId = 0;

  constructor(
    readonly port: GuestPort,
    readonly rng: Prng,
    readonly opts: GuestOsOptions,
    readonly vcpus: number,
  ) {
    // The buddy allocator does not hand out frames in address order: shuffle them (seeded).
    for (let g = opts.firstFreeGfn + opts.frames - 1; g >= opts.firstFreeGfn; g--) this.freeFrames.push(g);
    for (let i = this.freeFrames.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = this.freeFrames[i];
      this.freeFrames[i] = this.freeFrames[j];
      this.freeFrames[j] = t;
    }
    for (let v = 0; v < vcpus; v++) {
      this.current.push(-1);
      this.slbNext.push(1);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Boot: kernel SLB entry on every vcpu and the bolted linear mapping (htab_bolt_mapping).
  // -------------------------------------------------------------------------------------------
  boot(): void {
    for (let v = 0; v < this.vcpus; v++) this.loadKernelSlb(v);
    for (let p = 0; p < this.opts.boltedPages; p++) {
      // Linear mapping: EA 0xc000000000000000 + gpa, 4K pages, PP_RWXX, bolted, primary group.
      const ea_lo = p * 4096;
      const vsid = kernel_vsid(KERNEL_EA_HI, ea_lo);
      const slot = this.hpteInsert(0, vsid, KERNEL_EA_HI, ea_lo, p, PP_RWXX, false, true);
      this.boltedSlots.push(slot);
    }
  }

  private loadKernelSlb(v: number): void {
    const vsid = kernel_vsid(KERNEL_EA_HI, 0);
    const rs = vsid * 4096 + SLB_VSID_KERNEL_LO;
    // RB = ESID | V | slot 0
    this.port.slbmte(v, Math.floor(rs / 2 ** 32) >>> 0, rs >>> 0, KERNEL_EA_HI, 0x08000000);
  }

  // -------------------------------------------------------------------------------------------
  // Processes
  // -------------------------------------------------------------------------------------------
  spawn(): Process {
    const p = new Process(this.nextPid++, this.nextContext++);
    this.procs.set(p.pid, p);
    return p;
  }

  /** switch_mm + switch_slb: flush the user SLB entries (slbia keeps slot 0 in Linux; we reload it). */
  switchTo(vcpu: number, pid: number): void {
    if (this.current[vcpu] === pid) return;
    this.current[vcpu] = pid;
    this.port.slbia(vcpu);
    this.loadKernelSlb(vcpu);
    this.slbNext[vcpu] = 1;
  }

  /** exit_mmap: unmap everything, then forget the process. */
  exit(pid: number): void {
    const p = this.procs.get(pid);
    if (!p) return;
    this.munmap(pid, 0, Number.MAX_SAFE_INTEGER);
    this.procs.delete(pid);
    for (let v = 0; v < this.vcpus; v++) if (this.current[v] === pid) this.current[v] = -1;
  }

  // -------------------------------------------------------------------------------------------
  // User memory access with the guest's fault handling (do_page_fault + hash_page).
  // -------------------------------------------------------------------------------------------

  /** Touch user EA (< 2^32 here) of process pid on vcpu; returns false if the guest gave up. */
  touch(vcpu: number, pid: number, ea: number, kind: AccessKind): boolean {
    this.switchTo(vcpu, pid);
    const p = this.procs.get(pid)!;
    for (let attempt = 0; attempt < 8; attempt++) {
      const r = this.port.access(vcpu, 0, ea >>> 0, kind, true, this.opId);
      if (r === ACCESS_OK) return true;
      if (r === ACCESS_FAILED) return false;
      if (r === ACCESS_SEGMENT) {
        this.counters.segmentMisses++;
        this.loadUserSlb(vcpu, p, ea);
        continue;
      }
      // Storage interrupt: do_page_fault → hash_page.
      const status = this.port.status;
      const epn = Math.floor(ea / 4096);
      let pte = p.ptes.get(epn);
      if (pte === undefined) {
        // Demand-zero page (every user address is a valid anonymous mapping in this model).
        this.counters.pageFaults++;
        const gfn = this.allocFrame();
        if (gfn < 0) return false;
        pte = { gfn, writable: true, io: false, slot: -1 };
        p.ptes.set(epn, pte);
      } else if (kind === STORE && !pte.writable) {
        return false; // SIGSEGV: store to a read-only mapping
      }
      if ((status & DSISR_NOHPTE) !== 0 || (status & DSISR_PROTFAULT) !== 0 || pte.slot < 0) {
        this.counters.hashMisses++;
        const vsid = user_vsid(p.context, Math.floor(ea / 2 ** 28));
        pte.slot = this.hpteInsert(vcpu, vsid, 0, ea >>> 0, pte.gfn, pte.writable ? PP_RWRW_LO : PP_RXRX_LO, pte.io, false);
        if (pte.slot < 0) return false;
      }
    }
    return false;
  }

  private loadUserSlb(vcpu: number, p: Process, ea: number): void {
    const esid = Math.floor(ea / 2 ** 28);
    const vsid = user_vsid(p.context, esid);
    const rs = vsid * 4096 + SLB_VSID_USER_LO;
    const slot = this.slbNext[vcpu];
    this.slbNext[vcpu] = slot + 1 >= 32 ? 1 : slot + 1;
    // RB = (esid << 28) | V | slot
    this.port.slbmte(vcpu, Math.floor(rs / 2 ** 32) >>> 0, rs >>> 0, Math.floor(esid / 16) >>> 0, (((esid & 0xf) << 28) | 0x08000000 | slot) >>> 0);
  }

  private allocFrame(): number {
    return this.freeFrames.length ? this.freeFrames.pop()! : -1;
  }

  /**
   * Insert an HPTE for (vsid, ea) → gfn: primary group, then secondary, then evict from a random
   * group and retry (hash_low_64.S __hash_page_4K, Linux 3.4). Returns the HPTE index or -1.
   */
  // Mirrors pSeries_lpar_hpte_insert() / pSeries_lpar_hpte_remove() (platforms/pseries/lpar.c, Linux 3.4)
  hpteInsert(vcpu: number, vsid: number, ea_hi: number, ea_lo: number, gfn: number, pp: number, io: boolean, bolted: boolean): number {
    const hash = hpt_hash(Math.floor(vsid / 2 ** 32) >>> 0, vsid >>> 0, ea_hi, ea_lo, 12, MMU_SEGSIZE_256M);
    const mask = this.opts.hashMask;
    const primary = hash % (mask + 1);
    const secondary = primary ^ mask;
    // hpte_encode_v: AVPN = (va >> 23) << 7 for 4K pages in a 256M segment.
    const v = hpte_avpn(vsid, ea_lo);
    const wimg = io ? HPTE_R_I_LO | HPTE_R_G_LO : HPTE_R_M_LO;
    const r = gfn * 4096 + HPTE_R_R_LO + HPTE_R_C_LO + wimg + pp;
    for (let round = 0; round < 4; round++) {
      for (const [group, sec] of [[primary, 0], [secondary, HPTE_V_SECONDARY_LO]] as const) {
        const regs = this.regs;
        regs.fill(0);
        regs[3] = group * 8;
        const vv = v + sec + (bolted ? HPTE_V_BOLTED_LO : 0) + HPTE_V_VALID_LO;
        regs[4] = Math.floor(vv / 2 ** 32) >>> 0;
        regs[5] = vv >>> 0;
        regs[6] = Math.floor(r / 2 ** 32) >>> 0;
        regs[7] = r >>> 0;
        const ret = this.port.hcall(vcpu, H_ENTER, regs, this.opId);
        if (ret === H_SUCCESS) {
          this.counters.hashInserts++;
          return regs[1];
        }
        if (ret !== H_PTEG_FULL) {
          this.counters.hcallFailures++;
          return -1;
        }
        if (bolted) break; // bolted entries only go in the primary group
      }
      if (bolted) return -1;
      // Both full: pick a random group (TB bit), remove a non-bolted entry from a random slot.
      const group = this.rng.below(2) === 0 ? primary : secondary;
      if (!this.hpteRemoveRandom(vcpu, group)) return -1;
    }
    return -1;
  }

  private hpteRemoveRandom(vcpu: number, group: number): boolean {
    let slot = this.rng.below(8);
    for (let i = 0; i < 8; i++) {
      const regs = this.regs;
      regs.fill(0);
      regs[1] = H_ANDCOND_LO;
      regs[3] = group * 8 + slot;
      regs[5] = HPTE_V_BOLTED_LO;
      const ret = this.port.hcall(vcpu, H_REMOVE, regs, this.opId);
      if (ret === H_SUCCESS) {
        this.counters.hashEvictions++;
        return true;
      }
      slot = (slot + 1) & 7;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // munmap / mprotect / MMIO
  // -------------------------------------------------------------------------------------------

  /** Unmap [start, end) of pid: flush_hash_range with H_BULK_REMOVE (AVPN), 4 entries a call. */
  // Mirrors pSeries_lpar_flush_hash_range() (platforms/pseries/lpar.c, Linux 3.4)
  munmap(pid: number, start: number, end: number): void {
    const p = this.procs.get(pid);
    if (!p) return;
    const regs = this.regs;
    let n = 0;
    const flush = (last: boolean) => {
      if (n === 0) return;
      if (n < 4 && last) {
        regs[n * 4] = 0xc0000000; // HBR_END
        regs[n * 4 + 1] = 0;
      }
      this.port.hcall(this.vcpuOf(pid), H_BULK_REMOVE, regs, this.opId);
      this.counters.bulkRemoveCalls++;
      regs.fill(0);
      n = 0;
    };
    regs.fill(0);
    const epns = [...p.ptes.keys()].filter((e) => e * 4096 >= start && e * 4096 < end).sort((a, b) => a - b);
    for (const epn of epns) {
      const pte = p.ptes.get(epn)!;
      if (pte.slot >= 0) {
        const vsid = user_vsid(p.context, Math.floor((epn * 4096) / 2 ** 28));
        const avpn = hpte_avpn(vsid, epn * 4096);
        // HBR_REQUEST | HBR_AVPN | slot, then the AVPN.
        regs[n * 4] = (0x40000000 | 0x02000000 | Math.floor(pte.slot / 2 ** 32)) >>> 0;
        regs[n * 4 + 1] = pte.slot >>> 0;
        regs[n * 4 + 2] = Math.floor(avpn / 2 ** 32) >>> 0;
        regs[n * 4 + 3] = avpn >>> 0;
        n++;
        this.counters.invalidations++;
        if (n === 4) flush(false);
      }
      p.ptes.delete(epn);
      if (!pte.io) this.freeFrames.push(pte.gfn);
    }
    flush(true);
  }

  /** mprotect(read-only or read-write): H_PROTECT(H_AVPN) on every hashed page of the range. */
  // Mirrors pSeries_lpar_hpte_updatepp() (platforms/pseries/lpar.c, Linux 3.4)
  mprotect(pid: number, start: number, end: number, writable: boolean): void {
    const p = this.procs.get(pid);
    if (!p) return;
    for (const [epn, pte] of p.ptes) {
      if (epn * 4096 < start || epn * 4096 >= end) continue;
      pte.writable = writable;
      if (pte.slot < 0) continue;
      const vsid = user_vsid(p.context, Math.floor((epn * 4096) / 2 ** 28));
      const avpn = hpte_avpn(vsid, epn * 4096);
      const regs = this.regs;
      regs.fill(0);
      regs[1] = (H_AVPN_LO | (writable ? PP_RWRW_LO : PP_RXRX_LO)) >>> 0;
      regs[3] = pte.slot >>> 0;
      regs[4] = Math.floor(avpn / 2 ** 32) >>> 0;
      regs[5] = avpn >>> 0;
      this.port.hcall(this.vcpuOf(pid), H_PROTECT, regs, this.opId);
      this.counters.protectCalls++;
    }
  }

  /** A driver maps the device page (ioremap: I|G) into pid's space at ea and accesses it. */
  mapDevice(pid: number, ea: number): void {
    const p = this.procs.get(pid);
    if (!p) return;
    p.ptes.set(Math.floor(ea / 4096), { gfn: Math.floor(this.opts.mmioGpa / 4096), writable: true, io: true, slot: -1 });
  }

  private vcpuOf(pid: number): number {
    const v = this.current.indexOf(pid);
    return v < 0 ? 0 : v;
  }
}
