// SQLite DDL and views, generated from the kind table (kinds.ts).
//
// events: one row per event; seq is the rowid. Payload words w0..w11 hold 64-bit two's-complement
// bit patterns (bind BigInt.asIntN(64, x); read with safeIntegers and BigInt.asUintN(64, x)).
// Trailing zero words are stored as NULL; the views restore them with IFNULL(w, 0).
// Views: ev_<kind> for every kind (named fields, enum names), plus the contract views below.

import { ENUMS, type EnumName, type FieldDef, KINDS, KIND_NAMES, MAX_FIELDS, SCHEMA_VERSION } from './kinds.js';
import { HCALL_NAMES, HRET_NAMES } from './names.js';

export const EVENT_COLUMNS = ['seq', 'time', 'kind', 'lpid', 'vcpu', 'core', 'cause',
  ...Array.from({ length: MAX_FIELDS }, (_, i) => `w${i}`)] as const;

export const COMMON_COLUMN_DOCS: Record<string, string> = {
  seq: 'dense event number from 0 (the rowid); total order of the run',
  time: 'deterministic timebase ticks when the event happened (meta timebase_hz: 512 MHz on POWER7); advanced by the timing table of src/arch/timing.ts (section Time)',
  kind: 'event kind code (table `kinds`; one view ev_<kind> per kind)',
  lpid: 'logical partition id the event concerns (-1 for host-only events)',
  vcpu: 'vcpu id (-1 if none)',
  core: 'physical core (-1 if none)',
  cause: 'seq of the event that caused this one (e.g. the hcall_enter of an H_ENTER that wrote an HPTE), NULL if none',
};

export const CREATE_TABLES = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  lpid INTEGER NOT NULL,
  vcpu INTEGER NOT NULL,
  core INTEGER NOT NULL,
  cause INTEGER,
  ${Array.from({ length: MAX_FIELDS }, (_, i) => `w${i} INTEGER`).join(',\n  ')}
) STRICT;
CREATE TABLE IF NOT EXISTS kinds (code INTEGER PRIMARY KEY, name TEXT NOT NULL, family TEXT NOT NULL, doc TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS kind_fields (kind TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, position)) STRICT;
CREATE TABLE IF NOT EXISTS enums (enum TEXT NOT NULL, value INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (enum, value)) STRICT;
`;

/** Indexes built when the recording closes (cheaper than maintaining them during the load). */
export const CREATE_INDEXES = `
CREATE INDEX IF NOT EXISTS events_kind_w0 ON events(kind, w0);
CREATE INDEX IF NOT EXISTS events_kind_w1 ON events(kind, w1);
CREATE INDEX IF NOT EXISTS events_cause ON events(cause) WHERE cause IS NOT NULL;
`;

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

function caseExpr(col: string, table: readonly (readonly [number, string])[], fallback: string): string {
  const arms = table.map(([v, n]) => `WHEN ${v} THEN ${sqlString(n)}`).join(' ');
  return `CASE ${col} ${arms} ELSE ${fallback} END`;
}

function enumExpr(col: string, e: EnumName): string {
  return caseExpr(col, ENUMS[e].map((n, i) => [i, n] as const), `'?' || ${col}`);
}

export function hcallNameExpr(col: string): string {
  return caseExpr(col, HCALL_NAMES, `printf('0x%x', ${col})`);
}

export function hretNameExpr(col: string): string {
  return caseExpr(col, HRET_NAMES, `CAST(${col} AS TEXT)`);
}

function fieldExpr(d: FieldDef, j: number): string {
  const col = `IFNULL(w${j}, 0)`;
  if (d.type === 'hex' || d.type === 'u' || d.type === 'i') return col;
  return enumExpr(col, d.type);
}

function kindView(kind: (typeof KIND_NAMES)[number]): string {
  const def = KINDS[kind];
  const cols = def.fields.map((d, j) => `${fieldExpr(d, j)} AS ${d.name}`);
  return `CREATE VIEW IF NOT EXISTS ev_${kind} AS SELECT seq, time, lpid, vcpu, core, cause${cols.length ? ', ' : ''}${cols.join(', ')} FROM events WHERE kind = ${def.code};`;
}

/** The public views named in docs/product.md, on top of the per-kind views. */
export const CONTRACT_VIEWS: Record<string, { sql: string; doc: string }> = {
  hcalls: {
    doc: 'One row per hcall: arguments from hcall_enter, results from its hcall_exit (NULL while in flight, e.g. in a truncated trace).',
    sql: `CREATE VIEW IF NOT EXISTS hcalls AS
SELECT e.seq AS seq, e.time AS time, e.lpid AS lpid, e.vcpu AS vcpu, e.nr AS nr, ${hcallNameExpr('e.nr')} AS name,
  x.ret AS ret, ${hretNameExpr('x.ret')} AS ret_name, x.path AS path,
  e.r4 AS r4, e.r5 AS r5, e.r6 AS r6, e.r7 AS r7,
  x.out_r4 AS out_r4, x.out_r5 AS out_r5, x.seq AS exit_seq, x.time - e.time AS duration
FROM ev_hcall_enter e LEFT JOIN ev_hcall_exit x ON x.cause = e.seq;`,
  },
  hpte_updates: {
    doc: 'Every HPTE write with hardware words before and after and the guest view.',
    sql: `CREATE VIEW IF NOT EXISTS hpte_updates AS
SELECT seq, time, lpid, hpte_index, old_v, old_r, new_v, new_r, guest_r, cause FROM ev_hpte_write;`,
  },
  faults: {
    doc: 'Guest storage faults: the interrupt raised and the real-mode triage decision.',
    sql: `CREATE VIEW IF NOT EXISTS faults AS
SELECT seq, time, lpid, vcpu, interrupt AS kind, ea, gfn, decision, status, out_status, hpte_index, access, cause FROM ev_fault_triage;`,
  },
  page_faults: {
    doc: 'Virtual-mode page faults (kvmppc_book3s_hv_page_fault): entry snapshot joined with the exit outcome; duration (ticks) is the fault\'s own work plus the host work it waited for (get_user_pages, fault-in or swap-in, tlbie), see Time.',
    sql: `CREATE VIEW IF NOT EXISTS page_faults AS
SELECT e.seq AS seq, e.time AS time, e.lpid AS lpid, e.vcpu AS vcpu, e.ea AS ea, e.gfn AS gfn, e.hpte_index AS hpte_index,
  e.hpte_v AS hpte_v, e.hpte_r AS hpte_r, e.gpte_r AS gpte_r, e.dsisr AS dsisr,
  x.outcome AS outcome, x.ret AS ret, x.hpte_v AS new_v, x.seq AS exit_seq, x.time - e.time AS duration, e.cause AS cause
FROM ev_page_fault_enter e LEFT JOIN ev_page_fault_exit x ON x.cause = e.seq;`,
  },
  notifier_events: {
    doc: 'MMU-notifier callbacks and their effect on the HPT.',
    sql: `CREATE VIEW IF NOT EXISTS notifier_events AS
SELECT seq, time, lpid, callback AS kind, hva_start, hva_end, gfn, effect, hptes, mmu_seq, mmu_count, cause FROM ev_notifier;`,
  },
  partition_switches: {
    doc: 'Partition switches on full guest entry/exit.',
    sql: `CREATE VIEW IF NOT EXISTS partition_switches AS
SELECT seq, time, core, thread, from_lpid, to_lpid, direction, trap, lpid, vcpu, cause FROM ev_partition_switch;`,
  },
  tlb_invalidations: {
    doc: 'tlbie/tlbiel and TLB set flushes.',
    sql: `CREATE VIEW IF NOT EXISTS tlb_invalidations AS
SELECT seq, time, lpid, rb, scope, sets, core, cause FROM ev_tlbie;`,
  },
  rmap_changes: {
    doc: 'rmap word changes: revmap chain link/unlink and R/C updates.',
    sql: `CREATE VIEW IF NOT EXISTS rmap_changes AS
SELECT seq, time, lpid, op, gfn, hpte_index, rmap, forw, back, cause FROM ev_rmap_change;`,
  },
  host_pages: {
    doc: 'Host page-table and page-state events.',
    sql: `CREATE VIEW IF NOT EXISTS host_pages AS
SELECT seq, time, op, hva, pfn, writable, page_shift, owner, lpid, cause FROM ev_host_page;`,
  },
};

export function schemaSql(): string {
  const views = KIND_NAMES.map(kindView);
  return [CREATE_TABLES, ...views, ...Object.values(CONTRACT_VIEWS).map((v) => v.sql)].join('\n');
}

/** Rows for the self-describing lookup tables (kinds, kind_fields, enums). */
export function lookupRows() {
  const kinds = KIND_NAMES.map((k) => [KINDS[k].code, k, KINDS[k].family, KINDS[k].doc] as const);
  const fields = KIND_NAMES.flatMap((k) =>
    KINDS[k].fields.map((d: FieldDef, j: number) => [k, j, d.name, d.type, d.doc] as const),
  );
  const enums = (Object.keys(ENUMS) as EnumName[]).flatMap((e) => ENUMS[e].map((n, i) => [e, i, n] as const));
  return { kinds, fields, enums };
}

export { SCHEMA_VERSION };
