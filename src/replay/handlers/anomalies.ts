// Anomaly counters (src/trace/anomalies.ts): recorded `anomaly` events, counted by code, and the
// anomalies the other handlers detect (they are given this instance and call count()). For the
// first before-value inconsistency (an event field stating what was there before that contradicts
// the fold, codes 111..) it also keeps a detail record: which event, field, and both values.

import { A, ANOMALIES, ANOMALY_BY_CODE, ANOMALY_CODES, type AnomalyName, type AnomalySeverity } from '../../trace/anomalies.js';
import type { EventBatch } from '../../trace/batch.js';
import { F } from '../../trace/fields.js';
import type { EventKind } from '../../trace/kinds.js';
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

/**
 * The first event whose before-value contradicts the folded state. Values are 0x… hex (64-bit
 * words) or decimal (LPIDs, counters) strings as the field's type shows them. `where` names the
 * state compared: an HPTE (lpid, hpte_index), a core, or a VM's notifier counters.
 */
export interface Inconsistency {
  seq: number;
  anomaly: AnomalyName;
  kind: EventKind;
  field: string;
  lpid: number;
  /** HPTE index for hpte_write / page_fault_enter, core id for partition_switch, -1 for notifier. */
  index: number;
  recorded: string;
  folded: string;
}

const hex64 = (hi: number, lo: number): string =>
  hi >>> 0 === 0 ? `0x${(lo >>> 0).toString(16)}` : `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}`;

export class AnomalyHandler implements ReplayHandler {
  readonly name = 'anomalies';
  readonly deps: readonly HandlerName[] = [];
  readonly counts = new Float64Array(ANOMALY_CODES);
  readonly firstSeq = new Float64Array(ANOMALY_CODES).fill(-1);
  /** The first before-value inconsistency (null if none). */
  inconsistency: Inconsistency | null = null;

  reset(): void {
    this.counts.fill(0);
    this.firstSeq.fill(-1);
    this.inconsistency = null;
  }

  /** Count one anomaly `code` (A.*) seen at event seq. */
  count(code: number, seq: number): void {
    if (this.counts[code]++ === 0) this.firstSeq[code] = seq;
  }

  /**
   * Count a before-value inconsistency (code 111..) at seq: the event's `field` holds `recorded`
   * where the fold holds `folded`. Called only on a mismatch (never on the hot path's common case).
   */
  inconsistent(code: number, seq: number, kind: EventKind, field: string, lpid: number, index: number, recorded: string, folded: string): void {
    this.count(code, seq);
    if (this.inconsistency === null) this.inconsistency = { seq, anomaly: ANOMALY_BY_CODE[code]!, kind, field, lpid, index, recorded, folded };
  }

  /** inconsistent() for a 64-bit word given as (hi, lo) halves, shown 0x…. */
  inconsistentWord(code: number, seq: number, kind: EventKind, field: string, lpid: number, index: number, recHi: number, recLo: number, foldHi: number, foldLo: number): void {
    this.inconsistent(code, seq, kind, field, lpid, index, hex64(recHi, recLo), hex64(foldHi, foldLo));
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
    return { counts: out, inconsistency: this.inconsistency };
  }

  restore(s: unknown): void {
    this.reset();
    const { counts, inconsistency } = s as { counts: [number, number, number][]; inconsistency: Inconsistency | null };
    for (const [c, n, f] of counts) {
      this.counts[c] = n;
      this.firstSeq[c] = f;
    }
    this.inconsistency = inconsistency === null ? null : { ...inconsistency };
  }

  tables(_out: [string, RowTable][]): void {}
}
