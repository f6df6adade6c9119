// Scenario files: a JSON description of a machine plus an explicit list of operations, so a user can
// replay a post-mortem by hand. Validated with zod; schemas/scenario.schema.json is generated from
// this definition (`npm run docs:schema`). Errors name the JSON path of the bad field.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { HCALL_NAMES } from '../arch/hcall.js';
import { UserError } from '../trace/errors.js';

/** A 64-bit value: a non-negative integer or a 0x-prefixed hex / decimal string. */
const u64 = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/, 'expected a 64-bit value: integer, decimal string or 0x hex with at most 16 digits')])
  .describe('64-bit unsigned value: integer, or string in decimal or 0x hex')
  .transform((v, ctx) => {
    const b = BigInt(v);
    if (b >= 2n ** 64n) {
      ctx.addIssue({ code: 'custom', message: 'value does not fit in 64 bits' });
      return z.NEVER;
    }
    return b;
  });

const hcallNames = [...HCALL_NAMES.values()] as [string, ...string[]];
const hcallNr = z.union([z.enum(hcallNames), u64]).describe('hcall number or name (H_ENTER, ...)');

const vcpu = z.number().int().min(0).max(1023).default(0).describe('vcpu id');

const memslot = z
  .object({
    slot: z.number().int().min(0).max(31),
    base_gfn: u64,
    npages: z.number().int().positive().describe('host pages'),
    userspace_addr: u64.describe('hva of base_gfn in the VMM process'),
    populate: z.boolean().default(true).describe('map every page in the VMM page table at start (writable)'),
    page_shift: z
      .union([z.literal(12), z.literal(16), z.literal(24)])
      .optional()
      .describe('backing page size of the VMA behind the slot (16/24 = hugetlbfs 64 KiB / 16 MiB; default the host PAGE_SHIFT, 24 for kernel 3.3): what kvmppc_hv_setup_rma (VRMA page size) and H_ENTER / the page fault (pte_size) look at'),
    cache: z
      .enum(['inhibited', 'write_through'])
      .optional()
      .describe('an I/O mapping: the VMA\'s vm_page_prot has _PAGE_NO_CACHE (= HPTE_R_I) or _PAGE_WRITETHRU (= HPTE_R_W), so H_ENTER applies the I/O WIMG rule (hpte_cache_flags_ok); default ordinary cacheable RAM'),
    comment: z.string().optional(),
  })
  .strict();

const rma = z
  .object({
    size_mb: z
      .union([z.literal(64), z.literal(128), z.literal(256), z.literal(1024), z.literal(16384)])
      .describe('kvm_rma_size: a size lpcr_rmls() encodes on PPC970 (64 MiB → 3, 128 MiB → 7, 256 MiB → 4, 1 GiB → 2, 16 GiB → 1)'),
    base: u64.describe('host physical address of the RMA (the boot-time pool is aligned to its size: alloc_bootmem_align(size, size)); RMOR = base >> 26'),
    comment: z.string().optional(),
  })
  .strict()
  .describe('PPC970: the preallocated RMA the VMM gets with KVM_ALLOCATE_RMA (default: 64 MiB, placed by the seeded allocator)');

export const machineSchema = z
  .object({
    profile: z.enum(['power7', 'ppc970']).default('power7'),
    kernel: z.enum(['3.3', '3.4', '4.20']).default('3.4').describe('kernel semantics: 3.3 = seed-1 pinned 16 MiB pages (power7 only), 3.4, 4.20 (adds in-kernel H_CLEAR_REF/H_CLEAR_MOD)'),
    host_page_shift: z.union([z.literal(12), z.literal(16)]).default(12),
    host_memory_mb: z.number().int().min(16).max(65536).default(256),
    hpt_order: z.number().int().min(18).max(28).default(24).describe('log2 HPT bytes (the kernel allows up to 46; the emulator keeps the HPT in memory)'),
    vcpus: z.number().int().min(1).max(64).default(1),
    threads_per_core: z.number().int().min(1).max(4).default(4),
    memslots: z.array(memslot).min(1),
    host_lpcr: u64
      .optional()
      .describe('POWER7: the host LPCR (mfspr(SPRN_LPCR) in kvmppc_core_init_vm): the guest LPCR keeps its PECE and LPES bits; the exit path restores it (default 0)'),
    host_hid4: u64
      .optional()
      .describe('PPC970: the host HID4 (mfspr(SPRN_HID4) in kvmppc_core_init_vm): the guest HID4 is this with the LPID fields replaced (default 0)'),
    lpid: z
      .number()
      .int()
      .min(1)
      .max(1022)
      .optional()
      .describe('the LPID the VM gets: kvm_alloc_hpt takes the first free bit of lpid_inuse, so LPIDs 1..lpid-1 are taken by other VMs first (PPC970: at most 62; default 1)'),
    rma: rma.optional(),
    comment: z.string().optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    // Guest RAM that `populate` maps at start must fit the host (frame 0 is never handed out).
    const pageSize = 2 ** m.host_page_shift;
    const hostBytes = m.host_memory_mb * 2 ** 20;
    const usable = hostBytes - pageSize;
    // A boot-time RMA (machine.rma) is host memory too, reserved before the VMM runs.
    let need = m.rma !== undefined ? m.rma.size_mb * 2 ** 20 : 0;
    const hugeNeed = new Map<number, number>();
    m.memslots.forEach((s, i) => {
      if (!s.populate) return;
      need += s.npages * pageSize;
      const shift = s.page_shift ?? (m.kernel === '3.3' ? 24 : m.host_page_shift);
      if (shift > m.host_page_shift) {
        // Huge pages need whole aligned blocks; the block holding frame 0 is never one of them.
        const size = 2 ** shift;
        const got = (hugeNeed.get(shift) ?? 0) + Math.ceil((s.npages * pageSize) / size) * size;
        hugeNeed.set(shift, got);
        const blocks = Math.floor(hostBytes / size) - 1;
        if (got > blocks * size) {
          ctx.addIssue({
            code: 'custom',
            path: ['memslots', i, 'npages'],
            message: `populated ${mib(size)} pages (${mib(got)} up to this slot) exceed the host's ${Math.max(blocks, 0)} aligned ${mib(size)} blocks (host_memory_mb ${m.host_memory_mb}; the block holding frame 0 is never handed out)`,
          });
        }
      }
      if (need > usable) {
        ctx.addIssue({
          code: 'custom',
          path: ['memslots', i, 'npages'],
          message: `populated guest RAM${m.rma !== undefined ? ' and the RMA' : ''} (${mib(need)} up to this slot) exceeds the host's memory (host_memory_mb ${m.host_memory_mb}: ${mib(usable)} usable, frame 0 is never handed out)`,
        });
      }
    });
    if (m.host_lpcr !== undefined && m.profile !== 'power7') ctx.addIssue({ code: 'custom', path: ['host_lpcr'], message: 'host_lpcr is POWER7 only (PPC970 has HID4: host_hid4)' });
    if (m.host_hid4 !== undefined && m.profile !== 'ppc970') ctx.addIssue({ code: 'custom', path: ['host_hid4'], message: 'host_hid4 is PPC970 only (POWER7 has the LPCR: host_lpcr)' });
    if (m.rma !== undefined && m.profile !== 'ppc970') ctx.addIssue({ code: 'custom', path: ['rma'], message: 'rma is PPC970 only (POWER7 uses the VRMA)' });
    if (m.rma !== undefined) {
      const size = m.rma.size_mb * 2 ** 20;
      const base = m.rma.base;
      if (base % BigInt(size) !== 0n) ctx.addIssue({ code: 'custom', path: ['rma', 'base'], message: `RMA base 0x${base.toString(16)} is not aligned to its size (${m.rma.size_mb} MiB)` });
      else if (base === 0n) ctx.addIssue({ code: 'custom', path: ['rma', 'base'], message: 'RMA base 0 would hold host frame 0, which the host keeps (never handed out)' });
      else if (base + BigInt(size) > BigInt(hostBytes)) {
        ctx.addIssue({ code: 'custom', path: ['rma', 'base'], message: `RMA [0x${base.toString(16)}, +${m.rma.size_mb} MiB) lies beyond the host's memory (host_memory_mb ${m.host_memory_mb})` });
      }
    }
    if (m.lpid !== undefined && m.profile === 'ppc970' && m.lpid > 62) {
      ctx.addIssue({ code: 'custom', path: ['lpid'], message: `lpid ${m.lpid}: PPC970 LPIDs are 6 bits with 63 reserved, so at most 62` });
    }
  });

function mib(bytes: number): string {
  return `${Number.isInteger(bytes / 2 ** 20) ? bytes / 2 ** 20 : (bytes / 2 ** 20).toFixed(3)} MiB`;
}

const msr = z
  .object({ ir: z.boolean().default(true), dr: z.boolean().default(true), pr: z.boolean().default(false) })
  .strict()
  .default({ ir: true, dr: true, pr: false });

const comment = z.string().optional().describe('free text for the reader; ignored by the runner');

/** The instruction's RT/RS field: the GPR an MMIO load writes or a store reads ((inst >> 21) & 0x1f). */
export function instGpr(inst: number): number {
  return (inst >>> 21) & 0x1f;
}

const op = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('host_map'),
      hva: u64,
      writable: z.boolean().default(true),
      page_shift: z
        .union([z.literal(12), z.literal(16), z.literal(24)])
        .optional()
        .describe('page size of the mapping: inside a VMA it must be the VMA\'s backing page size; outside every VMA the VMM first mmaps one page of this size at hva (a hugetlbfs page for 16/24)'),
      comment,
    })
    .strict(),
  z.object({ op: z.literal('host_unmap'), hva: u64, comment }).strict(),
  z.object({ op: z.literal('host_protect'), hva: u64, writable: z.boolean(), comment }).strict(),
  z.object({ op: z.literal('slbmte'), vcpu, slot: z.number().int().min(0).max(63), esid: u64.describe('RB: ESID | V | slot'), vsid: u64.describe('RS: B | VSID | flags'), comment }).strict(),
  z.object({ op: z.literal('slbia'), vcpu, comment }).strict(),
  z
    .object({
      op: z.literal('mtspr'),
      vcpu,
      spr: z.enum(['amr']).describe('the guest SPR written: amr (SPR 29, the storage-key authority mask the hardware and KVM\'s triage check)'),
      value: u64,
      comment,
    })
    .strict()
    .describe('the guest writes one of its own SPRs (mtspr in supervisor state: no exit)'),
  z
    .object({
      op: z.literal('hcall'),
      vcpu,
      nr: hcallNr,
      args: z.array(u64).max(8).default([]).describe('r4..r11'),
      expect: z.object({ ret: z.union([z.string(), z.number().int()]).optional(), out: z.array(u64).max(8).optional() }).strict().optional(),
      comment,
    })
    .strict(),
  z
    .object({
      op: z.enum(['load', 'store', 'ifetch']),
      vcpu,
      ea: u64,
      msr,
      inst: u64.optional().describe('instruction word KVM reads for MMIO emulation (default lwz/stw r3,0(r4))'),
      expect: z.enum(['ok', 'mmio', 'dsi', 'isi', 'data_segment', 'inst_segment', 'error', 'gave_up']).optional().describe('expected outcome'),
      value: u64
        .optional()
        .describe('store: the value put in the instruction\'s RS register (r3 by default) before the access; load: the value its RT register must hold afterwards (checked for emulated MMIO loads)'),
      dsisr: u64.optional().describe('with expect dsi: the DSISR the guest receives'),
      comment,
    })
    .strict(),
  z
    .object({
      op: z.literal('notifier'),
      callback: z.enum(['invalidate_page', 'invalidate_range', 'change_pte', 'clear_flush_young', 'test_young']),
      hva: u64,
      hva_end: u64.optional().describe('exclusive end for invalidate_range'),
      comment,
    })
    .strict(),
  z.object({ op: z.literal('run'), vcpu, steps: z.number().int().positive().max(1e9).default(1), comment }).strict(),
  z
    .object({
      op: z.literal('expect'),
      vcpu,
      lpid: z.number().int().nonnegative().optional().describe('the VM\'s LPID'),
      lpcr: u64.optional().describe('POWER7: kvm->arch.lpcr, the LPCR loaded at every entry'),
      hid4: u64.optional().describe('PPC970: kvm->arch.lpcr, the HID4 loaded at every entry (LPID, RMLS, RMOR)'),
      amr: u64.optional().describe('the vcpu\'s AMR'),
      gpr: z.object({ reg: z.number().int().min(0).max(31), value: u64 }).strict().optional().describe('a GPR of the vcpu'),
      hpte: z
        .object({
          index: z.number().int().nonnegative(),
          v: u64.optional(),
          r: u64.optional(),
          r_mask: u64.optional().describe('compare only these bits of r (e.g. 0xfff when the host pfn in the RPN is placed by the seeded allocator)'),
          guest_r: u64.optional(),
        })
        .strict()
        .optional()
        .describe('HPTE words as the hardware sees them (v, r) and the guest view of dword 1 (revmap guest_rpte)'),
      comment,
    })
    .strict()
    .describe('check machine state at this point (failures exit 5 like other expect clauses); records nothing'),
]);

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    description: z.string().optional(),
    seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(1),
    machine: machineSchema,
    ops: z.array(op),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioOp = Scenario['ops'][number];
export type MachineConfig = Scenario['machine'];

function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(root)';
}

/** Validate a parsed JSON value; the first issue becomes a one-line UserError with its JSON path. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${source}: ${pathText(issue.path)}: ${issue.message}`);
  }
  return r.data;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseScenario(json, path);
}

export function scenarioJsonSchema(): string {
  const s = z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ $id: 'https://hvtrace.dev/schemas/scenario.schema.json', title: 'hvtrace scenario', ...s }, null, 2)}\n`;
}

/** The scenario as plain JSON (64-bit values as 0x strings), for a trace's run config: it parses
 *  back to the same scenario, so a recorded run can be re-executed from its trace alone. */
export function scenarioToJson(s: Scenario): unknown {
  return JSON.parse(JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
}
