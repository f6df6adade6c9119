// State at an event: fold a trace from the start up to a seq (checkpoints come with the replayer
// issue) and answer point queries about it.

import { KVMPPC_RMAP_INDEX_LO, KVMPPC_RMAP_PRESENT_HI, KVMPPC_RMAP_REFERENCED_HI, KVMPPC_RMAP_CHANGED_HI } from '../arch/kvm_host.js';
import { UserError } from '../trace/errors.js';
import type { TraceReader } from '../trace/reader.js';
import { StateFold, type VmState } from './state.js';

const u64 = (hi: number, lo: number) => (BigInt(hi) << 32n) | BigInt(lo);

export type SeekTarget = { seq: number } | 'end';

export async function stateAt(reader: TraceReader, at: SeekTarget): Promise<StateFold> {
  const fold = new StateFold();
  const upTo = at === 'end' ? Number.POSITIVE_INFINITY : at.seq;
  for await (const b of reader.batches()) if (!fold.foldBatch(b, upTo)) break;
  if (at !== 'end' && fold.lastSeq < at.seq) throw new UserError(`seq ${at.seq} is past the end of the trace (last seq ${fold.lastSeq})`);
  return fold;
}

export function pickVm(fold: StateFold, lpid: number | undefined): VmState {
  if (lpid !== undefined) {
    const vm = fold.vm(lpid);
    if (!vm) throw new UserError(`no VM with LPID ${lpid} at this point (VMs: ${[...fold.vms.keys()].join(', ') || 'none'})`);
    return vm;
  }
  if (fold.vms.size === 0) throw new UserError('no VM exists at this point of the trace');
  if (fold.vms.size > 1) throw new UserError(`several VMs (LPIDs ${[...fold.vms.keys()].join(', ')}): choose one with --lpid`);
  return fold.vms.values().next().value!;
}

export function hpteState(vm: VmState, index: number) {
  if (!Number.isInteger(index) || index < 0 || index >= vm.npte) throw new UserError(`HPTE index ${index} out of range (0..${vm.npte - 1})`);
  const h = vm.hpt;
  return {
    index,
    v: u64(h[index * 4], h[index * 4 + 1]),
    r: u64(h[index * 4 + 2], h[index * 4 + 3]),
    guest_r: u64(vm.guestR[index * 2], vm.guestR[index * 2 + 1]),
  };
}

export function rmapState(vm: VmState, gfn: number) {
  const [hi, lo] = vm.rmap.get(gfn) ?? [0, 0];
  const present = (hi & KVMPPC_RMAP_PRESENT_HI) !== 0;
  const head = (lo & KVMPPC_RMAP_INDEX_LO) >>> 0;
  const chain: number[] = [];
  if (present) {
    let i = head;
    do {
      chain.push(i);
      i = vm.forw[i];
    } while (i !== head && i >= 0 && chain.length <= vm.npte);
  }
  return {
    gfn,
    rmap: u64(hi, lo),
    present,
    referenced: (hi & KVMPPC_RMAP_REFERENCED_HI) !== 0,
    changed: (hi & KVMPPC_RMAP_CHANGED_HI) !== 0,
    head: present ? head : null,
    chain,
  };
}

export function summaryState(fold: StateFold) {
  return {
    seq: fold.lastSeq,
    vms: [...fold.vms.values()].map((vm) => {
      let valid = 0;
      let absent = 0;
      for (let i = 0; i < vm.npte; i++) {
        const vlo = vm.hpt[i * 4 + 1];
        if (vlo & 1) valid++;
        else if (vlo & 0x20) absent++;
      }
      let chained = 0;
      for (const [, [hi]] of vm.rmap) if (hi & KVMPPC_RMAP_PRESENT_HI) chained++;
      return { lpid: vm.lpid, npte: vm.npte, valid_hptes: valid, absent_hptes: absent, gfns_mapped: chained, memslots: vm.memslots.size, mmu_notifier_seq: vm.mmuSeq, mmu_notifier_count: vm.mmuCount };
    }),
    cores: Object.fromEntries(fold.coreLpid),
    anomalies: fold.anomalies,
  };
}
