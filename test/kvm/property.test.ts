// Property tests (fast-check) of the guest view rules for 4K pages, Linux 3.4:
//  - H_READ returns dword 0 with ABSENT turned into VALID and dword 1 = guest_rpte | hardware R/C,
//    i.e. the guest's own ptel with at most R/C added (kernel-model §D.7);
//  - after H_ENTER a VALID entry's hardware C bit is never set (K34 add_revmap_chain drops CHANGED before the
//    R/C filter) and hardware R only if the guest gave R (§C.3, §D.3 step 10);
//  - H_REMOVE returns the same guest view and leaves dword 0 zero (§D.4).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { H_ENTER, H_READ, H_REMOVE, H_SUCCESS } from '../../src/arch/index.js';
import { hcallBig } from '../../src/kvm/hcall.js';
import { checkInvariants } from '../../src/kvm/hash/invariants.js';
import { makeWorld, UA } from './helpers.js';

test('H_ENTER → H_READ → H_REMOVE keeps the guest view (4K pages, any PP/key/WIMG/R/C)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 63 }), // gfn (slot has 64 pages)
      fc.integer({ min: 0, max: 0xfff }), // ptel low bits: KEY_LO, R, C, WIMG, N, PP
      fc.constantFrom(0, 0x80000000, 0x30000000, 0xb0000000), // PP0 / KEY_HI
      fc.integer({ min: 1, max: 0xfffff }), // vsid-ish bits of pteh
      fc.boolean(), // host page present
      fc.boolean(), // host page writable
      fc.integer({ min: 0, max: 2047 }), // PTEG
      (gfn, low, hi, vsid, present, writable, pteg) => {
        const w = makeWorld({ order: 18, npages: 64, physPages: 0x1000 });
        if (present) w.mm.map(UA + gfn * 4096, { writable });
        const pteh = (BigInt(vsid) << 12n) | 1n;
        const ptel = (BigInt(hi) << 32n) | BigInt(gfn * 4096 + low);
        const idx = BigInt(pteg * 8);
        const e = hcallBig(w.kvm, w.vcpu, H_ENTER, [0n, idx, pteh, ptel]);
        assert.equal(e.ret, H_SUCCESS);
        assert.equal(e.out[0], idx);
        const [hwV, hwR] = w.kvm.mmu.hpteBig(pteg * 8);
        // VALID iff the host page is present; an ABSENT entry keeps the guest's R/C unfiltered.
        assert.equal(hwV & 1n, present ? 1n : 0n);
        if (present) {
          assert.equal(hwR & 0x80n, 0n); // C never set by H_ENTER in K34
          if ((BigInt(low) & 0x100n) === 0n) assert.equal(hwR & 0x100n, 0n);
        }
        const rd = hcallBig(w.kvm, w.vcpu, H_READ, [0n, idx]);
        assert.equal(rd.out[0], pteh); // VALID (or ABSENT shown as VALID)
        assert.equal(rd.out[1] & ~0x180n, ptel & ~0x180n);
        const rm = hcallBig(w.kvm, w.vcpu, H_REMOVE, [0n, idx, 0n]);
        assert.equal(rm.ret, H_SUCCESS);
        assert.equal(rm.out[1], rd.out[1]);
        assert.equal(w.kvm.mmu.hpteBig(pteg * 8)[0], 0n);
        assert.equal(checkInvariants(w.kvm, w.audit, w.checker), null);
      },
    ),
    { numRuns: 150, seed: 4242 },
  );
});
