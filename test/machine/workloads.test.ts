// The flagship comparison on one seeded workload (kernel-model §C.4, F, G.5, J 8, 12, 13, 14):
// POWER7 with MMU notifiers lets the host page guest memory out and KVM re-faults it; PPC970 pins
// every guest page, so notifiers do nothing and reclaim falls on other host memory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseWorkload } from '../../src/guest/workloads.js';
import { recordWorkloadRun, type Profile } from '../../src/machine/workload-run.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { field, fieldNum, type TraceEvent } from '../../src/trace/event.js';
import { E, type EventKind } from '../../src/trace/kinds.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { readAll, tmpDir } from '../helpers.js';

const wl = parseWorkload({ name: 'mix', seed: 5, accesses: 20000, guest_mb: 96, host_mb: 128, pressure: 0.85, hpt_order: 20 });

async function run(profile: Profile) {
  const p = join(tmpDir(), `${profile}.arrow`);
  const rec = new Recorder([new ArrowStreamSink(p)], runInfo(profile, wl.seed, { workload: wl }));
  // State invariants (J8 no stale host page, chains, ...) every 32 ops; operation checks (J14 R/C
  // monotonicity, J17 tlbie discipline, ...) and J23/J25/J26 after every op.
  const r = recordWorkloadRun(wl, profile, rec, { check: true, checkStateEvery: 32 });
  const { events } = await readAll(p);
  return { r, events };
}

const power7 = run('power7');
const ppc970 = run('ppc970');
const kindOf = <Kd extends EventKind>(events: TraceEvent[], k: Kd) => events.filter((e): e is TraceEvent<Kd> => e.kind === k);

test('power7 under pressure: guest pages invalidated by notifiers and re-faulted; invariants hold throughout', async () => {
  const { r, events } = await power7;
  assert.equal(r.violation, null, JSON.stringify(r.violation));
  assert.equal(r.machine.staleTlb, 0);
  assert.ok(r.reclaim.swapoutsGuest > 0, 'the host swapped guest pages out');
  const inval = kindOf(events, 'notifier').filter((e) => fieldNum(e, 'effect') === E.notifier_effect.invalidated);
  assert.ok(inval.length > 0, 'notifier invalidations of guest pages');
  // Each invalidation made its HPTEs ABSENT with a global tlbie, caused by the notifier event.
  const byCause = new Map<number, TraceEvent[]>();
  for (const e of events) {
    if (e.cause === null) continue;
    const l = byCause.get(e.cause);
    if (l) l.push(e);
    else byCause.set(e.cause, [e]);
  }
  for (const n of inval) {
    const effects = byCause.get(n.seq) ?? [];
    assert.ok(effects.some((e) => e.kind === 'hpte_write' && (field(e, 'new_v') & 0x20n) !== 0n && (field(e, 'new_v') & 1n) === 0n), `ABSENT after ${n.seq}`);
    assert.ok(effects.some((e) => e.kind === 'tlbie' && fieldNum(e, 'scope') === E.tlb_scope.global), `tlbie after ${n.seq}`);
  }
  // Every re-fault of a gfn (a second virtual-mode installation) follows an invalidation of it: a
  // notifier unmap callback for its host page (invalidate_page, range_start or change_pte), which
  // may have found no HPTE to invalidate if the guest had removed its own mapping meanwhile.
  const unmapCallbacks: number[] = [E.notifier_kind.invalidate_page, E.notifier_kind.range_start, E.notifier_kind.change_pte];
  const installed = new Set<number>();
  const invalidatedSince = new Set<number>();
  let refaults = 0;
  for (const e of events) {
    if (e.kind === 'notifier' && unmapCallbacks.includes(fieldNum(e, 'callback'))) invalidatedSince.add(fieldNum(e, 'gfn'));
    if (e.kind === 'page_fault_exit' && fieldNum(e, 'outcome') === E.page_fault_outcome.installed) {
      const gfn = fieldNum(e, 'gfn');
      if (installed.has(gfn)) {
        refaults++;
        assert.ok(invalidatedSince.has(gfn), `re-fault of gfn 0x${gfn.toString(16)} at seq ${e.seq} without an invalidation since its last installation`);
      }
      installed.add(gfn);
      invalidatedSince.delete(gfn);
    }
  }
  assert.ok(refaults > 0, 're-faults happened');
});

test('ppc970: no HPTE change by notifiers, no HDSI/HISI, no ABSENT HPTE, pinned pages == guest pages mapped outside the RMA', async () => {
  const { r, events } = await ppc970;
  assert.equal(r.violation, null, JSON.stringify(r.violation));
  const notifiers = new Set(kindOf(events, 'notifier').map((e) => e.seq));
  assert.ok(notifiers.size > 0, 'reclaim still called the notifiers');
  assert.ok(kindOf(events, 'notifier').every((e) => fieldNum(e, 'effect') === E.notifier_effect.noop_pinned));
  assert.equal(events.filter((e) => (e.kind === 'hpte_write' || e.kind === 'rmap_change' || e.kind === 'tlbie') && e.cause !== null && notifiers.has(e.cause)).length, 0);
  const triage = kindOf(events, 'fault_triage');
  assert.ok(triage.length > 0);
  assert.ok(triage.every((e) => fieldNum(e, 'interrupt') === E.fault_kind.dsi || fieldNum(e, 'interrupt') === E.fault_kind.isi), 'guest faults go straight to the guest');
  assert.ok(kindOf(events, 'hpte_write').every((e) => (field(e, 'new_v') & 0x20n) === 0n), 'no ABSENT HPTE');
  // The 64 MiB RMA (gfns below 0x4000) is pinned wholesale at first run, without pin events; every
  // other gfn an HPTE ever mapped was pinned exactly once (slot_phys GOT_PAGE), never unpinned.
  const mapped = new Set<number>();
  for (const e of kindOf(events, 'hpte_write')) {
    if ((field(e, 'new_v') & 1n) === 0n) continue;
    const gfn = Number((field(e, 'guest_r') & 0x0ffffffffffff000n) >> 12n);
    if (gfn >= 0x4000 && gfn < wl.guest_mb * 256) mapped.add(gfn);
  }
  const pins = kindOf(events, 'host_page').filter((e) => fieldNum(e, 'op') === E.host_page_op.pin);
  assert.equal(pins.length, mapped.size);
  assert.equal(kindOf(events, 'host_page').filter((e) => fieldNum(e, 'op') === E.host_page_op.unpin).length, 0);
  assert.equal(r.reclaim.swapoutsGuest, 0, 'pinned guest pages are never swapped');
  assert.ok(r.reclaim.swapoutsOther > 0, 'pressure falls on other host memory');
});

test('both profiles run the same guest operation stream (diff aligns them by op_id)', async () => {
  const a = kindOf((await power7).events, 'guest_op').map((e) => e.words.join(','));
  const b = kindOf((await ppc970).events, 'guest_op').map((e) => e.words.join(','));
  assert.equal(a.length, b.length);
  assert.deepEqual(a, b);
});
