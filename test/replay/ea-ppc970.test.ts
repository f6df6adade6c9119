// `state --ea` on a PPC970 trace: the expected translation is computed here from the PowerISA
// hashed-page-table rules (256M segment, 4K page) applied to the raw recorded words read with SQL,
// not from the program's translation code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tmpDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });
const hex = (x: bigint) => `0x${x.toString(16)}`;

test('state --ea on a PPC970 trace: SLB → VA → hash → PTEG → HPTE → RA as PowerISA says', () => {
  const t = join(tmpDir(), 'ppc970.sqlite');
  const r = hv('record', '-w', 'mix', '--profile', 'ppc970', '--accesses', '3000', '-o', t, '-q');
  assert.equal(r.status, 0, r.stderr);
  const db = new Database(t, { readonly: true });
  db.defaultSafeIntegers(true);
  const order = Number(JSON.parse((db.prepare("SELECT value FROM meta WHERE key = 'config'").get() as { value: string }).value).workload.hpt_order);
  // SLB slot 0 of vcpu 0 at the end (the kernel segment: slbia keeps slot 0).
  const slb = db.prepare('SELECT esid, vsid FROM ev_slb_update WHERE vcpu = 0 AND slot = 0 ORDER BY seq DESC LIMIT 1').get() as { esid: bigint; vsid: bigint };
  const M64 = (1n << 64n) - 1n;
  const esid = BigInt.asUintN(64, slb.esid);
  const vsidWord = BigInt.asUintN(64, slb.vsid);
  assert.equal(vsidWord >> 62n, 0n, '256M segment (B = 00)');
  assert.equal(vsidWord & 0x100n, 0n, 'SLB L = 0: 4K base pages');
  const vsid = vsidWord >> 12n;
  // A VALID HPTE at the end in that segment (dword 0 carries B || AVPN = VA >> 23; for 256M: VSID || EA[36:40]).
  const rows = db.prepare(`WITH last AS (SELECT hpte_index, max(seq) AS s FROM ev_hpte_write GROUP BY hpte_index)
    SELECT w.hpte_index AS i, w.new_v AS v, w.new_r AS r FROM ev_hpte_write w JOIN last ON last.s = w.seq WHERE (w.new_v & 1) != 0 ORDER BY w.hpte_index`).all() as { i: bigint; v: bigint; r: bigint }[];
  db.close();
  const e = rows.map((x) => ({ i: x.i, v: BigInt.asUintN(64, x.v), r: BigInt.asUintN(64, x.r) })).find((x) => x.v >> 12n === vsid && (x.v & 4n) === 0n);
  assert.ok(e, 'a VALID 4K HPTE of the kernel segment exists at the end');
  // Rebuild the EA the entry maps: PTEG = hash & mask (primary, H = 0) or ~hash & mask (H = 1), with
  // hash = VSID ^ page index (EA bits 36..51); the page index's top 5 bits are in the AVPN.
  const mask = (1n << BigInt(order - 7)) - 1n;
  const pteg = e.i >> 3n;
  const hashLow = (e.v & 2n) !== 0n ? ~pteg & mask : pteg;
  const avpnPage = (e.v >> 7n) & 0x1fn; // EA bits 36..40 = page index bits 15..11
  const page = ((hashLow ^ vsid) & mask & 0xffffn) | (avpnPage << 11n);
  assert.equal(((page ^ vsid) & mask), hashLow, 'AVPN and PTEG agree on the page index');
  const off = 0x123n;
  const ea = (esid & ~0xfffffffn & M64) | (page << 12n) | off;
  const va = (vsid << 28n) | (ea & 0xfffffffn);
  const hash = (vsid ^ (ea & 0xfffffffn) >> 12n) & 0x7fffffffffn;
  const ra = (e.r & 0x3ffffffffff000n) | off; // RPN (bits 12..53) || page offset
  const out = JSON.parse(hv('state', t, '--ea', hex(ea), '--vcpu', '0', '--json').stdout);
  assert.equal(out.result, 'translated');
  assert.equal(out.segment, '256M');
  assert.equal(out.va, hex(va));
  assert.equal(out.hash, hex(hash));
  assert.equal(out.pteg_primary, Number(hash & mask));
  assert.equal(out.hpte.index, Number(e.i));
  assert.equal(out.page_size, 4096);
  assert.equal(out.real_address, hex(ra));
});
