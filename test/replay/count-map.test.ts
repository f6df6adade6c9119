// CountMap counts like a Map<number, number> (get, size, first-seen iteration order, clear),
// whether a key lives in its dense slots or in the map beside them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CountMap } from '../../src/replay/handlers/count-map.js';

test('CountMap equals a Map on any sequence of adds, dense or not', () => {
  const slot = (k: number) => (k >= 0 && k < 64 && k % 2 === 0 ? k >> 1 : -1);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: -8, max: 100 }), fc.integer({ min: 1, max: 3 })), { maxLength: 200 }), (adds) => {
      const c = new CountMap(32, slot);
      const m = new Map<number, number>();
      for (const [k, n] of adds) {
        c.add(k, n);
        m.set(k, (m.get(k) ?? 0) + n);
      }
      assert.deepEqual([...c], [...m]);
      assert.equal(c.size, m.size);
      for (const k of [-8, 0, 1, 2, 63, 64, 100]) assert.equal(c.get(k), m.get(k) ?? 0);
      c.clear();
      assert.deepEqual([...c], []);
      for (const k of [0, 2, 7]) assert.equal(c.get(k), 0);
    }),
  );
});
