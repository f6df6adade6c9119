// The vcpu's SLB (src/hw/vcpu.ts): slbmte / slbia semantics (kernel-model §B) and slb_update events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLB_ESID_V_LO } from '../../src/arch/index.js';
import { Vcpu } from '../../src/hw/vcpu.js';
import { field, fieldNum } from '../../src/trace/event.js';
import { hwWorld } from './hwworld.js';

test('slbmte: slot from RB & 0xfff; 256M and 1T ESID compares', () => {
  const w = hwWorld();
  const v = w.v;
  // Slot 0 (from hwWorld): ESID 0x1 (EA 0x10000000..0x1fffffff), 256M.
  assert.equal(v.slb_lookup(0, 0x10000000), 0);
  assert.equal(v.slb_lookup(0, 0x1fffffff), 0);
  assert.equal(v.slb_lookup(0, 0x20000000), -1);
  // Slot 5: a 1T segment for EA 0x00000100_xxxxxxxx (ESID_1T = EA >> 40 = 1): RB = EA bits | V | 5;
  // RS = B_1T (0x40000000 in the high word) | VSID << 24.
  v.slbmte(0x40000000, 0x07000000, 0x100, (SLB_ESID_V_LO | 5) >>> 0);
  assert.equal(v.slb_lookup(0x100, 0x00000000), 5);
  assert.equal(v.slb_lookup(0x1ff, 0xffffffff), 5); // same 1T segment (EA bits 40..63 equal 1)
  assert.equal(v.slb_lookup(0x200, 0), -1);
  assert.throws(() => v.slbmte(0, 0, 0, SLB_ESID_V_LO | 32), RangeError); // POWER7 has 32 slots
  const ev = w.events().filter((e) => e.kind === 'slb_update');
  assert.equal(ev.length, 2);
  assert.equal(fieldNum(ev[1], 'slot'), 5);
  assert.equal(field(ev[1], 'vsid'), 0x4000000007000000n);
  assert.equal(field(ev[1], 'esid'), 0x0000010008000005n);
});

test('slbia invalidates every entry except slot 0; slbmte 0,0 then slbia clears all', () => {
  const w = hwWorld();
  const v = w.v;
  v.slbmte(0, 0x2000, 0, (0x30000000 | SLB_ESID_V_LO | 3) >>> 0);
  v.slbia();
  assert.equal(v.slb_lookup(0, 0x10000000), 0); // entry 0 survives slbia (PowerISA)
  assert.equal(v.slb_lookup(0, 0x30000000), -1);
  v.slbmte(0, 0, 0, 0);
  assert.equal(v.slb_lookup(0, 0x10000000), -1);
  const last = w.events().filter((e) => e.kind === 'slb_update');
  assert.equal(fieldNum(last[last.length - 2], 'slot'), -1); // the slbia event
});

test('a Vcpu defaults to PPC970-style 64 slots only when asked', () => {
  const w = hwWorld();
  assert.equal(w.v.slb_nr, 32);
  assert.equal(new Vcpu(1, { rec: w.rec, lpid: 1, slb_nr: 64 }).slb_nr, 64);
});
