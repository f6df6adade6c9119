// Recorded `checkpoint` events: counted, and with `verify` on, the digest of the folded VM state
// (same layout as the emulator's, machine/checkpoint.ts) compared with the recorded one.

import { A } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F, type FieldIndex } from '../../trace/fields.js';
import { stateDigest } from '../../base/digest.js';
import type { RowTable } from '../table.js';
import type { AnomalyHandler } from './anomalies.js';
import type { HandlerName, ReplayHandler } from './handler.js';
import type { HptHandler } from './hpt.js';
import type { MemslotHandler } from './memslots.js';
import type { RmapHandler } from './rmap.js';
import type { VcpuHandler } from './vcpus.js';
import { VmState } from './vm-view.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_CHECKPOINT_DIGEST = F.checkpoint.digest;
const W_CHECKPOINT_GUEST_DIGEST = F.checkpoint.guest_digest;
const W_CHECKPOINT_HPT_DIGEST = F.checkpoint.hpt_digest;
const W_CHECKPOINT_ORDINAL = F.checkpoint.ordinal;
const W_CHECKPOINT_RMAP_DIGEST = F.checkpoint.rmap_digest;

// Payload words of `checkpoint` (kinds.ts).
const CP_PARTS: [string, FieldIndex][] = [['hpt', W_CHECKPOINT_HPT_DIGEST], ['guest', W_CHECKPOINT_GUEST_DIGEST], ['rmap', W_CHECKPOINT_RMAP_DIGEST]];

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
    const allOk = d.all[0] === b.hi(i, W_CHECKPOINT_DIGEST) && d.all[1] === b.lo(i, W_CHECKPOINT_DIGEST);
    if (!allOk || differ.length) {
      this.divergence = { seq: b.firstSeq + i, ordinal: b.num(i, W_CHECKPOINT_ORDINAL), lastGoodSeq: this.lastGood, components: differ.length ? differ : ['notifier seq/count'] };
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
