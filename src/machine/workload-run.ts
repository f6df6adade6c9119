// Recording a workload: one host (with memory pressure from other processes and reclaim), one VM
// of the chosen profile, the guest OS booted on it, and the workload's operation stream driven
// through the OS. The same seed gives the same operation stream on every profile.

import { type GuestCounters, GuestOs } from '../guest/os.js';
import { type DriverCounters, WorkloadDriver } from '../guest/driver.js';
import type { MachineConfig } from '../guest/scenario.js';
import type { Workload } from '../guest/workloads.js';
import { Reclaim, type ReclaimCounters } from '../host/reclaim.js';
import { UserError } from '../trace/errors.js';
import { RunChecker, type RunViolation } from './invariants.js';
import type { Recorder } from '../trace/recorder.js';
import { Checkpointer, DEFAULT_CHECKPOINT_INTERVAL } from './checkpoint.js';
import { MachinePort } from './guest-port.js';
import { Machine } from './machine.js';

export type Profile = 'power7' | 'ppc970';

/** Guest-physical pages the guest kernel keeps for itself (bolted linear mapping, text, data). */
const KERNEL_PAGES = 256;
const GUEST_UA = 0x3fff80000000;

export type WorkloadKernel = '3.3' | '3.4' | '4.20';

export function workloadMachineConfig(wl: Workload, profile: Profile, kernel: WorkloadKernel = '3.4'): MachineConfig {
  return {
    profile,
    kernel,
    host_page_shift: 12,
    host_memory_mb: wl.host_mb,
    hpt_order: wl.hpt_order,
    vcpus: wl.vcpus,
    threads_per_core: 4,
    memslots: [{ slot: 0, base_gfn: 0n, npages: wl.guest_mb * 256, userspace_addr: BigInt(GUEST_UA), populate: false }],
  };
}

export interface WorkloadResult {
  machine: Machine;
  os: GuestOs;
  driver: DriverCounters;
  guest: GuestCounters;
  reclaim: ReclaimCounters;
  violation: RunViolation | null;
}

export interface WorkloadRunOptions {
  check?: boolean;
  checkpointEvery?: number;
  onProgress?: (accesses: number) => void;
  kernel?: WorkloadKernel;
  /** Called after every guest operation at the quiescent point (tests snapshot the emulator state here). */
  afterOp?: (machine: Machine) => void;
  /** With check: ops between two whole-HPT state walks (default CHECK_STATE_EVERY). */
  checkStateEvery?: number;
}

export function recordWorkloadRun(wl: Workload, profile: Profile, rec: Recorder, opts: WorkloadRunOptions = {}): WorkloadResult {
  if (opts.kernel === '3.3' && profile !== 'power7') throw new UserError('kernel 3.3 (seed 1) is modelled on power7 only');
  if (opts.kernel === '3.3' && wl.guest_mb % 16 !== 0) throw new UserError('kernel 3.3 needs guest RAM in 16 MiB multiples (--guest-mb)');
  const cfg = workloadMachineConfig(wl, profile, opts.kernel);
  const m = new Machine(cfg, rec, wl.seed);
  const kvm = m.kvm;
  const hostPages = m.phys.npages;
  const reclaim = new Reclaim({
    mm: m.mm,
    phys: m.phys,
    rng: m.rng.fork(),
    lowWatermarkPages: Math.ceil(hostPages * 0.02),
    highWatermarkPages: Math.ceil(hostPages * 0.04),
    otherMaxPages: Math.floor(hostPages * wl.pressure),
    otherAllocPerStep: Math.ceil((hostPages * wl.pressure) / 8),
    otherFreePerStep: Math.ceil((hostPages * wl.pressure) / 64),
  });
  const guestPages = wl.guest_mb * 256;
  const os = new GuestOs(new MachinePort(m), m.rng.fork(), {
    firstFreeGfn: KERNEL_PAGES,
    frames: guestPages - KERNEL_PAGES,
    hashMask: kvm.mmu.geom.hashMask,
    boltedPages: Math.min(KERNEL_PAGES, 64),
    mmioGpa: guestPages * 4096 + 0x10000000,
  }, wl.vcpus);

  // Operation-level checks (the audit: tlbie discipline, R/C, placement...) after every op; the
  // state invariants walk the whole HPT, so they run every CHECK_STATE_EVERY ops and at the end;
  // the whole-HPT J12 digest of pinned-mode notifier callbacks is sampled 1 in 64.
  const checks = opts.check ? new RunChecker(m, rec, opts.checkStateEvery ?? CHECK_STATE_EVERY, 64) : null;
  let op = 0;
  const check = checks
    ? (final = false) => {
        if (checks.afterOp(op++, final)) throw new StopRun();
      }
    : undefined;
  const ckpt = new Checkpointer(rec, kvm, opts.checkpointEvery ?? DEFAULT_CHECKPOINT_INTERVAL);
  let step = 0;
  const driver = new WorkloadDriver(wl, os, rec, {
    tick: () => reclaim.pressure(step++),
    afterOp: () => {
      check?.();
      opts.afterOp?.(m);
      ckpt.maybe();
    },
  });
  try {
    os.boot();
    driver.run(opts.onProgress);
    check?.(true);
  } catch (e) {
    if (!(e instanceof StopRun)) throw e;
  }
  if (rec.enabled) ckpt.write();
  rec.close(true);
  return { machine: m, os, driver: driver.counters, guest: os.counters, reclaim: reclaim.counters, violation: checks?.violation ?? null };
}

class StopRun extends Error {}

/** Ops between two full state-invariant walks in a checked workload run. */
export const CHECK_STATE_EVERY = 1024;
