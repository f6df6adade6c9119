// Arrow schema of trace format v1, derived from the same definitions as the SQLite table.
// Columns: seq, time (Uint64), kind (Uint8), lpid, vcpu, core (Int16), cause (Int64, null = none),
// w (List<Uint32>): the nonzero 32-bit halves of the payload words, in field order, low half first;
// wmask (Uint32): bit 2j set when the low half of field j is present in w, bit 2j+1 the high half.
// Field j is SQLite column wj; an absent half is 0. Zero suppression at 32-bit granularity keeps the
// uncompressed stream small: most fields are small integers or 0.
// Schema metadata: hvtrace.schema_version, hvtrace.profile, hvtrace.seed, hvtrace.config,
// hvtrace.tool_version and hvtrace.kinds (JSON of every kind's code and field names, so readers in
// other languages can name the payload words).

import { Field, Int16, Int64, List, Schema, Uint8, Uint32, Uint64 } from 'apache-arrow';
import { ENUMS, KINDS, KIND_NAMES } from './kinds.js';
import type { RunInfo } from './run-info.js';

export const ARROW_COLUMNS = ['seq', 'time', 'kind', 'lpid', 'vcpu', 'core', 'cause', 'w', 'wmask'] as const;

export function kindsJson(): string {
  return JSON.stringify({
    kinds: Object.fromEntries(
      KIND_NAMES.map((k) => [k, { code: KINDS[k].code, fields: KINDS[k].fields.map((f) => [f.name, f.type]) }]),
    ),
    enums: ENUMS,
  });
}

export function arrowSchema(info: RunInfo): Schema {
  const md = new Map<string, string>([
    ['hvtrace.schema_version', String(info.schemaVersion)],
    ['hvtrace.profile', info.profile],
    ['hvtrace.seed', String(info.seed)],
    ['hvtrace.config', JSON.stringify(info.config)],
    ['hvtrace.tool_version', info.toolVersion],
    ['hvtrace.kinds', kindsJson()],
  ]);
  if (info.timebaseHz !== undefined) md.set('hvtrace.timebase_hz', String(info.timebaseHz));
  return new Schema(
    [
      new Field('seq', new Uint64(), false),
      new Field('time', new Uint64(), false),
      new Field('kind', new Uint8(), false),
      new Field('lpid', new Int16(), false),
      new Field('vcpu', new Int16(), false),
      new Field('core', new Int16(), false),
      new Field('cause', new Int64(), true),
      new Field('w', new List(new Field('item', new Uint32(), false)), false),
      new Field('wmask', new Uint32(), false),
    ],
    md,
  );
}
