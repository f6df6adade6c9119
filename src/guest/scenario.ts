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
  })
  .strict();

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
  })
  .strict();

const msr = z
  .object({ ir: z.boolean().default(true), dr: z.boolean().default(true), pr: z.boolean().default(false) })
  .strict()
  .default({ ir: true, dr: true, pr: false });

const op = z.discriminatedUnion('op', [
  z.object({ op: z.literal('host_map'), hva: u64, writable: z.boolean().default(true), page_shift: z.union([z.literal(12), z.literal(16), z.literal(24)]).optional() }).strict(),
  z.object({ op: z.literal('host_unmap'), hva: u64 }).strict(),
  z.object({ op: z.literal('host_protect'), hva: u64, writable: z.boolean() }).strict(),
  z.object({ op: z.literal('slbmte'), vcpu, slot: z.number().int().min(0).max(63), esid: u64.describe('RB: ESID | V | slot'), vsid: u64.describe('RS: B | VSID | flags') }).strict(),
  z.object({ op: z.literal('slbia'), vcpu }).strict(),
  z
    .object({
      op: z.literal('hcall'),
      vcpu,
      nr: hcallNr,
      args: z.array(u64).max(8).default([]).describe('r4..r11'),
      expect: z.object({ ret: z.union([z.string(), z.number().int()]).optional(), out: z.array(u64).max(8).optional() }).strict().optional(),
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
      value: u64.optional().describe('store: the value in r3 that is stored; load: the value r3 must hold afterwards (checked for emulated MMIO loads)'),
    })
    .strict(),
  z
    .object({
      op: z.literal('notifier'),
      callback: z.enum(['invalidate_page', 'invalidate_range', 'change_pte', 'clear_flush_young', 'test_young']),
      hva: u64,
      hva_end: u64.optional().describe('exclusive end for invalidate_range'),
    })
    .strict(),
  z.object({ op: z.literal('run'), vcpu, steps: z.number().int().positive().max(1e9).default(1) }).strict(),
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
