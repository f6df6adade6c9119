// Shared set-up for the KVM model tests: a host with 4 KiB pages, a VMM VMA, one memslot, a VM
// with its notifier registered and an audit attached, and an in-memory trace sink.

import { EventBatch } from '../../src/trace/batch.js';
import { eventAt, type TraceEvent } from '../../src/trace/event.js';
import { Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo, type RunInfo } from '../../src/trace/run-info.js';
import { HostMm } from '../../src/host/mm.js';
import { PhysMem } from '../../src/host/physmem.js';
import { Kvm, type CpuModel, type KernelVersion, type KvmVcpuRef, type LpidAllocator } from '../../src/kvm/kvm.js';
import { kvm_set_memory_region } from '../../src/kvm/memslot.js';
import { KvmMmuNotifier } from '../../src/kvm/mmu_notifier.js';
import { HvAudit, KvmInvariantChecker } from '../../src/kvm/invariants.js';

export class MemorySink implements EventSink {
  readonly events: TraceEvent[] = [];
  open(_info: RunInfo): void {}
  writeBatch(b: EventBatch): void {
    for (let i = 0; i < b.length; i++) this.events.push(eventAt(b, i));
  }
  close(): void {}
}

export interface World {
  phys: PhysMem;
  mm: HostMm;
  kvm: Kvm;
  notifier: KvmMmuNotifier;
  audit: HvAudit;
  checker: KvmInvariantChecker;
  rec: Recorder;
  sink: MemorySink | null;
  vcpu: KvmVcpuRef;
  /** Flush the recorder and return all events so far. */
  events(): TraceEvent[];
}

export const UA = 0x3fff80000000;

export interface WorldOptions {
  order?: number;
  npages?: number; // memslot pages (4K)
  physPages?: number;
  record?: boolean;
  kernel?: KernelVersion;
  seed?: number;
  /** 'power7' (default) or 'ppc970' (pinned pages, slot_phys). */
  cpu?: CpuModel;
  lpids?: LpidAllocator;
  /** Backing page shift of the guest RAM VMA (default PAGE_SHIFT 12; 24 = 16M hugetlbfs). */
  vmaPageShift?: number;
  hostHid4?: bigint;
}

/** TV11-style world: slot 0 at gpa 0, userspace_addr 0x3fff80000000, PAGE_SHIFT 12. */
export function makeWorld(o: WorldOptions = {}): World {
  const sink = o.record === false ? null : new MemorySink();
  const rec = sink ? new Recorder([sink], runInfo(o.cpu ?? 'power7', o.seed ?? 1, {})) : Recorder.disabled();
  const phys = new PhysMem({ pageShift: 12, npages: o.physPages ?? 0x100000, seed: o.seed ?? 1 });
  const mm = new HostMm({ phys, rec });
  const npages = o.npages ?? 0x40000;
  mm.mmap(UA, npages * 4096, { pageShift: o.vmaPageShift ?? 12 });
  const kvm = new Kvm({ mm, rec, hptOrder: o.order ?? 24, kernel: o.kernel ?? '3.4', cpu: o.cpu, lpids: o.lpids, hostHid4: o.hostHid4 });
  const r = kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: npages * 4096, userspace_addr: UA });
  if (r !== 0) throw new Error('memslot');
  const notifier = KvmMmuNotifier.register(kvm);
  const audit = new HvAudit().attach(kvm);
  const checker = new KvmInvariantChecker(kvm);
  return {
    phys,
    mm,
    kvm,
    notifier,
    audit,
    checker,
    rec,
    sink,
    vcpu: { vcpu_id: 0, core: 0 },
    events() {
      rec.flush();
      return sink ? sink.events : [];
    },
  };
}

