// Checkpoints written while recording: every `interval` events, at the next quiescent point (between
// operations), a `checkpoint` event with digests of the emulator's true state. A replay folds the
// events and checks that its own digests agree (hvtrace replay --verify).

import type { Kvm } from '../kvm/kvm.js';
import { stateDigest, type DigestParts } from '../base/digest.js';
import { K } from '../trace/kinds.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';

/** Default checkpoint interval in events: no measurable recording cost with an order-22 HPT (`npm run bench -- checkpoint-interval`). */
export const DEFAULT_CHECKPOINT_INTERVAL = 65536;

export function kvmDigest(kvm: Kvm): DigestParts {
  return stateDigest({
    hpt: kvm.mmu.hpt,
    guestR: kvm.mmu.revGuestR,
    npte: kvm.mmu.npte,
    mmuSeq: kvm.mmu_notifier_seq,
    mmuCount: kvm.mmu_notifier_count,
    *rmapEntries() {
      const slots = [...kvm.memslots].sort((a, b) => a.base_gfn - b.base_gfn);
      for (const s of slots) for (let off = 0; off < s.npages; off++) yield [s.base_gfn + off, s.rmap[off * 2], s.rmap[off * 2 + 1]] as [number, number, number];
    },
  });
}

export class Checkpointer {
  private last = 0;
  ordinal = 0;
  constructor(
    readonly rec: Recorder,
    readonly kvm: Kvm,
    readonly interval = DEFAULT_CHECKPOINT_INTERVAL,
  ) {}

  /** Call between operations. */
  maybe(): void {
    if (!this.rec.enabled || this.interval <= 0) return;
    if (this.rec.eventCount - this.last < this.interval) return;
    this.write();
  }

  write(): void {
    const d = kvmDigest(this.kvm);
    const rec = this.rec;
    this.last = rec.eventCount;
    rec.emit(K.checkpoint, this.kvm.lpid, -1, -1, NO_CAUSE)
      .digest(d.all[0], d.all[1])
      .ordinal(this.ordinal++)
      .hpt_digest(d.hpt[0], d.hpt[1])
      .guest_digest(d.guest[0], d.guest[1])
      .rmap_digest(d.rmap[0], d.rmap[1]);
  }
}
