// Trace format v1: the one definition of every event kind and its fields.
//
// Everything persisted derives from this table: the SQLite DDL and views (schema-sql.ts), the Arrow
// schema (arrow-schema.ts), the documentation in schemas/ (docs.ts) and the TypeScript field types.
//
// Layout. Every event has the common columns (seq, time, kind, lpid, vcpu, core, cause) and up to
// MAX_FIELDS payload words w0..w11. A kind names its words: `hpte_write.w0` is `hpte_index`. All
// payload words are 64-bit two's-complement bit patterns; the `type` of a field says how to show it
// ('hex' = unsigned 64-bit word printed 0x…, 'u' = unsigned count/index, 'i' = signed value such as
// an hcall return code, or an enum name). A field name has one type in every kind that uses it
// (checked below, at compile time and at load): `gfn` is always 'i' (-1 = none), so a view or query
// that mixes kinds shows it one way, and the emitter setter `.gfn()` (fields.ts) means one thing.
// Enum fields are the one allowed difference: `op` is rmap_op in rmap_change, host_page_op in
// host_page, memslot_op in memslot and guest_op_kind in guest_op, and `state` is vcore_state or
// vcpu_state. An enum field's type is its enumeration: it is always stored as a small unsigned index
// and always shown as a name, never as a number, so no reader can confuse two kinds' `op` (every
// view is per kind, and the name table goes with the kind); renaming them per kind would only rename
// stable view columns. The rule is about numeric display: a name is 'hex', 'u', 'i' or 'enum'
// everywhere. Kinds are append-only: a new kind gets a new code and the
// schema version goes up; a code is never reused or renamed.

export const SCHEMA_VERSION = 1;
export const MAX_FIELDS = 12;

export type FieldType = 'hex' | 'u' | 'i' | EnumName;

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  readonly doc: string;
}

export interface KindDef {
  readonly code: number;
  readonly family: string;
  readonly doc: string;
  readonly fields: readonly FieldDef[];
}

// ---------------------------------------------------------------------------------------------
// Enumerations stored as small integers in payload words. Names are what views and JSON print.
// ---------------------------------------------------------------------------------------------
export const ENUMS = {
  /** Where an hcall was completed (kernel-model §D.2). */
  hcall_path: ['real', 'virtual', 'user'],
  /** TLB invalidation form. */
  tlb_scope: ['global', 'local', 'lpid_sets', 'all_sets'],
  /** Real-mode triage outcome of kvmppc_hpte_hv_fault (kernel-model §E.2). */
  fault_decision: ['reflect', 'retry', 'virtual', 'mmio', 'guest'],
  /** Which interrupt the hardware raised for a storage fault. */
  fault_kind: ['hdsi', 'hisi', 'dsi', 'isi'],
  /** Outcome of kvmppc_book3s_hv_page_fault (kernel-model §E.3). */
  page_fault_outcome: ['installed', 'upgraded', 'changed', 'notifier_retry', 'stale_addr', 'mmio', 'efault'],
  /** MMU-notifier callback (kernel-model §F.1, F.2). */
  notifier_kind: ['invalidate_page', 'range_start', 'range_end', 'change_pte', 'clear_flush_young', 'test_young', 'release'],
  /** What a notifier callback did. */
  notifier_effect: ['none', 'invalidated', 'aged', 'young', 'not_young', 'noop_pinned'],
  /** Host page-table / page-state event. */
  host_page_op: ['map', 'unmap', 'swap_out', 'swap_in', 'pin', 'unpin', 'protect', 'age'],
  /** Partition switch direction. */
  switch_direction: ['entry', 'exit'],
  /** rmap/revmap chain operation. */
  rmap_op: ['link', 'unlink', 'update'],
  memslot_op: ['create', 'delete'],
  vcore_state: ['inactive', 'running', 'exiting', 'sleeping'],
  vcpu_state: ['stopped', 'busy_in_host', 'runnable'],
  /** Guest workload operation (src/guest/workloads.ts GUEST_OPS). */
  guest_op_kind: ['load', 'store', 'ifetch', 'spawn', 'exit', 'munmap', 'mprotect_ro', 'mprotect_rw', 'mmio_load', 'mmio_store', 'tick'],
} as const;

export type EnumName = keyof typeof ENUMS;

// `f` keeps the literal name and type so the compiler knows every kind's fields (emitters and the
// field index map F in fields.ts are typed from them).
const f = <N extends string, T extends FieldType>(name: N, type: T, doc: string) => ({ name, type, doc }) as const;
const regs = <P extends string>(prefix: P, doc: string) =>
  [
    f(`${prefix}r4`, 'hex', `${doc} r4`),
    f(`${prefix}r5`, 'hex', `${doc} r5`),
    f(`${prefix}r6`, 'hex', `${doc} r6`),
    f(`${prefix}r7`, 'hex', `${doc} r7`),
    f(`${prefix}r8`, 'hex', `${doc} r8`),
    f(`${prefix}r9`, 'hex', `${doc} r9`),
    f(`${prefix}r10`, 'hex', `${doc} r10`),
    f(`${prefix}r11`, 'hex', `${doc} r11`),
  ] as const;

// ---------------------------------------------------------------------------------------------
// The kinds. Codes are stable forever.
// ---------------------------------------------------------------------------------------------
export const KINDS = {
  run_start: {
    code: 1, family: 'run', doc: 'First event of a recording; configuration is in the meta table.',
    fields: [f('seed', 'hex', 'PRNG seed of the run')],
  },
  run_end: {
    code: 2, family: 'run', doc: 'Last event of a complete recording.',
    fields: [f('events', 'u', 'number of events before this one')],
  },
  hcall_enter: {
    code: 10, family: 'hcall', doc: 'Guest issued `sc 1`: hcall number (r3) and register arguments r4..r11.',
    fields: [f('nr', 'hex', 'hcall number (r3 on entry)'), ...regs('', 'argument')],
  },
  hcall_exit: {
    code: 11, family: 'hcall',
    doc: 'Hcall completed; `cause` is its hcall_enter. ret is r3 (H_* code, signed); r4..r11 are the output registers.',
    fields: [
      f('nr', 'hex', 'hcall number'),
      f('ret', 'i', 'return code in r3 (H_SUCCESS 0, H_PARAMETER -4, ...)'),
      f('path', 'hcall_path', 'real = real-mode handler, virtual = host virtual mode, user = VMM (KVM_EXIT_PAPR_HCALL)'),
      ...regs('out_', 'output'),
    ],
  },
  hpte_write: {
    code: 20, family: 'hpte',
    doc: 'An HPTE (both dwords) changed in the hashed page table, with the guest view (revmap guest_rpte) after the write.',
    fields: [
      f('hpte_index', 'i', 'HPTE index (PTEG * 8 + slot)'),
      f('old_v', 'hex', 'hardware dword 0 before'),
      f('old_r', 'hex', 'hardware dword 1 before'),
      f('new_v', 'hex', 'hardware dword 0 after'),
      f('new_r', 'hex', 'hardware dword 1 after'),
      f('guest_r', 'hex', 'revmap guest_rpte after (guest-physical dword 1)'),
    ],
  },
  rmap_change: {
    code: 21, family: 'rmap',
    doc: 'A per-gfn rmap word changed: a revmap chain link/unlink of an HPTE, or an R/C update of the word.',
    fields: [
      f('op', 'rmap_op', 'link, unlink, or update (R/C bits only)'),
      f('gfn', 'i', 'guest frame number (host-page units)'),
      f('hpte_index', 'i', 'HPTE linked or unlinked (-1 for update)'),
      f('rmap', 'hex', 'rmap word after (REFERENCED 1<<40, CHANGED 1<<39, PRESENT 1<<32, INDEX low 32 bits)'),
      f('forw', 'i', 'revmap forw link of hpte_index after (-1 if none)'),
      f('back', 'i', 'revmap back link of hpte_index after (-1 if none)'),
    ],
  },
  tlbie: {
    code: 22, family: 'tlb',
    doc: 'TLB invalidation: tlbie (global) / tlbiel (local) of one entry, or a flush of all sets of the LPID / the whole TLB.',
    fields: [
      f('rb', 'hex', 'RB operand (compute_tlbie_rb for one entry; TLBIE_RB_SET_FLUSH (IS=0b10) for an LPID set flush, 0 for a flush of the whole TLB)'),
      f('scope', 'tlb_scope', 'global (tlbie), local (tlbiel), lpid_sets (IS=0b10 over all sets), all_sets (untagged TLB)'),
      f('sets', 'u', 'number of sets flushed (0 for a single entry)'),
    ],
  },
  fault_triage: {
    code: 30, family: 'fault',
    doc: 'A guest storage fault seen by the hardware model and, for HDSI/HISI, the real-mode triage of kvmppc_hpte_hv_fault.',
    fields: [
      f('interrupt', 'fault_kind', 'interrupt raised: hdsi/hisi (to the hypervisor, VPM1) or dsi/isi (straight to the guest)'),
      f('ea', 'hex', 'effective address (HDAR / DAR / PC)'),
      f('status', 'hex', 'DSISR (data) or SRR1 cause bits (instruction) as raised'),
      f('slb_v', 'hex', 'SLB VSID word used (vrma_slb_v in real mode; 0 if no SLB entry)'),
      f('hpte_index', 'i', 'HPTE found by find_lock_hpte (-1 if none)'),
      f('decision', 'fault_decision', 'reflect (DSI/ISI to guest), retry, virtual (host page fault), mmio, guest (delivered directly, no VPM)'),
      f('out_status', 'hex', 'status reflected to the guest (0 if not reflected)'),
      f('gfn', 'i', 'guest frame of the HPTE guest view (-1 if unknown)'),
      f('access', 'u', 'access type: 0 load, 1 store, 2 instruction fetch'),
    ],
  },
  page_fault_enter: {
    code: 31, family: 'fault',
    doc: 'kvmppc_book3s_hv_page_fault entry (fields of the kvm_page_fault_enter tracepoint).',
    fields: [
      f('hpte_v', 'hex', 'HPTE dword 0 snapshot'),
      f('hpte_r', 'hex', 'HPTE hardware dword 1 snapshot'),
      f('gpte_r', 'hex', 'guest view dword 1 (guest_rpte)'),
      f('ea', 'hex', 'faulting effective address'),
      f('base_gfn', 'i', 'memslot base gfn (-1 if no memslot)'),
      f('slot_flags', 'hex', 'memslot flags'),
      f('dsisr', 'hex', 'DSISR passed to the handler'),
      f('hpte_index', 'i', 'pgfault_index'),
      f('gfn', 'i', 'guest frame faulted on (-1 if unknown)'),
    ],
  },
  page_fault_exit: {
    code: 32, family: 'fault',
    doc: 'kvmppc_book3s_hv_page_fault exit (fields of kvm_page_fault_exit plus the outcome); `cause` is the enter event.',
    fields: [
      f('hpte_v', 'hex', 'new dword 0 on success, else the snapshot'),
      f('hpte_r', 'hex', 'old hardware dword 1'),
      f('ret', 'i', 'RESUME_GUEST 0 / RESUME_HOST 2 / negative errno'),
      f('outcome', 'page_fault_outcome', 'what the handler did'),
      f('hpte_index', 'i', 'HPTE index'),
      f('gfn', 'i', 'guest frame (-1 if MMIO/unknown)'),
    ],
  },
  notifier: {
    code: 40, family: 'notifier',
    doc: 'An MMU-notifier callback into KVM (host changed the VMM page table), with what it did to the HPT.',
    fields: [
      f('callback', 'notifier_kind', 'callback'),
      f('hva_start', 'hex', 'host virtual address (range start)'),
      f('hva_end', 'hex', 'range end (exclusive); hva_start + page size for single-page callbacks'),
      f('gfn', 'i', 'first guest frame affected (-1 if the range hits no memslot)'),
      f('effect', 'notifier_effect', 'result'),
      f('hptes', 'u', 'HPTEs invalidated or aged'),
      f('mmu_seq', 'u', 'kvm->mmu_notifier_seq after'),
      f('mmu_count', 'u', 'kvm->mmu_notifier_count after'),
    ],
  },
  host_page: {
    code: 41, family: 'host',
    doc: 'Host memory event on the VMM page table or a physical page (map, unmap, swap, pin, aging).',
    fields: [
      f('op', 'host_page_op', 'operation'),
      f('hva', 'hex', 'host virtual address (0 for a page not mapped in the VMM)'),
      f('pfn', 'hex', 'host page frame number'),
      f('writable', 'u', '1 if the host PTE is writable after'),
      f('page_shift', 'u', 'host page size shift (12, 16, 24)'),
      f('owner', 'u', '0 = VMM (guest RAM), 1 = other host process'),
    ],
  },
  partition_switch: {
    code: 50, family: 'switch',
    doc: 'A core switched partitions (LPID/SDR1/LPCR) on guest entry or exit; only full exits switch.',
    fields: [
      f('thread', 'u', 'hardware thread that performed the switch (ptid 0 is the primary)'),
      f('from_lpid', 'i', 'LPID before'),
      f('to_lpid', 'i', 'LPID after'),
      f('direction', 'switch_direction', 'entry (host → guest) or exit (guest → host)'),
      f('trap', 'hex', 'exit trap that caused the switch (0 on entry)'),
      f('sdr1', 'hex', 'SDR1 loaded'),
      f('lpcr', 'hex', 'LPCR (POWER7) or HID4 (PPC970) loaded'),
    ],
  },
  guest_enter: {
    code: 51, family: 'switch',
    doc: 'A vcpu entered guest mode (kvm_guest_enter).',
    fields: [f('pc', 'hex', 'guest PC'), f('msr', 'hex', 'guest MSR')],
  },
  guest_exit: {
    code: 52, family: 'switch',
    doc: 'A vcpu left guest mode with a full exit (kvm_guest_exit).',
    fields: [f('trap', 'hex', 'BOOK3S_INTERRUPT_* trap number'), f('pc', 'hex', 'guest PC'), f('msr', 'hex', 'guest MSR')],
  },
  mmio_exit: {
    code: 53, family: 'mmio',
    doc: 'Emulated MMIO access completed by the VMM device model (KVM_EXIT_MMIO).',
    fields: [
      f('gpa', 'hex', 'guest physical address'),
      f('len', 'u', 'access length in bytes'),
      f('is_write', 'u', '1 for a store'),
      f('data', 'hex', 'value stored or loaded'),
      f('inst', 'hex', 'instruction word emulated'),
    ],
  },
  memslot: {
    code: 60, family: 'vm',
    doc: 'A memslot was created or deleted (KVM_SET_USER_MEMORY_REGION).',
    fields: [
      f('op', 'memslot_op', 'create or delete'),
      f('slot', 'i', 'slot id'),
      f('base_gfn', 'i', 'first guest frame'),
      f('npages', 'u', 'pages (host-page units)'),
      f('userspace_addr', 'hex', 'hva of base_gfn'),
      f('flags', 'hex', 'KVM_MEM_* flags'),
    ],
  },
  vm_create: {
    code: 61, family: 'vm',
    doc: 'A VM was created: its LPID and hashed page table.',
    fields: [
      f('hpt_order', 'u', 'log2 of the HPT size in bytes'),
      f('sdr1', 'hex', 'SDR1 value (HTABORG | order-18)'),
      f('lpcr', 'hex', 'guest LPCR (HID4 on PPC970)'),
      f('vm_id', 'u', 'emulator VM number'),
    ],
  },
  vcore_state: {
    code: 62, family: 'vm',
    doc: 'A vcore changed state (kvmppc_run_core).',
    fields: [f('vcore', 'u', 'vcore id (vcpu_id / threads_per_core)'), f('state', 'vcore_state', 'new state'), f('n_runnable', 'u', 'runnable vcpus')],
  },
  vcpu_state: {
    code: 63, family: 'vm',
    doc: 'A vcpu changed state.',
    fields: [f('state', 'vcpu_state', 'new state'), f('ret', 'i', 'vcpu->arch.ret (RESUME_* or -errno)'), f('exit_reason', 'u', 'run->exit_reason (KVM_EXIT_*)')],
  },
  slb_update: {
    code: 64, family: 'vm',
    doc: 'The guest loaded an SLB entry (slbmte) or cleared the SLB (slbia: slot = -1).',
    fields: [f('slot', 'i', 'SLB slot index (-1 for slbia)'), f('esid', 'hex', 'ESID word (RB)'), f('vsid', 'hex', 'VSID word (RS)')],
  },
  checkpoint: {
    code: 70, family: 'replay',
    doc: 'A replay checkpoint at a quiescent point: digests of the emulator state after the previous event (src/base/digest.ts), checked by `hvtrace replay --verify`.',
    fields: [
      f('digest', 'hex', '64-bit digest of the VM state (the components below plus notifier seq/count)'),
      f('ordinal', 'u', 'checkpoint number'),
      f('hpt_digest', 'hex', 'digest of the hardware HPT words'),
      f('guest_digest', 'hex', 'digest of the revmap guest view'),
      f('rmap_digest', 'hex', 'digest of the rmap words'),
    ],
  },
  guest_op: {
    code: 90, family: 'guest',
    doc: 'A guest workload operation begins (stable id = its position in the seeded operation stream, the same on every profile, so two runs of one seed align by op_id). Events it causes point to it.',
    fields: [
      f('op_id', 'u', 'stable operation id'),
      f('op', 'guest_op_kind', 'operation'),
      f('pid', 'u', 'guest process id (0 for the kernel)'),
      f('ea', 'hex', 'effective address (start of a range)'),
      f('ea_end', 'hex', 'end of a range (munmap, mprotect), else 0'),
    ],
  },
  anomaly: {
    code: 80, family: 'check',
    doc: 'An invariant violation or model anomaly detected while recording.',
    fields: [f('code', 'u', 'anomaly code (the table in src/trace/anomalies.ts)'), f('severity', 'u', '0 info, 1 warning, 2 error, 3 data_loss'), f('a', 'hex', 'detail'), f('b', 'hex', 'detail')],
  },
} as const satisfies Record<string, KindDef>;

export type EventKind = keyof typeof KINDS;
export type FieldsOf<K extends EventKind> = (typeof KINDS)[K]['fields'][number]['name'];

export const KIND_NAMES = Object.keys(KINDS) as EventKind[];

/** code → kind name; holes are undefined. */
export const KIND_BY_CODE: readonly (EventKind | undefined)[] = (() => {
  const t: (EventKind | undefined)[] = new Array(256).fill(undefined);
  for (const k of KIND_NAMES) t[KINDS[k].code] = k;
  return t;
})();

/** Kind codes as a const object, for hot paths: `K.hpte_write`. */
export const K: { readonly [P in EventKind]: (typeof KINDS)[P]['code'] } = Object.fromEntries(
  KIND_NAMES.map((k) => [k, KINDS[k].code]),
) as never;

export function enumValue<E extends EnumName>(e: E, name: (typeof ENUMS)[E][number]): number {
  const i = (ENUMS[e] as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`unknown ${e} value ${name}`);
  return i;
}

/** Enum values by name for hot paths: `E.fault_decision.virtual`. */
export const E: { readonly [P in EnumName]: { readonly [V in (typeof ENUMS)[P][number]]: number } } =
  Object.fromEntries(
    (Object.keys(ENUMS) as EnumName[]).map((e) => [e, Object.fromEntries(ENUMS[e].map((v, i) => [v, i]))]),
  ) as never;

const COMMON_NAMES = ['seq', 'time', 'kind', 'lpid', 'vcpu', 'core', 'cause'];

/** How a field type is shown: the class that must agree across kinds for one field name. */
export type FieldClass = 'hex' | 'u' | 'i' | 'enum';
export const fieldClass = (t: FieldType): FieldClass => (t === 'hex' || t === 'u' || t === 'i' ? t : 'enum');

// Compile-time: a field name with two display classes makes `oneTypePerName` fail to typecheck,
// and the error names the offending fields.
type AllFields = (typeof KINDS)[EventKind]['fields'][number];
type ClassOf<T> = T extends 'hex' | 'u' | 'i' ? T : 'enum';
type ClassesOf<N> = ClassOf<Extract<AllFields, { name: N }>['type']>;
type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;
type MixedNames = { [N in AllFields['name']]: true extends IsUnion<ClassesOf<N>> ? N : never }[AllFields['name']];
const oneTypePerName: [MixedNames] extends [never] ? true : { mixed: MixedNames } = true;
void oneTypePerName;

/** Names used with more than one display class across kinds (empty for a valid table). */
export function mixedFieldNames(kinds: Readonly<Record<string, KindDef>>): string[] {
  const cls = new Map<string, FieldClass>();
  const bad = new Set<string>();
  for (const d of Object.values(kinds))
    for (const fd of d.fields) {
      const c = fieldClass(fd.type);
      const seen = cls.get(fd.name);
      if (seen === undefined) cls.set(fd.name, c);
      else if (seen !== c) bad.add(fd.name);
    }
  return [...bad];
}

// Load-time sanity: field counts, code uniqueness, common-column clashes, one type per name.
(() => {
  const seen = new Set<number>();
  for (const k of KIND_NAMES) {
    const d: KindDef = KINDS[k];
    if (d.fields.length > MAX_FIELDS) throw new Error(`kind ${k} has more than ${MAX_FIELDS} fields`);
    if (seen.has(d.code) || d.code <= 0 || d.code > 255) throw new Error(`kind ${k}: bad or duplicate code`);
    seen.add(d.code);
    for (const fd of d.fields)
      if (COMMON_NAMES.includes(fd.name)) throw new Error(`kind ${k}: field ${fd.name} collides with a common column`);
  }
  const mixed = mixedFieldNames(KINDS);
  if (mixed.length > 0) throw new Error(`field names with more than one type across kinds: ${mixed.join(', ')}`);
})();
