// Runs a workload's operation stream on the guest OS: one guest_op event per operation (its stable
// id lets diff align two runs of the same seed), then the OS work it implies. Periodic `tick`
// operations let the host run (memory pressure, reclaim) and write checkpoints.

import { K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import { type GuestOs, LOAD, STORE } from './os.js';
import { type GuestOp, MMIO_EA, OP, type Workload, workloadOps } from './workloads.js';

export interface DriverHooks {
  /** Host activity between guest operations (reclaim, other processes). */
  tick?(): void;
  /** After every operation (checkpoints, invariant checks). */
  afterOp?(op: GuestOp): void;
}

export interface DriverCounters {
  ops: number;
  accesses: number;
  failedAccesses: number;
}

export class WorkloadDriver {
  readonly counters: DriverCounters = { ops: 0, accesses: 0, failedAccesses: 0 };
  /** Process slot → live pid. */
  private readonly pids: number[] = [];

  constructor(
    readonly wl: Workload,
    readonly os: GuestOs,
    readonly rec: Recorder,
    readonly hooks: DriverHooks = {},
  ) {}

  run(onProgress?: (accesses: number) => void): void {
    for (const op of workloadOps(this.wl)) {
      this.exec(op);
      this.hooks.afterOp?.(op);
      if (onProgress && (this.counters.ops & 0x3ff) === 0) onProgress(this.counters.accesses);
    }
    onProgress?.(this.counters.accesses);
  }

  private record(op: GuestOp, pid: number): void {
    const rec = this.rec;
    if (!rec.enabled) return;
    this.os.opId = rec.emit(K.guest_op, -1, op.vcpu, -1, NO_CAUSE).op_id(op.id).op(op.op).pid(pid).ea(op.ea).ea_end(op.ea2).seq;
  }

  exec(op: GuestOp): void {
    const os = this.os;
    this.counters.ops++;
    switch (op.op) {
      case OP.spawn: {
        const p = os.spawn();
        this.pids[op.proc] = p.pid;
        if (op.proc === 0) os.mapDevice(p.pid, MMIO_EA);
        this.record(op, p.pid);
        return;
      }
      case OP.exit: {
        const pid = this.pids[op.proc];
        this.record(op, pid);
        os.exit(pid);
        return;
      }
      case OP.load:
      case OP.store:
      case OP.mmio_load:
      case OP.mmio_store: {
        const pid = this.pids[op.proc];
        this.record(op, pid);
        this.counters.accesses++;
        const kind = op.op === OP.store || op.op === OP.mmio_store ? STORE : LOAD;
        if (!os.touch(op.vcpu, pid, op.ea, kind)) this.counters.failedAccesses++;
        return;
      }
      case OP.munmap: {
        const pid = this.pids[op.proc];
        this.record(op, pid);
        os.munmap(pid, op.ea, op.ea2);
        return;
      }
      case OP.mprotect_ro:
      case OP.mprotect_rw: {
        const pid = this.pids[op.proc];
        this.record(op, pid);
        os.mprotect(pid, op.ea, op.ea2, op.op === OP.mprotect_rw);
        return;
      }
      case OP.tick:
        this.record(op, 0);
        this.hooks.tick?.();
        return;
    }
  }
}
