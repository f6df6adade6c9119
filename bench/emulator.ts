// `npm run bench -- emulator [--hcalls N] [--accesses N] [--runs R] [--json]`
// 1. hcalls/s of the POWER7 model (H_ENTER, H_READ, H_REMOVE in a seeded mix over a 4,096-page
//    guest), unrecorded and recorded to an Arrow stream.
// 2. guest memory accesses/s through the whole machine (Machine.access: MSR/PC set-up, TLB lookup,
//    HPT search on a miss, hardware R/C, fault paths when needed) on 4,096 mapped pages: 97% of
//    accesses go to a 64-page hot set (TLB hits), 3% anywhere (TLB misses that find their HPTE).
// Unrecorded and recorded runs are measured side by side in one run; the recording cost is the
// ratio of the two run times on the same work.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { H_ENTER, H_READ, H_REMOVE } from '../src/arch/hcall.js';
import { HostMm } from '../src/host/mm.js';
import { PhysMem } from '../src/host/physmem.js';
import { kvmppc_hcall, newHcallRegs } from '../src/kvm/hcall.js';
import type { Kvm } from '../src/kvm/kvm.js';
import { kvm_create_vm } from '../src/kvm/ops.js';
import { kvm_set_memory_region } from '../src/kvm/memslot.js';
import { Prng } from '../src/base/prng.js';
import { Machine } from '../src/machine/machine.js';
import { parseScenario } from '../src/guest/scenario.js';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { Recorder } from '../src/trace/recorder.js';
import { runInfo } from '../src/trace/run-info.js';
import { median, parseBenchArgs, printFigures } from './util.js';

const PAGES = 4096;
const UA = 0x3fff80000000;

function setup(rec: Recorder): Kvm {
  const phys = new PhysMem({ pageShift: 12, npages: 1 << 16, seed: 7 });
  const mm = new HostMm({ phys, rec });
  const kvm = kvm_create_vm({ mm, rec, hptOrder: 20 });
  kvm.ops.mmuNotifier(kvm);
  mm.mmap(UA, PAGES * 4096);
  kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: PAGES * 4096, userspace_addr: UA });
  for (let p = 0; p < PAGES; p++) mm.map(UA + p * 4096);
  return kvm;
}

/** The seeded hcall mix; returns the time in seconds. */
function hcallLoop(kvm: Kvm, n: number): number {
  const rng = new Prng(11);
  const regs = newHcallRegs();
  const vcpu = { vcpu_id: 0, core: 0 };
  const mask = kvm.mmu.geom.hashMask;
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const pteg = rng.u32() & mask;
    const op = rng.below(3);
    regs.fill(0);
    if (op === 0) {
      // H_ENTER: VSID derived from the PTEG so primary lookups would find it; gpa in the slot.
      regs[3] = pteg * 8;
      regs[4] = 0;
      regs[5] = (((pteg & 0xfffff) << 12) | 1) >>> 0;
      regs[7] = ((rng.below(PAGES) << 12) | 0x192) >>> 0;
      kvmppc_hcall(kvm, vcpu, H_ENTER, regs);
    } else if (op === 1) {
      regs[3] = pteg * 8 + rng.below(8);
      kvmppc_hcall(kvm, vcpu, H_READ, regs);
    } else {
      regs[3] = pteg * 8 + rng.below(8);
      kvmppc_hcall(kvm, vcpu, H_REMOVE, regs);
    }
  }
  return (performance.now() - t0) / 1000;
}

const ACCESS_PAGES = 4096;

/** A machine with ACCESS_PAGES pages entered VALID (H_ENTER) behind one SLB entry. */
function accessMachine(rec: Recorder): { m: Machine; eas: Float64Array } {
  const s = parseScenario({
    seed: 3,
    machine: { hpt_order: 20, host_memory_mb: 64, memslots: [{ slot: 0, base_gfn: 0, npages: ACCESS_PAGES, userspace_addr: '0x3fff80000000', populate: true }] },
    ops: [],
  });
  const m = new Machine(s.machine, rec, s.seed);
  const v = m.vcpus[0];
  const vsid = 0x123456;
  // ESID 1 → VSID 0x123456 in SLB slot 0 (RB = ESID << 28 | V | slot; RS = VSID << 12 | Kp).
  m.hw[0].slbmte(vsid >>> 20, ((vsid << 12) | 0x400) >>> 0, 0, 0x18000000);
  const regs = newHcallRegs();
  const eas = new Float64Array(ACCESS_PAGES);
  const mask = m.kvm.mmu.geom.hashMask;
  for (let p = 0; p < ACCESS_PAGES; p++) {
    const ea = 0x10000000 + p * 4096;
    // 256M segment, 4K page: hash = VSID ^ (EA offset >> 12); AVPN = VSID << 12 | (offset >> 23) << 7.
    const pteg = (vsid ^ p) & mask;
    regs.fill(0);
    regs[3] = pteg * 8;
    regs[5] = ((vsid << 12) | 1) >>> 0;
    regs[4] = vsid >>> 20;
    regs[7] = ((p << 12) | 0x192) >>> 0;
    m.hcall(v, H_ENTER, regs);
    eas[p] = ea;
  }
  return { m, eas };
}

function accessLoop(m: Machine, eas: Float64Array, n: number): number {
  const rng = new Prng(5);
  const v = m.vcpus[0];
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    const p = rng.below(100) < 97 ? rng.below(64) : rng.below(ACCESS_PAGES);
    const store = rng.below(4) === 0;
    m.access(v, 0, eas[p] + (k & 0xff8), store ? 1 : 0, true, true, false, store ? 0x90640000 : 0x80640000);
  }
  return (performance.now() - t0) / 1000;
}

export async function benchEmulator(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv, { events: 0, runs: 3 });
  const n = (args.hcalls as number | undefined) ?? 1_000_000;
  const na = (args.accesses as number | undefined) ?? 5_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-bench-emu-'));
  const runs: Record<string, number[]> = {};
  const add = (k: string, v: number) => (runs[k] ??= []).push(v);
  let events = 0;
  try {
    for (let r = 0; r < args.runs; r++) {
      const plain = hcallLoop(setup(Recorder.disabled()), n);
      const rec = new Recorder([new ArrowStreamSink(join(dir, `r${r}.arrow`))], runInfo('power7', 1, { bench: 'emulator' }));
      const kvm = setup(rec);
      const before = rec.eventCount;
      const t0 = performance.now();
      hcallLoop(kvm, n);
      rec.close(true);
      const recorded = (performance.now() - t0) / 1000;
      events = rec.eventCount - before;
      add('hcalls_per_s', n / plain);
      add('hcalls_recorded_per_s', n / recorded);
      add('hcall_recording_cost', recorded / plain);
      rmSync(join(dir, `r${r}.arrow`));
      // Guest accesses.
      const a0 = accessMachine(Recorder.disabled());
      const aPlain = accessLoop(a0.m, a0.eas, na);
      const recA = new Recorder([new ArrowStreamSink(join(dir, `a${r}.arrow`))], runInfo('power7', 1, { bench: 'emulator-access' }));
      const a1 = accessMachine(recA);
      const ev0 = recA.eventCount;
      const tA = performance.now();
      accessLoop(a1.m, a1.eas, na);
      recA.close(true);
      const aRec = (performance.now() - tA) / 1000;
      add('accesses_per_s', na / aPlain);
      add('accesses_recorded_per_s', na / aRec);
      add('access_recording_cost', aRec / aPlain);
      add('access_events', recA.eventCount - ev0);
      add('tlb_hit_rate', a0.m.tlbs[0].counters.hits / Math.max(1, a0.m.tlbs[0].counters.hits + a0.m.tlbs[0].counters.misses));
      rmSync(join(dir, `a${r}.arrow`));
      if (!args.json) process.stderr.write(`run ${r + 1}/${args.runs} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fig: Record<string, number> = { hcalls: n, accesses: na, events_per_recorded_run: events };
  for (const [k, v] of Object.entries(runs)) fig[k] = median(v);
  printFigures('emulator', fig, args, runs);
}
