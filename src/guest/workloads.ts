// Seeded guest workloads. A workload is a deterministic stream of guest operations, each with a
// stable id (its position in the stream), generated from the workload parameters and the seed
// alone — independent of the machine profile — so two runs of the same seed on power7 and ppc970
// issue the same operations in the same order and `diff` can align them by id.

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Prng } from '../base/prng.js';
import { UserError } from '../trace/errors.js';
import { ENUMS } from '../trace/kinds.js';

export const WORKLOAD_NAMES = ['boot', 'random-ws', 'stream', 'fork-exec', 'mmio-driver', 'mix'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export const workloadSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.enum(WORKLOAD_NAMES),
    seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).default(1),
    vcpus: z.number().int().min(1).max(16).default(2),
    guest_mb: z.number().int().min(32).max(4096).default(128).describe('guest RAM (one memslot at gpa 0)'),
    host_mb: z.number().int().min(32).max(16384).default(256).describe('host physical memory'),
    pressure: z.number().min(0).max(1).default(0).describe('fraction of host memory other processes try to take'),
    accesses: z.number().int().min(1).max(100_000_000).default(100_000).describe('guest memory accesses to perform'),
    working_set_mb: z.number().int().min(1).max(4096).optional().describe('per-workload working set (default: half of guest RAM)'),
    processes: z.number().int().min(1).max(256).default(4),
    hpt_order: z.number().int().min(18).max(28).default(20),
    store_fraction: z.number().min(0).max(1).default(0.3),
  })
  .strict();

export type Workload = z.output<typeof workloadSchema>;

export function parseWorkload(value: unknown, source = 'workload'): Workload {
  const r = workloadSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)';
    throw new UserError(`${source}: ${path}: ${issue.message}`);
  }
  return r.data;
}

export function loadWorkload(path: string): Workload {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON: ${(e as Error).message}`}`);
  }
  return parseWorkload(json, path);
}

/** Guest operation kinds (the `guest_op` event's `op` enum uses the same order). */
export const GUEST_OPS = ['load', 'store', 'ifetch', 'spawn', 'exit', 'munmap', 'mprotect_ro', 'mprotect_rw', 'mmio_load', 'mmio_store', 'tick'] as const;
export type GuestOpKind = (typeof GUEST_OPS)[number];
export const OP: { readonly [K in GuestOpKind]: number } = Object.fromEntries(GUEST_OPS.map((k, i) => [k, i])) as never;

export interface GuestOp {
  id: number;
  op: number;
  vcpu: number;
  /** Process slot (0..processes-1); the OS maps it to a live pid. */
  proc: number;
  ea: number;
  /** Second address (end of a range) where relevant. */
  ea2: number;
}

const USER_BASE = 0x10000000;
/** A host tick (memory pressure, reclaim) every this many guest accesses. */
export const TICK_ACCESSES = 1024;
const PAGE = 4096;
/** EA of the device mapping in the driver process. */
export const MMIO_EA = 0x7f000000;

/**
 * The operation stream of a workload: a generator (memory stays bounded for long runs). Counts
 * only memory accesses against `accesses`; management ops are interleaved per workload.
 */
export function* workloadOps(wl: Workload): Generator<GuestOp> {
  const rng = new Prng(wl.seed ^ 0x5eed);
  const wsPages = Math.max(1, Math.floor(((wl.working_set_mb ?? wl.guest_mb / 2) * 2 ** 20) / PAGE));
  const perProc = Math.max(1, Math.floor(wsPages / wl.processes));
  let id = 0;
  let accesses = 0;
  const op = (kind: number, vcpu: number, proc: number, ea = 0, ea2 = 0): GuestOp => ({ id: id++, op: kind, vcpu, proc, ea, ea2 });
  const access = (vcpu: number, proc: number, page: number): GuestOp => {
    accesses++;
    const kind = rng.float() < wl.store_fraction ? OP.store : OP.load;
    return op(kind, vcpu, proc, USER_BASE + page * PAGE + (rng.below(PAGE / 8) * 8));
  };
  for (let p = 0; p < wl.processes; p++) yield op(OP.spawn, p % wl.vcpus, p);
  const name = wl.name;
  while (accesses < wl.accesses) {
    const vcpu = rng.below(wl.vcpus);
    const proc = rng.below(wl.processes);
    switch (name) {
      case 'boot': {
        // Init and daemons fault in their images sequentially, then settle into a small set.
        const page = accesses < wsPages ? accesses % perProc : rng.below(Math.max(1, perProc >> 3));
        yield access(vcpu, proc, page);
        break;
      }
      case 'random-ws':
        yield access(vcpu, proc, rng.below(perProc));
        break;
      case 'stream': {
        const page = Math.floor(accesses / 8) % perProc;
        yield access(vcpu, proc, page);
        break;
      }
      case 'fork-exec': {
        if (rng.below(400) === 0) {
          yield op(OP.exit, vcpu, proc);
          yield op(OP.spawn, vcpu, proc);
        } else yield access(vcpu, proc, rng.below(Math.min(perProc, 64)));
        break;
      }
      case 'mmio-driver': {
        if (rng.below(20) === 0) {
          accesses++;
          yield op(rng.below(2) === 0 ? OP.mmio_load : OP.mmio_store, vcpu, 0, MMIO_EA + rng.below(64) * 8);
        } else yield access(vcpu, proc, rng.below(perProc));
        break;
      }
      case 'mix': {
        const r = rng.below(1000);
        if (r < 2 && rng.below(10) === 0) {
          yield op(OP.exit, vcpu, proc);
          yield op(OP.spawn, vcpu, proc);
        } else if (r < 3) {
          const start = USER_BASE + rng.below(perProc) * PAGE;
          yield op(OP.munmap, vcpu, proc, start, start + 16 * PAGE);
        } else if (r < 6) {
          const start = USER_BASE + rng.below(perProc) * PAGE;
          yield op(rng.below(2) ? OP.mprotect_ro : OP.mprotect_rw, vcpu, proc, start, start + 8 * PAGE);
        } else if (r < 30) {
          accesses++;
          yield op(rng.below(2) === 0 ? OP.mmio_load : OP.mmio_store, vcpu, 0, MMIO_EA + rng.below(64) * 8);
        } else yield access(vcpu, proc, rng.below(perProc));
        break;
      }
    }
    if (accesses % TICK_ACCESSES === 0) yield op(OP.tick, vcpu, proc);
  }
}

// The guest_op enum in the trace format must list the same operations in the same order.
if (ENUMS.guest_op_kind.join() !== GUEST_OPS.join()) throw new Error('GUEST_OPS and ENUMS.guest_op_kind disagree');

export function workloadJsonSchema(): string {
  const s = z.toJSONSchema(workloadSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return `${JSON.stringify({ $id: 'https://hvtrace.dev/schemas/workload.schema.json', title: 'hvtrace workload', ...s }, null, 2)}\n`;
}
