// Every 64-bit constant NAME (bigint) must agree with its NAME_HI / NAME_LO halves, a half must exist
// exactly when it is nonzero, and no _HI/_LO number may exist without its bigint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as arch from '../../src/arch/index.js';

const exports = arch as unknown as Record<string, unknown>;

test('each bigint constant has exactly its nonzero halves, with the right values', () => {
  let checked = 0;
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'bigint') continue;
    assert.ok(value >= 0n && value < 1n << 64n, `${name} is not an unsigned 64-bit value`);
    const hi = Number(value >> 32n);
    const lo = Number(value & 0xffffffffn);
    const hiExport = exports[`${name}_HI`];
    const loExport = exports[`${name}_LO`];
    if (hi !== 0) assert.equal(hiExport, hi, `${name}_HI`);
    else assert.notEqual(typeof hiExport, 'number', `${name}_HI should not exist (zero half)`);
    if (lo !== 0) assert.equal(loExport, lo, `${name}_LO`);
    else assert.notEqual(typeof loExport, 'number', `${name}_LO should not exist (zero half)`);
    checked++;
  }
  assert.ok(checked > 100, `only ${checked} bigint constants found`);
});

test('no orphan _HI/_LO numbers, and every half is an unsigned 32-bit integer', () => {
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'number') continue;
    const m = /^(.*)_(HI|LO)$/.exec(name);
    if (!m) continue;
    assert.equal(typeof exports[m[1]], 'bigint', `${name} has no bigint ${m[1]}`);
    assert.ok(Number.isInteger(value) && value > 0 && value <= 0xffffffff, `${name} = ${value}`);
  }
});
