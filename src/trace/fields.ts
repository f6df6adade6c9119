// Named event fields: the one way to write an event (typed emitters) and to read a payload word
// (the field index map F), both derived from KINDS so a new kind needs only its entry in kinds.ts.
//
// Write: `rec.emit(kind code, lpid, vcpu, core, cause)` returns the emitter of that kind, a chain of
// one setter per field in field order; the compiler rejects a wrong name, a field of another kind
// and a field out of order. Fields left off at the end are zero. `.seq` is the event's seq (-1 when
// the recorder is disabled):
//
//   const seq = rec.emit(K.hpte_write, lpid, vcpu, core, cause)
//     .hpte_index(i).old_v(ovh, ovl).old_r(orh, orl).new_v(vh, vl).new_r(rh, rl).guest_r(gh, gl).seq;
//
// A 'hex' setter takes the word as (hi, lo) unsigned 32-bit halves or as one number (exact below
// 2^53); every other setter takes a number (negative = two's complement, enums as `E.x.y`).
//
// Read: `F.<kind>.<field>` is the field's word index, a branded FieldIndex (a bare number is
// rejected) that the EventBatch accessors num/lo/hi/big take; a decoded TraceEvent is read with
// field()/fieldNum() (event.ts), whose names narrow with `e.kind`:
//
//   const absent = b.lo(i, F.hpte_write.new_v) & 0x20;
//   if (e.kind === 'hpte_write' && (field(e, 'new_v') & 0x20n) !== 0n) ...
//
// Cost: a setter is a method of one object shared by all kinds (the Recorder's PayloadWriter, also
// returned, aimed at scratch space, by a disabled recorder), so a call site is monomorphic and V8
// inlines it to the same blind stores the positional calls made; nothing is allocated.
// That is possible because every field name has one type in every kind (kinds.ts checks it): the
// setter `gfn` means the same thing whichever kind it is written in.

import { type EventKind, type FieldType, KINDS, KIND_NAMES, MAX_FIELDS } from './kinds.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

type Fields<Kd extends EventKind> = (typeof KINDS)[Kd]['fields'];

/** Index of a payload word, obtainable only from F (or fieldIndex for code generic over kinds). */
export type FieldIndex = number & { readonly __field: unique symbol };

/** The word index of every field of every kind: `F.hpte_write.new_v` is 3. */
export type FieldIndexMap = {
  readonly [P in EventKind]: { readonly [J in keyof Fields<P> & `${number}` as Fields<P>[J] extends { name: infer N extends string } ? N : never]: FieldIndex };
};

type Setter<T extends FieldType, Next> = T extends 'hex'
  ? { (hi: number, lo: number): Next; (value: number): Next }
  : (value: number) => Next;

/** The seq of the event being written (-1 when the recorder is disabled). */
interface Seq {
  readonly seq: number;
}

/** The emitter of a kind with fields Fs still to write: the next field's setter, or nothing. */
export type FieldChain<Fs> = Fs extends readonly [infer D extends { name: string; type: FieldType }, ...infer Rest]
  ? Seq & { readonly [N in D['name']]: Setter<D['type'], FieldChain<Rest>> }
  : Seq;

/** Kind name of a code literal: KindOfCode<20> is 'hpte_write'. */
export type KindOfCode<C extends number> = { [P in EventKind]: (typeof KINDS)[P]['code'] extends C ? P : never }[EventKind];
export type KindCode = (typeof KINDS)[EventKind]['code'];

/** The emitter returned by `rec.emit(K.kind, ...)`. */
export type Emitter<Kd extends EventKind> = FieldChain<Fields<Kd>>;

// ---------------------------------------------------------------------------------------------
// Field index map
// ---------------------------------------------------------------------------------------------

export const F: FieldIndexMap = Object.fromEntries(
  KIND_NAMES.map((k) => [k, Object.fromEntries(KINDS[k].fields.map((d, j) => [d.name, j]))]),
) as never;

/** Word j as a FieldIndex, for code that walks every field of a kind (printing, JSON, converters). */
export const fieldIndex = (j: number): FieldIndex => j as FieldIndex;

// ---------------------------------------------------------------------------------------------
// The writer: one setter per distinct field name, generated from KINDS
// ---------------------------------------------------------------------------------------------

/**
 * Payload cursor of the event being written, in the batch's wire form (batch.ts WireColumns): both
 * 32-bit halves are stored blindly and the cursor advances past a nonzero one only, so zero
 * suppression costs no branch. Internal to the Recorder; callers see it only as an Emitter.
 */
export class PayloadWriter {
  words: Uint32Array<ArrayBufferLike>;
  /** Halves written in this batch; presence mask and next mask bit of the open event. */
  pk = 0;
  pm = 0;
  pbit = 0;
  seq = -1;

  constructor(words: Uint32Array<ArrayBufferLike>) {
    this.words = words;
  }

  /** Append a 64-bit word given as unsigned 32-bit halves. */
  pair(hi: number, lo: number): void {
    if (this.pbit >= 2 * MAX_FIELDS) throw new Error(`Recorder: more than ${MAX_FIELDS} words in event ${this.seq}`);
    lo >>>= 0; // halves as stored (a caller's 2^32 or -1 must not set a mask bit over a stored 0)
    hi >>>= 0;
    const l = +(lo !== 0);
    const h = +(hi !== 0);
    const words = this.words;
    let k = this.pk;
    words[k] = lo;
    k += l;
    words[k] = hi;
    this.pk = k + h;
    this.pm |= (l | (h << 1)) << this.pbit;
    this.pbit += 2;
  }

  /** Append an integer word (exact for |x| < 2^53; negative values are two's complement). */
  num(x: number): void {
    this.pair(Math.floor(x / 4294967296) >>> 0, x >>> 0);
  }
}

/** Field names with their type, one type per name (kinds.ts checks it at load). */
function fieldTypes(): Map<string, FieldType> {
  const m = new Map<string, FieldType>();
  for (const k of KIND_NAMES) for (const d of KINDS[k].fields) m.set(d.name, d.type);
  return m;
}

// Setters are installed once on the prototypes at load (the class shape then never changes).
(() => {
  const reserved = new Set([
    ...Object.getOwnPropertyNames(PayloadWriter.prototype),
    ...Object.keys(new PayloadWriter(new Uint32Array(0))),
  ]);
  for (const [name, type] of fieldTypes()) {
    if (reserved.has(name)) throw new Error(`field name ${name} collides with a PayloadWriter member`);
    const set =
      type === 'hex'
        ? function (this: PayloadWriter, a: number, b?: number): PayloadWriter {
            if (b === undefined) this.num(a);
            else this.pair(a, b);
            return this;
          }
        : function (this: PayloadWriter, x: number): PayloadWriter {
            this.num(x);
            return this;
          };
    Object.defineProperty(PayloadWriter.prototype, name, { value: set, writable: false, enumerable: false });
  }
})();
