// Decoded events: the slow, friendly form for printing, JSON and tests. Hot paths use EventBatch.

import { hex64 } from '../arch/word.js';
import { EventBatch, NO_CAUSE, splitBig } from './batch.js';
import { ENUMS, type EnumName, type EventKind, type FieldDef, type FieldsOf, KINDS, KIND_BY_CODE, MAX_FIELDS } from './kinds.js';
import { F, type FieldIndex, fieldIndex } from './fields.js';

/**
 * One event with its payload as unsigned 64-bit BigInts (one per field of its kind). A union over
 * kinds, so `e.kind === 'notifier'` narrows `e` and field(e, name) accepts that kind's names only.
 * Read payload words by name: `field(e, 'gfn')`, `fieldNum(e, 'ret')`, or `e.words[F.kind.name]`.
 */
export type TraceEvent<Kd extends EventKind = EventKind> = Kd extends EventKind
  ? {
      seq: number;
      time: number;
      kind: Kd;
      lpid: number;
      vcpu: number;
      core: number;
      cause: number | null;
      words: bigint[];
    }
  : never;

/** Field `name` of decoded event `e` as the unsigned 64-bit word; throws if e's kind has no such field. */
export function field<Kd extends EventKind>(e: TraceEvent<Kd>, name: FieldsOf<Kd>): bigint {
  const j = (F[e.kind] as Record<string, FieldIndex | undefined>)[name];
  if (j === undefined) throw new Error(`no field ${name} in ${e.kind}`);
  return e.words[j] ?? 0n;
}

/** Field `name` of `e` as a signed number (exact within ±2^53): counts, indexes, -1 sentinels, enums. */
export function fieldNum<Kd extends EventKind>(e: TraceEvent<Kd>, name: FieldsOf<Kd>): number {
  return Number(BigInt.asIntN(64, field(e, name)));
}

export function kindOfCode(code: number): EventKind {
  const k = KIND_BY_CODE[code];
  if (!k) throw new Error(`unknown event kind code ${code}`);
  return k;
}

export function eventAt(b: EventBatch, i: number): TraceEvent {
  b.toDense();
  const kind = kindOfCode(b.kind[i]);
  const nf = KINDS[kind].fields.length;
  const words: bigint[] = [];
  for (let j = 0; j < nf; j++) words.push(b.big(i, fieldIndex(j)));
  const c = b.cause[i];
  return {
    seq: b.firstSeq + i,
    time: b.time[i],
    kind,
    lpid: b.lpid[i],
    vcpu: b.vcpu[i],
    core: b.core[i],
    cause: c < 0 ? null : c,
    words,
  };
}

export function* eventsOf(b: EventBatch): Generator<TraceEvent> {
  for (let i = 0; i < b.length; i++) yield eventAt(b, i);
}

/** Pack decoded events into a batch (tests, converters, synthetic data). */
export function batchOf(events: readonly TraceEvent[], firstSeq = events[0]?.seq ?? 0): EventBatch {
  const b = new EventBatch(Math.max(1, events.length));
  b.reset(firstSeq);
  let wc = 0;
  events.forEach((e, i) => {
    b.time[i] = e.time;
    b.kind[i] = KINDS[e.kind].code;
    b.lpid[i] = e.lpid;
    b.vcpu[i] = e.vcpu;
    b.core[i] = e.core;
    b.cause[i] = e.cause ?? NO_CAUSE;
    b.wofs[i] = wc;
    let n = Math.min(e.words.length, MAX_FIELDS);
    while (n > 0 && BigInt.asUintN(64, e.words[n - 1]) === 0n) n--;
    for (let j = 0; j < n; j++) {
      const [hi, lo] = splitBig(e.words[j]);
      b.words[wc * 2] = lo;
      b.words[wc * 2 + 1] = hi;
      wc++;
    }
  });
  b.length = events.length;
  b.wofs[events.length] = wc;
  return b;
}

/** 64-bit word as JSON and tables print it (`0x…`, unsigned): the arch formatter. */
export const hex = (x: bigint): string => hex64(x);

/** A field value as JSON shows it: hex string, number, or enum name. */
export function fieldValue(def: FieldDef, w: bigint): string | number {
  switch (def.type) {
    case 'hex':
      return hex(w);
    case 'u':
      return Number(BigInt.asUintN(64, w));
    case 'i':
      return Number(BigInt.asIntN(64, w));
    default: {
      const names = ENUMS[def.type as EnumName] as readonly string[];
      const v = Number(BigInt.asUintN(64, w));
      return names[v] ?? v;
    }
  }
}

/** JSON form: common columns plus named fields; 64-bit words as 0x… strings. */
export function eventToJson(e: TraceEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    seq: e.seq,
    time: e.time,
    kind: e.kind,
    lpid: e.lpid,
    vcpu: e.vcpu,
    core: e.core,
    cause: e.cause,
  };
  KINDS[e.kind].fields.forEach((d: FieldDef, j: number) => {
    out[d.name] = fieldValue(d, e.words[j] ?? 0n);
  });
  return out;
}
