// Time that means something (issue 10 part 3): every modelled path charges its entry of the timing
// table (src/arch/timing.ts), so a virtual-mode fault's page_fault_enter → page_fault_exit span is
// the sum of the entries of the path it took, and a re-fault of a swapped-out page takes longer than
// one of a resident page by exactly the swap-in.
//
// Set-up (kernel-model TV11, traces/tv11-h-enter.scenario.json): POWER7, Linux 3.4, 4K pages; the
// guest H_ENTERs EA 0x10005000 → gpa 0x1234000 (hva 0x3fff81234000) as HPTE 0x1a298 and stores to it.
// Then the host takes the page away (swapOut: try_to_unmap_one → invalidate_page → kvm_unmap_rmapp
// makes the HPTE ABSENT, kernel-model §F), and the next guest store HDSIs, is triaged to virtual mode
// and faults (§E.3) — 'installed' (the HPTE was ABSENT, so no tlbie: it was invalidated by the notifier).
//   - swapped: the fault's get_user_pages finds a swap entry and swaps the page in:
//       duration = pageFault + gupFast + swapIn
//   - resident: the VMM swaps the page back itself (mm.map, no notifier) before the store, so the
//     fault's get_user_pages finds it present:
//       duration = pageFault + gupFast
//   - difference = swapIn (2 ms × 512 MHz = 1,024,000 ticks).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PATH_COSTS, TIMEBASE, nsToTicks, timingFor } from '../../src/arch/timing.js';
import { loadScenario } from '../../src/guest/scenario.js';
import { STW_R3_0_R4, ScenarioRunner } from '../../src/machine/scenario-runner.js';
import { fieldNum, type TraceEvent } from '../../src/trace/event.js';
import { E } from '../../src/trace/kinds.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { MemorySink } from '../kvm/helpers.js';

const HVA = 0x3fff81234000;
const EA_HI = 0;
const EA_LO = 0x10005000;

/** TV11 through its store, then swap the page out, optionally bring it back, and store again. */
function refault(resident: boolean) {
  const sc = loadScenario('traces/tv11-h-enter.scenario.json');
  const sink = new MemorySink();
  const rec = new Recorder([sink], runInfo(sc.machine.profile, sc.seed, {}));
  const r = new ScenarioRunner(sc, rec);
  // ops: host_map, slbmte, H_ENTER, H_READ, store 0x10005000, load 0x10006000.
  for (let i = 0; i < sc.ops.length; i++) r.exec(sc.ops[i], i);
  const m = r.machine;
  assert.ok(m.mm.swapOut(HVA) >= 0, 'page swapped out');
  if (resident) m.mm.map(HVA);
  const v = m.vcpu(0);
  const from = rec.eventCount; // (the sink sees events only when a batch is flushed)
  const ret = m.access(v, EA_HI, EA_LO, 1, true, true, false, STW_R3_0_R4);
  rec.close(true);
  assert.equal(ret, 0, 'the store translated after the fault');
  const evs = sink.events.filter((e) => e.seq >= from);
  const enter = evs.filter((e) => e.kind === 'page_fault_enter');
  const exit = evs.filter((e) => e.kind === 'page_fault_exit');
  assert.equal(enter.length, 1, 'one virtual-mode fault');
  assert.equal(exit.length, 1);
  assert.equal(fieldNum(exit[0], 'outcome'), E.page_fault_outcome.installed);
  const swapIns = evs.filter((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.swap_in);
  assert.equal(swapIns.length, resident ? 0 : 1, resident ? 'no swap-in inside the fault' : 'the fault swapped the page in');
  return { duration: exit[0].time - enter[0].time, evs, enter: enter[0] as TraceEvent };
}

test('timing table: ticks are the ns figures at the CPU timebase (512 MHz POWER7)', () => {
  const t = timingFor('power7');
  assert.equal(t.timebaseHz, 512_000_000);
  // 2 ms at 512 MHz = 2e-3 × 512e6 = 1,024,000 ticks; 1.5 µs = 768 ticks; 150 ns = 76.8 → 77.
  assert.equal(t.swapIn, 1_024_000);
  assert.equal(t.pageFault, 768);
  assert.equal(t.gupFast, 77);
  assert.equal(t.hdecTicks, 512_000);
  // PPC970 has its own timebase: 2 ms at 312.5 MHz = 625,000 ticks.
  const p = timingFor('ppc970');
  assert.equal(p.timebaseHz, TIMEBASE.ppc970.hz);
  assert.equal(p.swapIn, 625_000);
  for (const k of Object.keys(PATH_COSTS) as (keyof typeof PATH_COSTS)[]) {
    assert.equal(t[k], nsToTicks(PATH_COSTS[k].ns, 512_000_000), k);
    assert.ok(PATH_COSTS[k].source.length > 0, `${k} has a source`);
  }
});

test('a re-fault of a resident page costs pageFault + gupFast', () => {
  const t = timingFor('power7');
  const { duration } = refault(true);
  // 768 + 77 = 845 ticks (1.5 µs + 150 ns at 512 MHz).
  assert.equal(duration, t.pageFault + t.gupFast);
  assert.equal(duration, 845);
});

test('a re-fault of a swapped-out page costs pageFault + gupFast + swapIn, i.e. the swap-in longer', () => {
  const t = timingFor('power7');
  const swapped = refault(false);
  const resident = refault(true);
  // 768 + 77 + 1,024,000 = 1,024,845 ticks ≈ 2.0017 ms.
  assert.equal(swapped.duration, t.pageFault + t.gupFast + t.swapIn);
  assert.equal(swapped.duration, 1_024_845);
  assert.ok(swapped.duration > resident.duration);
  assert.equal(swapped.duration - resident.duration, t.swapIn);
});

test('the swap-in is stamped inside the fault, after gup, and the whole access path is the sum of its entries', () => {
  const t = timingFor('power7');
  const { evs, enter } = refault(false);
  const swapIn = evs.find((e) => e.kind === 'host_page' && fieldNum(e, 'op') === E.host_page_op.swap_in)!;
  // page_fault_enter at T; the fault's own work and the gup walk come before the swap-in event.
  assert.equal(swapIn.time - enter.time, t.pageFault + t.gupFast);
  // From the HDSI's fault_triage to the re-entry's guest_enter: exit (before guest_exit) + fault
  // + entry (before the entry partition_switch); the triage is charged before its own event.
  const triage = evs.find((e) => e.kind === 'fault_triage')!;
  const reentry = evs.find((e) => e.kind === 'guest_enter')!;
  assert.equal(reentry.time - triage.time, t.guestExit + t.pageFault + t.gupFast + t.swapIn + t.guestEntry);
});

test('recorded runs are deterministic and the run metadata carries the timebase', () => {
  const a = refault(false).evs.map((e) => e.time);
  const b = refault(false).evs.map((e) => e.time);
  assert.deepEqual(a, b);
  assert.equal(runInfo('power7', 1, {}).timebaseHz, 512_000_000);
  assert.equal(runInfo('ppc970', 1, {}).timebaseHz, 312_500_000);
  assert.equal(runInfo('synthetic', 1, {}).timebaseHz, undefined);
});
