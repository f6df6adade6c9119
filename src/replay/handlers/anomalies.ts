// Anomaly counters (src/trace/anomalies.ts): recorded `anomaly` events, counted by code, and the
// anomalies the other handlers detect (they are given this instance and call count()).

import { A, ANOMALIES, ANOMALY_BY_CODE, ANOMALY_CODES, type AnomalyName, type AnomalySeverity } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import type { RowTable } from '../table.js';
import type { HandlerName, ReplayHandler } from './handler.js';

// Payload fields read (module constants: the hot path loads a number, not a property chain).
const W_ANOMALY_CODE = F.anomaly.code;


export interface AnomalyCounter {
  name: AnomalyName;
  code: number;
  severity: AnomalySeverity;
  description: string;
  count: number;
  /** seq of the first occurrence. */
  first_seq: number;
}

export class AnomalyHandler implements ReplayHandler {
  readonly name = 'anomalies';
  readonly deps: readonly HandlerName[] = [];
  readonly counts = new Float64Array(ANOMALY_CODES);
  readonly firstSeq = new Float64Array(ANOMALY_CODES).fill(-1);

  reset(): void {
    this.counts.fill(0);
    this.firstSeq.fill(-1);
  }

  /** Count one anomaly `code` (A.*) seen at event seq. */
  count(code: number, seq: number): void {
    if (this.counts[code]++ === 0) this.firstSeq[code] = seq;
  }

  anomaly(b: EventBatch, i: number): void {
    const c = b.num(i, W_ANOMALY_CODE);
    this.count(c >= 0 && c < ANOMALY_CODES && ANOMALY_BY_CODE[c] !== undefined ? c : A.unknown_anomaly_code, b.firstSeq + i);
  }

  finalize(): void {}

  /** Nonzero counters, by code. */
  data(): AnomalyCounter[] {
    const out: AnomalyCounter[] = [];
    for (let c = 0; c < ANOMALY_CODES; c++) {
      if (this.counts[c] === 0) continue;
      const name = ANOMALY_BY_CODE[c]!;
      const d = ANOMALIES[name];
      out.push({ name, code: c, severity: d.severity, description: d.description, count: this.counts[c], first_seq: this.firstSeq[c] });
    }
    return out;
  }

  /** Occurrences of error-level anomalies. */
  errors(): number {
    return this.data().reduce((n, a) => n + (a.severity === 'error' ? a.count : 0), 0);
  }

  total(): number {
    return this.counts.reduce((n, x) => n + x, 0);
  }

  save(): unknown {
    const out: [number, number, number][] = [];
    this.counts.forEach((n, c) => n !== 0 && out.push([c, n, this.firstSeq[c]]));
    return out;
  }

  restore(s: unknown): void {
    this.reset();
    for (const [c, n, f] of s as [number, number, number][]) {
      this.counts[c] = n;
      this.firstSeq[c] = f;
    }
  }

  tables(_out: [string, RowTable][]): void {}
}
