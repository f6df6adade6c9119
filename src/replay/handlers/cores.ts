// Cores: LPID, SDR1, LPCR and in-guest (partition_switch), TLB invalidations and flushes (tlbie).
// A partition_switch's from_lpid is checked against the core's folded LPID (anomaly 114).

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import { E } from '../../trace/kinds.js';
import type { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_PARTITION_SWITCH_DIRECTION = F.partition_switch.direction;
const W_PARTITION_SWITCH_FROM_LPID = F.partition_switch.from_lpid;
const W_PARTITION_SWITCH_LPCR = F.partition_switch.lpcr;
const W_PARTITION_SWITCH_SDR1 = F.partition_switch.sdr1;
const W_PARTITION_SWITCH_TO_LPID = F.partition_switch.to_lpid;
const W_TLBIE_SCOPE = F.tlbie.scope;


export class CoreFold {
  lpid = 0;
  inGuest = false;
  sdr1Hi = 0;
  sdr1Lo = 0;
  lpcrHi = 0;
  lpcrLo = 0;
  switches = 0;
  /** Full TLB flushes on this core (tlbiel IS=0b10 over the LPID's sets, or the whole untagged TLB). */
  flushes = 0;
  /** seq of the last flush (-1 none), its scope and LPID, and the vcpu it was done for (-1 none). */
  lastFlushSeq = -1;
  lastFlushScope = -1;
  lastFlushLpid = -1;
  lastFlushVcpu = -1;
  /** Single-entry invalidations issued from this core (tlbie global, tlbiel local). */
  tlbieGlobal = 0;
  tlbieLocal = 0;
  constructor(readonly id: number) {}
}

/** Scalar fields of CoreFold saved in a checkpoint (all but id). */
const CORE_FIELDS = ['lpid', 'inGuest', 'sdr1Hi', 'sdr1Lo', 'lpcrHi', 'lpcrLo', 'switches', 'flushes', 'lastFlushSeq', 'lastFlushScope', 'lastFlushLpid', 'lastFlushVcpu', 'tlbieGlobal', 'tlbieLocal'] as const satisfies readonly (keyof CoreFold)[];

export class CoreHandler implements ReplayHandler {
  readonly name = 'cores';
  readonly deps: readonly HandlerName[] = ['hpt', 'anomalies'];
  readonly cores = new Map<number, CoreFold>();

  constructor(
    private readonly hpt: HptHandler,
    private readonly anomalies: AnomalyHandler,
  ) {}

  reset(): void {
    this.cores.clear();
  }

  core(id: number): CoreFold {
    let c = this.cores.get(id);
    if (!c) {
      c = new CoreFold(id);
      this.cores.set(id, c);
    }
    return c;
  }

  partition_switch(b: EventBatch, i: number): void {
    if (b.core[i] < 0) return;
    const c = this.core(b.core[i]);
    // Before-value: from_lpid is the core's LPID before the switch (a core starts in the host,
    // LPID 0). Checked for switches of a VM the trace created (a trace without vm_create, e.g.
    // synthetic data, has no machine to hold it to).
    const from = b.num(i, W_PARTITION_SWITCH_FROM_LPID);
    if (from !== c.lpid && this.hpt.vms.has(b.lpid[i]))
      this.anomalies.inconsistent(A.partition_switch_from_lpid_mismatch, b.firstSeq + i, 'partition_switch', 'from_lpid', b.lpid[i], c.id, String(from), String(c.lpid));
    c.lpid = b.num(i, W_PARTITION_SWITCH_TO_LPID);
    c.inGuest = b.num(i, W_PARTITION_SWITCH_DIRECTION) === E.switch_direction.entry;
    c.sdr1Hi = b.hi(i, W_PARTITION_SWITCH_SDR1);
    c.sdr1Lo = b.lo(i, W_PARTITION_SWITCH_SDR1);
    c.lpcrHi = b.hi(i, W_PARTITION_SWITCH_LPCR);
    c.lpcrLo = b.lo(i, W_PARTITION_SWITCH_LPCR);
    c.switches++;
  }

  tlbie(b: EventBatch, i: number): void {
    const cid = b.core[i];
    if (cid < 0) return;
    const scope = b.num(i, W_TLBIE_SCOPE);
    const c = this.core(cid);
    if (scope === E.tlb_scope.global) c.tlbieGlobal++;
    else if (scope === E.tlb_scope.local) c.tlbieLocal++;
    else {
      c.flushes++;
      c.lastFlushSeq = b.firstSeq + i;
      c.lastFlushScope = scope;
      c.lastFlushLpid = b.lpid[i];
      c.lastFlushVcpu = b.vcpu[i];
    }
  }

  finalize(): void {}

  data(): ReadonlyMap<number, CoreFold> {
    return this.cores;
  }

  save(): unknown {
    return [...this.cores.values()].map((c) => [c.id, ...CORE_FIELDS.map((k) => Number(c[k]))]);
  }

  restore(s: unknown): void {
    this.cores.clear();
    for (const [id, ...vals] of s as number[][]) {
      const c = new CoreFold(id);
      CORE_FIELDS.forEach((k, j) => ((c as unknown as Record<string, number | boolean>)[k] = k === 'inGuest' ? vals[j] !== 0 : vals[j]));
      this.cores.set(id, c);
    }
  }

  tables(_out: [string, RowTable][]): void {}
}
