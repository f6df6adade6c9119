// Recorded `checkpoint` events: counted, and with `verify` on, the digest of the folded VM state
// (same layout as the emulator's, machine/checkpoint.ts) compared with the recorded one.

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F, type FieldIndex } from '../../trace/fields.js';
import { stateDigest } from '../digest.js';
import type { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';
import type { MemslotHandler } from './memslots.js';
import type { RmapHandler } from './rmap.js';
import type { VcpuHandler } from './vcpus.js';
import { VmState } from './vm-view.js';

// Payload words of `checkpoint` (kinds.ts).
const CP_PARTS: [string, FieldIndex][] = [['hpt', F.checkpoint.hpt_digest], ['guest', F.checkpoint.guest_digest], ['rmap', F.checkpoint.rmap_digest]];

export interface CheckpointDivergence {
  /** seq of the checkpoint whose digest disagrees with the folded state. */
  seq: number;
  ordinal: number;
  /** seq of the last checkpoint that agreed (-1 if none): the divergence lies in (lastGoodSeq, seq). */
  lastGoodSeq: number;
  components: string[];
}

export class CheckpointHandler implements ReplayHandler {
  readonly name = 'checkpoints';
  readonly deps: readonly HandlerName[] = ['hpt', 'memslots', 'rmap', 'vcpus', 'anomalies'];
  /** Check checkpoint digests while folding (costs a digest per checkpoint). */
  verify = false;
  checkpoints = 0;
  divergence: CheckpointDivergence | null = null;
  lastGood = -1;

  constructor(
    private readonly hpt: HptHandler,
    private readonly memslots: MemslotHandler,
    private readonly rmap: RmapHandler,
    private readonly vcpus: VcpuHandler,
    private readonly anomalies: AnomalyHandler,
  ) {}

  reset(): void {
    this.checkpoints = 0;
    this.divergence = null;
    this.lastGood = -1;
  }

  checkpoint(b: EventBatch, i: number): void {
    this.checkpoints++;
    if (!this.verify || this.divergence) return;
    const lpid = b.lpid[i];
    const h = this.hpt.vms.get(lpid);
    if (!h) return this.anomalies.count(A.checkpoint_unknown_vm, b.firstSeq + i);
    const d = stateDigest(new VmState(h, this.memslots.vms.get(lpid)!, this.rmap.vms.get(lpid)!, this.vcpus.vms.get(lpid)!));
    const got: Record<string, [number, number]> = { hpt: d.hpt, guest: d.guest, rmap: d.rmap };
    const differ = CP_PARTS.filter(([n, j]) => got[n][0] !== b.hi(i, j) || got[n][1] !== b.lo(i, j)).map(([n]) => n);
    const allOk = d.all[0] === b.hi(i, F.checkpoint.digest) && d.all[1] === b.lo(i, F.checkpoint.digest);
    if (!allOk || differ.length) {
      this.divergence = { seq: b.firstSeq + i, ordinal: b.num(i, F.checkpoint.ordinal), lastGoodSeq: this.lastGood, components: differ.length ? differ : ['notifier seq/count'] };
    } else this.lastGood = b.firstSeq + i;
  }

  finalize(): void {}

  data() {
    return { checkpoints: this.checkpoints, divergence: this.divergence, lastGoodSeq: this.lastGood };
  }

  /** Only the count: verification state belongs to one linear verify pass, not to checkpoints. */
  save(): unknown {
    return this.checkpoints;
  }

  restore(s: unknown): void {
    this.checkpoints = s as number;
  }

  tables(_out: [string, RowTable][]): void {}
}
