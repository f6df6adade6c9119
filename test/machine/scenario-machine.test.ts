// Scenario fields that describe the whole machine (issue 10): each one takes effect in the model,
// checked against values derived from the kernel rule it feeds (Linux 3.4 unless stated), never
// from the program's own output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DSISR_ISSTORE,
  DSISR_KEYFAULT,
  H_PARAMETER,
  H_SUCCESS,
  HID4_LPID1_SH,
  HID4_LPID5_SH,
  HID4_RMLS0_SH,
  HID4_RMLS2_SH,
  HID4_RMOR_SH,
  HPTE_R_G_LO,
  HPTE_R_I_LO,
  HPTE_R_M_LO,
  LPCR_DPFD_SH,
  LPCR_HDICE_LO,
  LPCR_LPES_LO,
  LPCR_PECE_LO,
  SLB_VSID_L_LO,
} from '../../src/arch/index.js';
import { parseScenario, type Scenario } from '../../src/guest/scenario.js';
import { ScenarioRunner } from '../../src/machine/scenario-runner.js';
import { Recorder } from '../../src/trace/recorder.js';
import { readAll, tmpDir } from '../helpers.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';
import { runInfo } from '../../src/trace/run-info.js';
import { field } from '../../src/trace/event.js';

const BIN = join(import.meta.dirname, '../../bin/hvtrace.js');
const UA = '0x3fff80000000';
const slot0 = (npages = 1024, extra: Record<string, unknown> = {}) => ({ slot: 0, base_gfn: 0, npages, userspace_addr: UA, ...extra });

function run(json: unknown): ScenarioRunner {
  const r = new ScenarioRunner(parseScenario(json) as Scenario, Recorder.disabled());
  r.run();
  return r;
}
const lpcrOf = (r: ScenarioRunner) => (BigInt(r.machine.kvm.lpcrHi) << 32n) | BigInt(r.machine.kvm.lpcrLo);
const VPM0_VPM1 = 0xc000000000000000n;

test('host_lpcr: the guest LPCR keeps only the host PECE and LPES bits (kvmppc_core_init_vm); the exit restores the host LPCR', async () => {
  const host = 0x007000000200700en; // DPFD 7, ILE, PECE, LPES, RMI
  const json = { machine: { hpt_order: 18, host_lpcr: `0x${host.toString(16)}`, memslots: [slot0()] }, ops: [{ op: 'run' }, { op: 'hcall', nr: 'H_CEDE' }] };
  const r = run(json);
  const want = VPM0_VPM1 | (4n << BigInt(LPCR_DPFD_SH)) | (host & BigInt(LPCR_PECE_LO | LPCR_LPES_LO)) | BigInt(LPCR_HDICE_LO);
  assert.equal(want, 0xc04000000000700dn);
  assert.equal(lpcrOf(r), want);
  assert.equal(r.machine.hostLpcrHi, Number(host >> 32n));
  assert.equal(r.machine.hostLpcrLo, Number(host & 0xffffffffn));
  // Recorded: entry switches load the guest LPCR, the exit (H_CEDE goes to the VMM) the host's.
  const sq = join(tmpDir(), 'lpcr.sqlite');
  recordScenarioRun(parseScenario(json), new Recorder([new SqliteSink(sq)], runInfo('power7', 1, {})));
  const sw = (await readAll(sq)).events.filter((e) => e.kind === 'partition_switch');
  assert.deepEqual(sw.map((e) => [field(e, 'direction'), field(e, 'lpcr')]), [[0n, want], [1n, host]]);
  // Without it the host LPCR is 0: none of PECE/LPES.
  assert.equal(lpcrOf(run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: [] })) & BigInt(LPCR_PECE_LO | LPCR_LPES_LO), 0n);
});

test('lpid: the first free bit of lpid_inuse after other VMs took 1..lpid-1; PPC970 caps it at 62', () => {
  assert.equal(run({ machine: { hpt_order: 18, lpid: 5, memslots: [slot0()] }, ops: [] }).machine.kvm.lpid, 5);
  assert.equal(run({ machine: { hpt_order: 18, lpid: 1022, memslots: [slot0()] }, ops: [] }).machine.kvm.lpid, 1022);
  assert.equal(run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: [] }).machine.kvm.lpid, 1);
  assert.throws(() => parseScenario({ machine: { profile: 'ppc970', lpid: 63, memslots: [slot0()] }, ops: [] }, 'x.json'), /x\.json: machine\.lpid: lpid 63: PPC970 LPIDs are 6 bits/);
  assert.throws(() => parseScenario({ machine: { lpid: 1023, memslots: [slot0()] }, ops: [] }, 'x.json'), /x\.json: machine\.lpid: /);
});

test('PPC970 host_hid4, lpid and rma: HID4 as kvmppc_core_init_vm and kvmppc_hv_setup_rma build it', () => {
  const host = 0xfe00000000000043n;
  const lpid = 37;
  const base = 0x10000000n; // 256 MiB, aligned to the 256 MiB RMA
  const r = new ScenarioRunner(
    parseScenario({
      machine: { profile: 'ppc970', hpt_order: 18, host_memory_mb: 1024, host_hid4: `0x${host.toString(16)}`, lpid, rma: { size_mb: 256, base: `0x${base.toString(16)}` }, memslots: [slot0(65536, { populate: false })] },
      ops: [{ op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x123001', '0x5012'] }],
    }),
    Recorder.disabled(),
  );
  // Creation: the LPID fields replaced (lpid >> 4 at LPID1, lpid & 0xf at LPID5).
  const lpidMask = (3n << BigInt(HID4_LPID1_SH)) | (0xfn << BigInt(HID4_LPID5_SH));
  const atCreate = (host & ~lpidMask) | (BigInt(lpid >> 4) << BigInt(HID4_LPID1_SH)) | (BigInt(lpid & 0xf) << BigInt(HID4_LPID5_SH));
  assert.equal(atCreate, 0xea00000000000042n);
  assert.equal(lpcrOf(r), atCreate);
  r.run();
  // First run: RMLS cleared and set to lpcr_rmls(256 MiB) = 4 (split), RMOR = base_pfn >> 14 ORed in.
  const rmls = 4n;
  const rmlsMask = (1n << BigInt(HID4_RMLS0_SH)) | (3n << BigInt(HID4_RMLS2_SH));
  const want = (atCreate & ~rmlsMask) | ((rmls >> 2n) << BigInt(HID4_RMLS0_SH)) | ((rmls & 3n) << BigInt(HID4_RMLS2_SH)) | (((base >> 12n) >> 14n) << BigInt(HID4_RMOR_SH));
  assert.equal(want, 0x8a00080000000062n);
  assert.equal(lpcrOf(r), want);
  // The RMA pages back gpa 0 through slot_phys: H_ENTER of gpa 0x5000 gets pa = base + 0x5000.
  const hpt = r.machine.kvm.mmu.hpt;
  assert.equal(hpt[0x100 * 4 + 3], Number(base) + 0x5000 + 0x12);
  // The RMA block is the host's from boot: RESERVED, not the VMM's.
  assert.equal(r.machine.phys.owner[Number(base >> 12n)], 3);
});

test('rma: alignment, bounds and profile are input errors naming the field', () => {
  const m = (rma: unknown, extra = {}) => () => parseScenario({ machine: { profile: 'ppc970', host_memory_mb: 512, rma, memslots: [slot0(1024, { populate: false })], ...extra }, ops: [] }, 'x.json');
  assert.throws(m({ size_mb: 128, base: '0x4000000' }), /x\.json: machine\.rma\.base: RMA base 0x4000000 is not aligned to its size \(128 MiB\)/);
  assert.throws(m({ size_mb: 256, base: '0x20000000' }), /machine\.rma\.base: .*beyond the host's memory \(host_memory_mb 512\)/);
  assert.throws(m({ size_mb: 64, base: '0' }), /machine\.rma\.base: RMA base 0 would hold host frame 0/);
  assert.throws(m({ size_mb: 32, base: '0x4000000' }), /machine\.rma\.size_mb: /, '32 MiB: lpcr_rmls is -1 on PPC970');
  assert.throws(m({ size_mb: 64, base: '0x4000000' }, { profile: 'power7' }), /machine\.rma: rma is PPC970 only/);
  assert.throws(() => parseScenario({ machine: { profile: 'ppc970', host_lpcr: '0x7000', memslots: [slot0()] }, ops: [] }), /machine\.host_lpcr: host_lpcr is POWER7 only/);
  assert.throws(() => parseScenario({ machine: { host_hid4: '0x1', memslots: [slot0()] }, ops: [] }), /machine\.host_hid4: host_hid4 is PPC970 only/);
});

test('memslot page_shift 24: the VRMA uses 16 MiB pages (VRMASD = SLB_VSID_L << 43, LARGE HPTEs) and 16 MiB guest pages enter', () => {
  const r = run({
    machine: { hpt_order: 18, host_memory_mb: 256, memslots: [slot0(16384, { page_shift: 24 }), { slot: 2, base_gfn: '0x8000', npages: 4096, userspace_addr: '0x3fffa0000000', populate: false }] },
    ops: [
      { op: 'run' },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x123005', '0x1000012'], expect: { ret: 'H_SUCCESS' } },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x108', '0x124005', '0x8000012'], expect: { ret: 'H_PARAMETER' } },
    ],
  });
  assert.deepEqual(r.failures, []);
  assert.equal(lpcrOf(r) & 0x000f800000000000n, BigInt(SLB_VSID_L_LO) << 43n);
  // 64 MiB of 16 MiB pages: 4 VRMA entries, page i at index (0x7ff - i) * 8 + 7, dword 0 with LARGE and AVPN i << 8.
  const hpt = r.machine.kvm.mmu.hpt;
  assert.equal(r.machine.kvm.mmu.vrma_hptes, 16384 >> 12);
  for (let i = 0; i < 4; i++) {
    const idx = (0x7ff - i) * 8 + 7;
    assert.equal(hpt[idx * 4], 0x4001ffff, `v hi ${i}`);
    assert.equal(hpt[idx * 4 + 1], (0xff000000 | (i << 8) | 0x10 | 0x4 | 0x1) >>> 0, `v lo ${i}`);
  }
  // The populate step mapped 4 huge pages (one fault each), not 16384 small ones.
  const vma = r.machine.mm.find_vma(Number(UA))!;
  assert.equal(vma.npages, 4);
  assert.equal(r.machine.mm.pfnOf(Number(UA) + 0x1234000) % 4096, 0, 'a 16 MiB page is 4096 aligned frames');
});

test('host_map page_shift: creates a VMA of that page size outside every VMA, must match the VMA inside one', () => {
  const r = run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: [{ op: 'host_map', hva: '0x7f0000000000', page_shift: 16 }] });
  const vma = r.machine.mm.find_vma(0x7f0000000000)!;
  assert.equal(vma.pageShift, 16);
  assert.equal(vma.end - vma.start, 0x10000);
  assert.ok(r.machine.mm.pfnOf(0x7f0000000000) >= 0);
  assert.throws(
    () => run({ machine: { hpt_order: 18, memslots: [slot0(1024, { populate: false })] }, ops: [{ op: 'host_map', hva: UA, page_shift: 24 }] }),
    /^UserError: ops\[0\] \(host_map\): page_shift 24 does not match the 4 KiB pages of the VMA at 0x3fff80000000/,
  );
  // Matching the VMA: a plain map.
  const ok = run({ machine: { hpt_order: 18, memslots: [slot0(1024, { populate: false })] }, ops: [{ op: 'host_map', hva: UA, page_shift: 12 }] });
  assert.ok(ok.machine.mm.pfnOf(Number(UA)) >= 0);
});

test('memslot cache inhibited: the H_ENTER WIMG rule for I/O (W|I must equal the host) and RAM (rewritten to M)', () => {
  const ig = HPTE_R_I_LO | HPTE_R_G_LO; // 0x28
  const r = run({
    machine: { hpt_order: 18, memslots: [slot0(), { slot: 1, base_gfn: '0x10000', npages: 16, userspace_addr: '0x3fff90000000', cache: 'inhibited' }] },
    ops: [
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x100001', `0x${(0x10000000 | ig | 2).toString(16)}`], expect: { ret: H_SUCCESS } },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x108', '0x101001', `0x${(0x10001000 | HPTE_R_M_LO | 2).toString(16)}`], expect: { ret: H_PARAMETER } },
      { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x110', '0x102001', `0x${(0x3000 | ig | 2).toString(16)}`], expect: { ret: H_SUCCESS } },
    ],
  });
  assert.deepEqual(r.failures, []);
  const hpt = r.machine.kvm.mmu.hpt;
  assert.equal(hpt[0x100 * 4 + 3] & 0x78, ig, 'I/O page: guest I|G kept');
  assert.equal(hpt[0x108 * 4 + 1], 0, 'refused: nothing written');
  assert.equal(hpt[0x110 * 4 + 3] & 0x78, HPTE_R_M_LO, 'RAM page: WIMG rewritten to M');
  // The same I|G H_ENTER on a cacheable slot 1 is rewritten to M too: the cache field took effect.
  const ram = run({
    machine: { hpt_order: 18, memslots: [slot0(), { slot: 1, base_gfn: '0x10000', npages: 16, userspace_addr: '0x3fff90000000' }] },
    ops: [{ op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x100001', `0x${(0x10000000 | ig | 2).toString(16)}`] }],
  });
  assert.equal(ram.machine.kvm.mmu.hpt[0x100 * 4 + 3] & 0x78, HPTE_R_M_LO);
});

test('mtspr amr: a store to a key-5 page with AMR store-deny for key 5 is a DSI with KEYFAULT | ISSTORE', () => {
  const amrStoreDeny = 2n << (62n - 2n * 5n);
  const ops = (amr: bigint) => [
    { op: 'slbmte', slot: 1, esid: '0x0000000038000001', vsid: '0x777000' },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x3b90', '0x777001', '0x5a12'] },
    { op: 'mtspr', spr: 'amr', value: `0x${amr.toString(16)}` },
    { op: 'store', ea: '0x30005000' },
  ];
  const r = run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: ops(amrStoreDeny) });
  const h = r.machine.hw[0];
  assert.equal((BigInt(h.amrHi) << 32n) | BigInt(h.amrLo), amrStoreDeny);
  assert.equal(h.dsisr >>> 0, (DSISR_KEYFAULT | DSISR_ISSTORE) >>> 0);
  assert.equal(h.pcLo, 0x300, 'delivered at the DSI vector');
  const ok = run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: ops(0n) });
  assert.notEqual(ok.machine.hw[0].pcLo, 0x300);
});

test('MMIO value: the store puts it in the instruction RS and the load check reads its RT, not r3', () => {
  const base = [
    { op: 'slbmte', slot: 1, esid: '0x0000000038000001', vsid: '0x777000' },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x3bb8', '0x777001', '0x40000032'] },
    { op: 'store', ea: '0x30000010', inst: String(((36 << 26) | (7 << 21) | (4 << 16)) >>> 0), value: '0x1234abcd' }, // stw r7,0(r4)
  ];
  const lwzR5 = String(((32 << 26) | (5 << 21) | (4 << 16)) >>> 0);
  const good = run({ machine: { hpt_order: 18, memslots: [slot0(4096)] }, ops: [...base, { op: 'load', ea: '0x30000010', inst: lwzR5, value: '0x1234abcd', expect: 'mmio' }] });
  assert.deepEqual(good.failures, []);
  assert.equal(good.machine.hw[0].gprLo(5), 0x1234abcd);
  assert.equal(good.machine.hw[0].gprLo(3), 0);
  const bad = run({ machine: { hpt_order: 18, memslots: [slot0(4096)] }, ops: [...base, { op: 'load', ea: '0x30000010', inst: lwzR5, value: '0x1', expect: 'mmio' }] });
  assert.deepEqual(bad.failures.map((f) => f.message), ['load 0x30000010: r5 expected 0x1, got 0x1234abcd']);
});

test('expect op and dsisr: a wrong value is a failure naming the state, not a pass', () => {
  const r = run({
    machine: { hpt_order: 18, lpid: 3, memslots: [slot0()] },
    ops: [
      { op: 'expect', lpid: 4, lpcr: '0x1', amr: '0x2', gpr: { reg: 4, value: '0x5' }, hpte: { index: 7, v: '0x1', r: '0xf0', r_mask: '0xf0', guest_r: '0x3' } },
      { op: 'load', ea: '0x5000', msr: { ir: true, dr: true }, dsisr: '0x40000000' },
    ],
  });
  const msgs = r.failures.map((f) => f.message);
  assert.deepEqual(msgs.slice(0, 7), [
    'expect lpid: expected 0x4, got 0x3',
    'expect lpcr: expected 0x1, got 0xc040000000000001',
    'expect amr: expected 0x2, got 0x0',
    'expect r4: expected 0x5, got 0x0',
    'expect hpte 0x7 v: expected 0x1, got 0x0',
    'expect hpte 0x7 r & 0xf0: expected 0xf0, got 0x0',
    'expect hpte 0x7 guest_r: expected 0x3, got 0x0',
  ]);
  // No SLB entry: the load is a data segment interrupt, so the DSISR clause fails too.
  assert.match(msgs[7], /^load 0x5000: DSISR expected 0x40000000, got no DSI \(data_segment\)$/);
  assert.throws(() => run({ machine: { hpt_order: 18, memslots: [slot0()] }, ops: [{ op: 'expect', hid4: '0x0' }] }), /hid4 is not a register of power7/);
});

test('populated guest RAM beyond the host: exit 2 and one line naming the field and both sizes (was an internal error)', () => {
  assert.throws(
    () => parseScenario({ machine: { host_memory_mb: 64, memslots: [slot0(8192), { slot: 1, base_gfn: 8192, npages: 16384, userspace_addr: '0x3fffa0000000' }] }, ops: [] }, 'x.json'),
    /^UserError: x\.json: machine\.memslots\[1\]\.npages: populated guest RAM \(96 MiB up to this slot\) exceeds the host's memory \(host_memory_mb 64: 63\.996 MiB usable/,
  );
  // Not populated: demand-faulted, so a guest larger than the host is fine.
  parseScenario({ machine: { host_memory_mb: 64, memslots: [slot0(32768, { populate: false })] }, ops: [] });
  // Exactly what the host has, minus frame 0, fits.
  parseScenario({ machine: { host_memory_mb: 16, memslots: [slot0(4095)] }, ops: [] });
  const f = join(tmpDir(), 'big.json');
  writeFileSync(f, JSON.stringify({ machine: { host_memory_mb: 64, hpt_order: 18, memslots: [slot0(32768)] }, ops: [] }));
  const p = spawnSync(process.execPath, [BIN, 'record', '--scenario', f, '-o', join(tmpDir(), 'x.sqlite')], { encoding: 'utf8' });
  assert.equal(p.status, 2, p.stderr);
  assert.equal(p.stderr.trim().split('\n').length, 1);
  assert.match(p.stderr, /^hvtrace: .*big\.json: machine\.memslots\[0\]\.npages: populated guest RAM \(128 MiB up to this slot\) exceeds the host's memory \(host_memory_mb 64/);
});

test('huge pages: the frame-0 block is never a huge page (up front); fragmentation by small pages is a one-line input error at populate', () => {
  // 48 MiB host: three 16 MiB blocks, block 0 holds frame 0, so at most 32 MiB of 16 MiB pages.
  const huge = (npages: number, small: number) => ({
    machine: { host_memory_mb: 48, hpt_order: 18, memslots: [slot0(small), { slot: 1, base_gfn: '0x4000', npages, userspace_addr: '0x3fff90000000', page_shift: 24 }] },
    ops: [],
  });
  assert.throws(() => parseScenario(huge(12288, 1), 'x.json'), /x\.json: machine\.memslots\[1\]\.npages: populated 16 MiB pages \(48 MiB up to this slot\) exceed the host's 2 aligned 16 MiB blocks/);
  // 32 MiB of 16 MiB pages fit the two blocks, but the 256 small pages of slot 0, placed first by
  // the seeded allocator, land in them (seed 1): the second huge page finds no aligned block.
  assert.throws(() => run(huge(8192, 256)), (e: Error) => {
    assert.equal(e.name, 'UserError');
    assert.match(e.message, /^machine\.memslots\[1\]\.populate: host memory exhausted at hva 0x3fff9[0-9a-f]+ \(16 MiB pages; host_memory_mb 48, \d+\.\d{3} MiB free, not in aligned blocks\)$/);
    return true;
  });
  // Without the small pages both fit.
  assert.equal(run({ machine: { host_memory_mb: 48, hpt_order: 18, memslots: [{ slot: 1, base_gfn: '0x4000', npages: 8192, userspace_addr: '0x3fff90000000', page_shift: 24 }] }, ops: [] }).machine.mm.vmas[0].npages, 2);
});

test('comments are accepted on ops, memslots and the machine and change nothing', () => {
  const s = parseScenario({ machine: { comment: 'm', memslots: [slot0(1024, { comment: 's' })] }, ops: [{ op: 'run', comment: 'c' }] });
  assert.equal(s.ops[0].op, 'run');
});
