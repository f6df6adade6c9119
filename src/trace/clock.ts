// The run's clock over the recorder: the one implementation of the Clock port (arch/timing.ts).
// Time lives in `Recorder.now` (stamped on every event); a RecorderClock advances it by the table
// entries of the paths the model runs. One instance per run, owned by the machine, given to the
// host and to KVM.

import { type Clock, type TimebaseCpu, type Timing, timingFor } from '../arch/timing.js';
import type { Recorder } from './recorder.js';

export class RecorderClock implements Clock {
  readonly t: Timing;
  private readonly rec: Recorder;

  constructor(rec: Recorder, t: Timing) {
    this.rec = rec;
    this.t = t;
  }

  /** A clock over `rec` with the table of `cpu`. */
  static forCpu(rec: Recorder, cpu: TimebaseCpu): RecorderClock {
    return new RecorderClock(rec, timingFor(cpu));
  }

  get now(): number {
    return this.rec.now;
  }

  charge(ticks: number): void {
    this.rec.now += ticks;
  }
}
