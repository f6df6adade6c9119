// Seek to EVERY event index of a recorded scenario trace and of a short workload trace, on SQLite
// and Arrow, through the checkpoint index (nearest checkpoint + fold), and compare with the
// emulator's own state.
//
// When is the emulator's state "at event k" defined? An event is recorded in the middle of the
// code path it describes: e.g. HostMm.teardown records host_page(unmap) and calls the notifiers
// (whose events follow) before it clears the PTE, and KVM sets HPTE lock bits between events.
// So the comparison is made at two granularities:
//   1. every event k: the state rows event k itself changed (HPTE words and guest view, rmap
//      word and revmap links, the vcpu's SLB, a core's LPID, a vcpu's in-guest flag, a vcore's
//      state, notifier seq/count), read from the emulator right after event k was complete (when
//      the recorder starts event k + 1), against seek(k). Lock bits (HVLOCK, rmap LOCK) are
//      masked: they are never left set at an operation's end and the trace does not carry them.
//   2. every operation boundary (a quiescent point, where checkpoint events are written too): the
//      whole machine state, component by component (emu-state.ts), against seek(k) for the
//      boundary's last event k.
// And at every k, seek(k) (checkpoint restore + fold) must equal a plain linear fold from seq 0 to
// k, compared with a hash over the whole folded state.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseScenario } from '../../src/guest/scenario.js';
import { parseWorkload } from '../../src/guest/workloads.js';
import type { Machine } from '../../src/machine/machine.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { recordWorkloadRun } from '../../src/machine/workload-run.js';
import { Seeker } from '../../src/replay/seek.js';
import { SLB_ROWS, StateFold } from '../../src/replay/state.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import type { EventBatch } from '../../src/trace/batch.js';
import { F } from '../../src/trace/fields.js';
import { K } from '../../src/trace/kinds.js';
import { openTrace } from '../../src/trace/reader.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { tmpDir } from '../helpers.js';
import { type Canon, emuCanon, foldCanon, foldHash, HVLOCK_LO } from './emu-state.js';

interface Touch {
  kind: number;
  key: number;
  key2: number;
  vals: number[];
}

interface Capture {
  touched: Map<number, Touch>;
  boundaries: Map<number, Canon>;

}

/** Emulator values of the rows event (kind, key, key2) concerns. */
function emuTouch(m: Machine, kind: number, key: number, key2: number): number[] | null {
  const kvm = m.kvm;
  switch (kind) {
    case K.hpte_write:
      return [kvm.mmu.hpt[key * 4], (kvm.mmu.hpt[key * 4 + 1] & ~HVLOCK_LO) >>> 0, kvm.mmu.hpt[key * 4 + 2], kvm.mmu.hpt[key * 4 + 3], kvm.mmu.revGuestR[key * 2], kvm.mmu.revGuestR[key * 2 + 1]];
    case K.rmap_change: {
      const s = kvm.gfn_to_memslot(key)!;
      const o = key - s.base_gfn;
      return [(s.rmap[o * 2] & 0x7fffffff) >>> 0, s.rmap[o * 2 + 1]];
    }
    case K.slb_update: {
      const hw = m.hw[key];
      const out: number[] = [];
      for (let k = 0; k < SLB_ROWS; k++) {
        const live = k < hw.slb_nr;
        out.push(live ? hw.slbOrige[k * 2] : 0, live ? hw.slbOrige[k * 2 + 1] : 0, live ? hw.slbOrigv[k * 2] : 0, live ? hw.slbOrigv[k * 2 + 1] : 0);
      }
      return out;
    }
    case K.partition_switch:
      return [m.cores[key].lpid];
    case K.guest_enter:
    case K.guest_exit:
      return [+m.vcpus[key].inGuest];
    case K.vcore_state:
      return [m.vcores[key].state];
    case K.notifier:
      return [kvm.mmu_notifier_seq, kvm.mmu_notifier_count];
    default:
      return null;
  }
}

function foldTouch(f: StateFold, lpid: number, t: Touch): number[] {
  const vm = f.vm(lpid)!;
  switch (t.kind) {
    case K.hpte_write:
      return [...vm.hpt.subarray(t.key * 4, t.key * 4 + 4), ...vm.guestR.subarray(t.key * 2, t.key * 2 + 2)];
    case K.rmap_change:
      return vm.rmapWord(t.key);
    case K.slb_update:
      return [...vm.slbT.data.subarray(t.key * SLB_ROWS * 4, (t.key + 1) * SLB_ROWS * 4)];
    case K.partition_switch:
      return [f.cores.get(t.key)?.lpid ?? 0];
    case K.guest_enter:
    case K.guest_exit:
      return [+(vm.vcpus.get(t.key)?.inGuest ?? false)];
    case K.vcore_state:
      return [vm.vcores.get(t.key)?.state ?? 0];
    case K.notifier:
      return [vm.mmuSeq, vm.mmuCount];
    default:
      return [];
  }
}

const rowOf = (kind: number, key: number) => `${kind === K.guest_exit ? K.guest_enter : kind}:${key}`;


/**
 * Wrap rec.emit (test-only) to learn which state row each event touches, and read those rows from the
 * emulator at the end of the operation, for the LAST event of the operation that touched each row.
 * Emulator paths record some events after their change (setHpte, slbmte) and some before (host_page,
 * then notifiers, then the PTE change; an rmap word is unlinked before the hpte_write that precedes
 * its rmap_change event), so between two events a row may already hold a later event's change; after
 * the last event touching a row in an operation, nothing changes that row until the operation ends.
 */
function instrument(rec: Recorder, cap: Capture): { endOp: (m: Machine) => void } {
  const orig = rec.emit.bind(rec);
  const batch = () => (rec as unknown as { batch: EventBatch }).batch;
  const opTouches = new Map<string, { seq: number; kind: number; key: number; key2: number }>();
  let noted = -1;
  const noteLast = () => {
    const b = batch();
    if (b.length === 0) return;
    const i = b.length - 1;
    const seq = b.firstSeq + i;
    if (seq <= noted) return;
    noted = seq;
    const k = b.kind[i];
    let key = -1;
    let key2 = -1;
    if (k === K.hpte_write) key = rec.openWord(F.hpte_write.hpte_index);
    else if (k === K.rmap_change) (key = rec.openWord(F.rmap_change.gfn), key2 = rec.openWord(F.rmap_change.hpte_index));
    else if (k === K.slb_update || k === K.guest_enter || k === K.guest_exit) key = b.vcpu[i];
    else if (k === K.partition_switch) key = b.core[i];
    else if (k === K.vcore_state) key = rec.openWord(F.vcore_state.vcore);
    else if (k !== K.notifier) return;
    opTouches.set(rowOf(k, key), { seq, kind: k, key, key2 });
  };
  rec.emit = (kind, lpid, vcpu, core, cause) => {
    noteLast();
    return orig(kind, lpid, vcpu, core, cause);
  };
  return {
    endOp: (m) => {
      noteLast();
      for (const t of opTouches.values()) cap.touched.set(t.seq, { ...t, vals: emuTouch(m, t.kind, t.key, t.key2)! });
      opTouches.clear();
    },
  };
}

/** Every FULL_EVERY-th seq and every checkpoint seq get a whole-state hash; every seq a small one. */
const FULL_EVERY = 61;
const fullAt = (k: number, interval: number) => k % FULL_EVERY === 0 || (k + 1) % interval === 0;

async function linearHashes(path: string, interval: number): Promise<{ small: string[]; full: Map<number, string> }> {
  const r = await openTrace(path);
  const f = new StateFold();
  const small: string[] = [];
  const full = new Map<number, string>();
  for await (const b of r.batches()) {
    for (let i = 0; i < b.length; i++) {
      f.foldRange(b, i, i + 1);
      const k = b.firstSeq + i;
      small.push(foldHash(f, false));
      if (fullAt(k, interval)) full.set(k, foldHash(f));
    }
  }
  r.close();
  return { small, full };
}

async function checkEveryEvent(dir: string, name: string, cap: Capture, m: Machine, interval: number): Promise<void> {
  const { small: ref, full } = await linearHashes(join(dir, `${name}.arrow`), interval);
  const lpid = m.kvm.lpid;
  for (const fmt of ['sqlite', 'arrow']) {
    const path = join(dir, `${name}.${fmt}`);
    const seeker = await Seeker.open(path, { interval, fullEvery: 4 });
    assert.equal(seeker.events, ref.length);
    assert.ok(seeker.checkpointIndex.header.checkpoints.length >= 2, 'several checkpoints, full and delta');
    let boundaries = 0;
    let touched = 0;
    for (let k = 0; k < ref.length; k++) {
      const f = await seeker.seek({ seq: k });
      assert.equal(f.lastSeq, k);
      if (foldHash(f, false) !== ref[k]) assert.fail(`${fmt} ${name}: seek(${k}) differs from the linear fold (small state)`);
      if (fullAt(k, interval) && foldHash(f) !== full.get(k)) assert.fail(`${fmt} ${name}: seek(${k}) differs from the linear fold`);
      const t = cap.touched.get(k);
      if (t) {
        touched++;
        assert.deepEqual(foldTouch(f, lpid, t), t.vals, `${fmt} ${name}: seq ${k} (kind ${t.kind}, key ${t.key}) differs from the emulator`);
      }
      const c = cap.boundaries.get(k);
      if (c) {
        boundaries++;
        assert.deepEqual(foldCanon(f, lpid, m.cores.length, m.vcores.length, m.vcpus.length), c, `${fmt} ${name}: state after seq ${k} (op boundary) differs from the emulator`);
      }
    }
    seeker.close();
    // Reopening reuses the index (no rebuild) and still seeks correctly.
    const again = await Seeker.open(path, { interval, fullEvery: 4 });
    assert.equal(again.built, false);
    const mid = ref.length >> 1;
    assert.equal(foldHash(await again.seek({ seq: mid }), false), ref[mid]);
    again.close();
    assert.ok(touched > ref.length / 10, `${fmt} ${name}: per-row emulator checks ran (${touched} of ${ref.length} events)`);
    assert.ok(boundaries > 0);
  }
}

function sinks(dir: string, name: string) {
  return [new SqliteSink(join(dir, `${name}.sqlite`)), new ArrowStreamSink(join(dir, `${name}.arrow`))];
}

test('seek to every event of a scenario trace (SQLite and Arrow) matches the emulator', async () => {
  const dir = tmpDir();
  const scenario = parseScenario({
    seed: 9,
    machine: { hpt_order: 18, vcpus: 2, memslots: [{ slot: 0, base_gfn: 0, npages: 1024, userspace_addr: '0x3fff80000000', populate: true }] },
    ops: [
      { op: 'slbmte', vcpu: 0, slot: 1, esid: '0x0000000018000001', vsid: '0x0000000001000400' },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000001', '0x5192'] },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000081', '0x6192'] },
      { op: 'hcall', nr: 'H_PROTECT', args: ['0x80000003', '0x100', '0x4000000'] },
      { op: 'notifier', callback: 'invalidate_page', hva: '0x3fff80005000' },
      { op: 'hcall', nr: 'H_REMOVE', args: ['0', '0x101'] },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x200', '0x8000001', '0x7192'] },
      { op: 'hcall', vcpu: 1, nr: 'H_ENTER', args: ['0', '0x308', '0x4000001', '0x9192'] },
      { op: 'host_protect', hva: '0x3fff80009000', writable: false },
      { op: 'host_unmap', hva: '0x3fff80007000' },
      { op: 'host_map', hva: '0x3fff80007000' },
      { op: 'host_protect', hva: '0x3fff80009000', writable: true },
      { op: 'slbia', vcpu: 0 },
      { op: 'run', vcpu: 1, steps: 20000 },
    ],
  }, 'test scenario');
  const rec = new Recorder(sinks(dir, 's'), runInfo('power7', 9, { scenario: {} }), 64);
  const cap: Capture = { touched: new Map(), boundaries: new Map() };
  const { endOp } = instrument(rec, cap);
  const r = recordScenarioRun(scenario, rec, {
    checkpointEvery: 16,
    afterOp: (runner) => {
      endOp(runner.machine);
      cap.boundaries.set(rec.eventCount - 1, emuCanon(runner.machine));
    },
  });
  assert.deepEqual(r.failures, []);
  await checkEveryEvent(dir, 's', cap, r.runner.machine, 16);
});

test('seek to every event of a workload trace with host pressure (SQLite and Arrow) matches the emulator', async () => {
  const dir = tmpDir();
  const wl = parseWorkload({ name: 'mix', accesses: 3000, guest_mb: 64, host_mb: 96, pressure: 0.5, hpt_order: 18 });
  const rec = new Recorder(sinks(dir, 'w'), runInfo('power7', wl.seed, { workload: wl }));
  const cap: Capture = { touched: new Map(), boundaries: new Map() };
  const { endOp } = instrument(rec, cap);
  let ops = 0;
  const r = recordWorkloadRun(wl, 'power7', rec, {
    afterOp: (m) => {
      endOp(m);
      // Every op boundary would cost O(state) × ops here; every 4th op still covers each op kind.
      if (ops++ % 4 === 0) cap.boundaries.set(rec.eventCount - 1, emuCanon(m));
    },
  });
  assert.equal(r.violation, null);
  // At this size the pressure makes other processes take frames but reclaim does not swap yet.
  assert.ok(r.reclaim.otherAllocs > 0, 'host pressure took frames');
  await checkEveryEvent(dir, 'w', cap, r.machine, 1024);
});
