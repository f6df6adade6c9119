// Shared set-up for the hardware-MMU / fault-path tests: the KVM test world (test/kvm/helpers.ts,
// TV11 geometry: order 24, slot 0 = gpa 0..1 GiB at hva 0x3fff80000000, PAGE_SHIFT 12) plus two
// cores' TLBs given to the VM as its TlbPort (the HvAudit only observes), one vcpu on core 0
// with MSR = SF | ME | IR | DR and SLB slot 0 mapping ESID 0x10000000 to VSID 0x123456 (TV1).

import { hcallBig } from '../../src/kvm/hcall.js';
import { H_ENTER, MSR_DR_LO, MSR_IR_LO, MSR_ME_LO, MSR_SF_HI, SLB_ESID_V_LO } from '../../src/arch/index.js';
import { MmuContext } from '../../src/hw/mmu.js';
import { Tlb, TlbShootdown } from '../../src/hw/tlb.js';
import { Vcpu } from '../../src/hw/vcpu.js';
import { makeWorld, UA, type World, type WorldOptions } from '../kvm/helpers.js';

export { UA };

export interface HwWorld extends World {
  tlbs: Tlb[];
  shoot: TlbShootdown;
  v: Vcpu;
  ctx: MmuContext;
  ctx1: MmuContext;
}

/** TV1: VSID 0x123456 → slb_v = VSID << 12 = 0x1_23456000 (Ks = Kp = 0, 256M, 4K pages). */
export const TV1_SLB_V_HI = 0x1;
export const TV1_SLB_V_LO = 0x23456000;
export const TV1_EA = 0x10005000;
/** TV1: primary PTEG 0x03453 → first index 0x1a298; secondary PTEG 0x1cbac → 0xe5d60. */
export const TV1_PRIMARY_INDEX = 0x1a298;
export const TV1_SECONDARY_INDEX = 0xe5d60;

export function hwWorld(o: WorldOptions = {}): HwWorld {
  const tlbs = [new Tlb(0), new Tlb(1)];
  const shoot = new TlbShootdown(tlbs);
  const w = makeWorld({ ...o, tlb: shoot });
  const v = new Vcpu(0, { rec: w.rec, lpid: w.kvm.lpid });
  v.core = 0;
  v.setMsr(MSR_SF_HI, MSR_ME_LO | MSR_IR_LO | MSR_DR_LO);
  v.setPc(0, 0x700000);
  v.slbmte(TV1_SLB_V_HI, TV1_SLB_V_LO, 0, (0x10000000 | SLB_ESID_V_LO | 0) >>> 0);
  const ctx = new MmuContext(w.kvm.mmu, tlbs[0], 0, w.kvm.lpcrHi, w.kvm.lpcrLo);
  const ctx1 = new MmuContext(w.kvm.mmu, tlbs[1], 1, w.kvm.lpcrHi, w.kvm.lpcrLo);
  return { ...w, tlbs, shoot, v, ctx, ctx1 };
}

/** H_ENTER from vcpu 0; returns [ret, index]. */
export function hEnter(w: HwWorld, flags: bigint, index: number, pteh: bigint, ptel: bigint): [number, number] {
  const r = hcallBig(w.kvm, w.v, H_ENTER, [flags, BigInt(index), pteh, ptel]);
  return [r.ret, Number(r.out[0])];
}

/** Host hva of guest gpa in slot 0. */
export function hvaOf(gpa: number): number {
  return UA + gpa;
}

export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}
