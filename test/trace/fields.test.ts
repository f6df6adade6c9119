// Named event fields (src/trace/fields.ts): the emitters and the field accessors by name.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { EventBatch } from '../../src/trace/batch.js';
import { eventAt, eventToJson, field, fieldNum, type TraceEvent } from '../../src/trace/event.js';
import { F, type FieldIndex, type KindCode } from '../../src/trace/fields.js';
import { ENUMS, type EnumName, type FieldDef, K, KINDS, KIND_NAMES, type KindDef, mixedFieldNames } from '../../src/trace/kinds.js';
import { NO_CAUSE, Recorder, type EventSink } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';

const collector = (out: EventBatch[]): EventSink => ({ open() {}, writeBatch: (b) => void out.push(b.clone()), close() {} });

test('the compiler rejects a wrong field name, a field of another kind and fields out of order', () => {
  const rec = Recorder.disabled();
  // Each marked line must fail to typecheck: `tsc --noEmit` reports an unused @ts-expect-error if the
  // emitter types ever stop catching it. The check is the compiler's alone (setters are shared by
  // all kinds at run time), so the lines are never run.
  const neverRun = () => {
    // @ts-expect-error no field `new_vv` in hpte_write
    rec.emit(K.hpte_write, 1, 0, 0, NO_CAUSE).hpte_index(3).old_v(0, 1).old_r(0, 2).new_vv(0, 3);
    // @ts-expect-error `gfn` belongs to rmap_change and others, not tlbie
    rec.emit(K.tlbie, 1, 0, 0, NO_CAUSE).rb(0, 0x800).gfn(5);
    // @ts-expect-error fields must be written in order: hpte_write.old_v comes before new_v
    rec.emit(K.hpte_write, 1, 0, 0, NO_CAUSE).hpte_index(3).new_v(0, 1);
    // @ts-expect-error a non-hex field takes one number, not (hi, lo)
    rec.emit(K.tlbie, 1, 0, 0, NO_CAUSE).rb(0, 1).scope(0, 1);
    // @ts-expect-error no field `ea` in hpte_write's field index map
    void F.hpte_write.ea;
    const e = { kind: 'run_end' } as TraceEvent;
    if (e.kind === 'tlbie') {
      // @ts-expect-error a narrowed event only has its kind's fields
      void field(e, 'gfn');
    }
  };
  void neverRun;
  assert.equal(rec.emit(K.tlbie, 1, 0, 0, NO_CAUSE).rb(1).seq, -1, 'a disabled recorder writes nothing');
});

/** Random value of a field, as the setter arguments and the unsigned 64-bit word expected back. */
function arbField(d: FieldDef): fc.Arbitrary<{ args: [number] | [number, number]; word: bigint }> {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  if (d.type === 'hex') return fc.tuple(u32, u32).map(([hi, lo]) => ({ args: [hi, lo] as [number, number], word: (BigInt(hi) << 32n) | BigInt(lo) }));
  if (d.type === 'u') return fc.maxSafeNat().map((x) => ({ args: [x] as [number], word: BigInt(x) }));
  if (d.type === 'i') return fc.maxSafeInteger().map((x) => ({ args: [x] as [number], word: BigInt.asUintN(64, BigInt(x)) }));
  const n = ENUMS[d.type as EnumName].length;
  return fc.integer({ min: 0, max: n - 1 }).map((x) => ({ args: [x] as [number], word: BigInt(x) }));
}

type AnyEmitter = { seq: number } & { [field: string]: (a: number, b?: number) => AnyEmitter };

test('round trip for every kind: random values written through the emitter read back by name', () => {
  for (const k of KIND_NAMES) {
    const fields = KINDS[k].fields as readonly FieldDef[];
    fc.assert(
      fc.property(
        fc.tuple(...fields.map(arbField)),
        fc.integer({ min: 0, max: fields.length }),
        (vals, written) => {
          const batches: EventBatch[] = [];
          const rec = new Recorder([collector(batches)], runInfo('synthetic', 1, {}), 8);
          let em = rec.emit(KINDS[k].code as KindCode, 1, 2, 3, 0) as unknown as AnyEmitter;
          // Only the first `written` fields: the rest are trailing omitted fields, read as zero.
          for (let j = 0; j < written; j++) em = em[fields[j].name](...(vals[j].args as [number, number]));
          assert.equal(em.seq, 1);
          rec.close(true);
          const b = batches[0].toDense();
          const e = eventAt(b, 1);
          assert.equal(e.kind, k);
          const json = eventToJson(e);
          fields.forEach((d, j) => {
            const want = j < written ? vals[j].word : 0n;
            const idx = (F[k] as unknown as Record<string, FieldIndex>)[d.name];
            assert.equal(idx, j, `F.${k}.${d.name}`);
            assert.equal(b.big(1, idx), want, `${k}.${d.name} by F`);
            assert.equal(b.lo(1, idx), Number(want & 0xffffffffn));
            assert.equal(b.hi(1, idx), Number(want >> 32n));
            assert.equal(field(e, d.name as never), want, `${k}.${d.name} by field()`);
            if (d.type !== 'hex') {
              assert.equal(b.num(1, idx), Number(BigInt.asIntN(64, want)));
              assert.equal(fieldNum(e, d.name as never), Number(BigInt.asIntN(64, want)));
            }
            if (d.type === 'i') assert.equal(json[d.name], Number(BigInt.asIntN(64, want)), 'signed fields print as numbers');
            if (d.type === 'hex') assert.match(String(json[d.name]), /^0x[0-9a-f]+$/);
          });
        },
      ),
      { numRuns: 40 },
    );
  }
});

test('a typed emitter writes the same wire bytes as the field order says (hpte_write by name)', () => {
  const batches: EventBatch[] = [];
  const rec = new Recorder([collector(batches)], runInfo('synthetic', 1, {}), 8);
  rec.emit(K.hpte_write, 1, 0, 0, NO_CAUSE).hpte_index(0x1a298).old_v(0, 0).old_r(0, 0).new_v(0x12345, 0x60000001).new_r(0, 0x7e5a1192);
  rec.close(true);
  const b = batches[0].toDense();
  assert.equal(b.nwords(1), 5, 'guest_r omitted: a trailing zero word is not stored');
  assert.equal(b.num(1, F.hpte_write.hpte_index), 0x1a298);
  assert.equal(b.lo(1, F.hpte_write.new_v) & 1, 1, 'HPTE_V_VALID');
  assert.equal(b.big(1, F.hpte_write.new_v), 0x1234560000001n);
  assert.equal(b.big(1, F.hpte_write.guest_r), 0n);
  // The wire form: halves in field order, zero halves suppressed (hpte_index lo; new_v lo, hi; new_r lo).
  assert.deepEqual([...batches[0].wire!.words.subarray(batches[0].wire!.wofs[1], batches[0].wire!.wofs[2])], [0x1a298, 0x60000001, 0x12345, 0x7e5a1192]);
  assert.equal(batches[0].wire!.wmask[1], 0b01_11_00_00_01);
});

test('one type per field name across kinds; enum fields may differ only in their enumeration', () => {
  assert.deepEqual(mixedFieldNames(KINDS), []);
  // The check catches a second display type for a name (the old rmap_change.gfn 'hex' vs 'i').
  const bad: Record<string, KindDef> = {
    a: { code: 1, family: 'x', doc: '', fields: [{ name: 'gfn', type: 'hex', doc: '' }] },
    b: { code: 2, family: 'x', doc: '', fields: [{ name: 'gfn', type: 'i', doc: '' }] },
  };
  assert.deepEqual(mixedFieldNames(bad), ['gfn']);
  // Names shared by enum fields of different enumerations are the documented ones only (kinds.ts).
  const enumsOf = new Map<string, Set<string>>();
  for (const k of KIND_NAMES)
    for (const d of KINDS[k].fields as readonly FieldDef[])
      if (d.type in ENUMS) enumsOf.set(d.name, (enumsOf.get(d.name) ?? new Set()).add(d.type));
  assert.deepEqual([...enumsOf].filter(([, s]) => s.size > 1).map(([n]) => n).sort(), ['op', 'state']);
  // The fields that had two numeric types: one each now, -1 sentinels signed.
  for (const name of ['gfn', 'hpte_index', 'base_gfn', 'slot']) {
    const types = new Set(KIND_NAMES.flatMap((k) => (KINDS[k].fields as readonly FieldDef[]).filter((d) => d.name === name).map((d) => d.type)));
    assert.deepEqual([...types], ['i'], name);
  }
});

/** .ts files under dir, recursively. */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('payload words are read by field name everywhere outside src/trace', () => {
  const root = join(import.meta.dirname, '..', '..');
  const files = ['src', 'cli', 'bench', 'test'].flatMap((d) => tsFiles(join(root, d)));
  const offenders: string[] = [];
  for (const p of files) {
    const rel = p.slice(root.length + 1);
    if (rel.startsWith('src/trace/') || rel === 'test/trace/fields.test.ts') continue;
    const text = readFileSync(p, 'utf8');
    // Positional reads: the raw word accessors, and `words[<digit>]` on decoded events.
    for (const m of text.matchAll(/\.(wordNum|wordLo|wordHi|wordBig)\(|\bwords\[\d/g)) offenders.push(`${rel}: ${m[0]}`);
  }
  assert.deepEqual(offenders, []);
});
