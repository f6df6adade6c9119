// `hvtrace history`: the life of a guest page (--gfn), an HPTE slot (--hpte), or the slots the faults
// at an EA used (--ea --vcpu). The expected lines of the hand scenario are derived below from the
// scenario and the kernel paths the model mirrors; the seeded workload is compared with
// independent SQL over the trace's views; the derived cache is checked for rebuilds and bytes.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDerived } from '../../src/analysis/derived-cache.js';
import { compute_tlbie_rb_big } from '../../src/arch/hash.js';
import { openTrace } from '../../src/trace/reader.js';
import { sha256, tmpDir } from '../helpers.js';
import { EA, GFN, historyOf, HVA, hv, loadRefault, recordScenario, REFAULT, SLOT } from './canned-helpers.js';

/** The refault scenario with a swap-out after its third store and one more store (ops 0..10). */
function swapTrace(dir: string): string {
  const sc = loadRefault();
  sc.ops = [...sc.ops.slice(0, 8), { ...sc.ops[7] }, ...sc.ops.slice(8)];
  const path = join(dir, 'swap.sqlite');
  recordScenario(sc, path, (r, i) => {
    if (i === 7) assert.ok(r.machine.mm.swapOut(HVA) >= 0);
  });
  return path;
}

// The VRMA entry of gfn 0x1234: kvmppc_hv_setup_rma puts VRMA page i in slot 7 of PTEG (npteg − 1 − i);
// a 2^24-byte HPT has 0x20000 PTEGs, so index (0x1ffff − i)·8 + 7 = 0xfffff − 8·i (4K pages: i = gfn).
const VRMA = 0xfffff - 8 * GFN;

// The life of gfn 0x1234, in order, as [kind, what, slot] (slot -1 for events on the page only):
const GFN_LIFE: [string, string, number][] = [
  // op 0 host_map: the VMM faults the page in.
  ['host_page', 'host_page', -1],
  // first KVM_RUN (op 2's entry): kvmppc_hv_setup_rma enters every VRMA page; the page is present,
  // so its entry is VALID and linked first (kvmppc_add_revmap_chain before the HPTE is written).
  ['rmap_change', 'rmap_link', VRMA],
  ['hpte_write', 'vrma', VRMA],
  // op 2 H_ENTER: link, then write (kvmppc_do_h_enter).
  ['rmap_change', 'rmap_link', SLOT],
  ['hpte_write', 'h_enter', SLOT],
  // op 3 store: the hardware sets C.
  ['hpte_write', 'hw_rc', SLOT],
  // op 4 invalidate_page: the event first, then kvm_unmap_rmapp empties the chain from its head (the
  // rmap word's index: the VRMA entry, linked first), per HPTE: ABSENT, tlbie, unlink.
  ['notifier', 'notifier', -1],
  ['hpte_write', 'notifier_invalidate', VRMA],
  ['tlbie', 'tlbie', VRMA],
  ['rmap_change', 'rmap_unlink', VRMA],
  ['hpte_write', 'notifier_invalidate', SLOT],
  ['tlbie', 'tlbie', SLOT],
  ['rmap_change', 'rmap_unlink', SLOT],
  // op 5 store: HDSI → virtual; the page fault re-instantiates the entry (no host work).
  ['fault_triage', 'fault', SLOT],
  ['page_fault_enter', 'page_fault', SLOT],
  ['rmap_change', 'rmap_link', SLOT],
  ['hpte_write', 'fault_install', SLOT],
  ['page_fault_exit', 'page_fault_exit', SLOT],
  // op 6 host_unmap: the page goes (host unmap), the range notifier invalidates (start), then ends.
  ['host_page', 'host_page', -1],
  ['notifier', 'notifier', -1],
  ['hpte_write', 'notifier_invalidate', SLOT],
  ['tlbie', 'tlbie', SLOT],
  ['rmap_change', 'rmap_unlink', SLOT],
  ['notifier', 'notifier', -1],
  // op 7 store: re-fault; get_user_pages faults a fresh page in (host map) before the install.
  ['fault_triage', 'fault', SLOT],
  ['page_fault_enter', 'page_fault', SLOT],
  ['host_page', 'host_page', -1],
  ['rmap_change', 'rmap_link', SLOT],
  ['hpte_write', 'fault_install', SLOT],
  ['page_fault_exit', 'page_fault_exit', SLOT],
  // swap-out (try_to_unmap_one): the page to swap, then invalidate_page.
  ['host_page', 'host_page', -1],
  ['notifier', 'notifier', -1],
  ['hpte_write', 'notifier_invalidate', SLOT],
  ['tlbie', 'tlbie', SLOT],
  ['rmap_change', 'rmap_unlink', SLOT],
  // op 8 store: re-fault; get_user_pages swaps the page in.
  ['fault_triage', 'fault', SLOT],
  ['page_fault_enter', 'page_fault', SLOT],
  ['host_page', 'host_page', -1],
  ['rmap_change', 'rmap_link', SLOT],
  ['hpte_write', 'fault_install', SLOT],
  ['page_fault_exit', 'page_fault_exit', SLOT],
  // op 9 load at 0x10006000: another page, nothing here. op 10 H_REMOVE: write (empty), tlbiel (one
  // vcpu: local), unlink.
  ['hpte_write', 'h_remove', SLOT],
  ['tlbie', 'tlbie', SLOT],
  ['rmap_change', 'rmap_unlink', SLOT],
];

test('history --gfn of the hand scenario: entered, invalidated, re-faulted, unmapped, faulted in, swapped out and in, removed', async () => {
  const d = tmpDir();
  const path = swapTrace(d);
  const rows = await historyOf(path, { gfn: GFN });
  assert.deepEqual(rows.map((r) => [r.kind, r.what, r.hpte_index]), GFN_LIFE);
  assert.ok(rows.every((r) => r.gfn === GFN && r.lpid === 1));
  const seqs = rows.map((r) => r.seq as number);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  // The host page events say which: map, unmap, map (fresh), swap_out, swap_in.
  assert.deepEqual(rows.filter((r) => r.kind === 'host_page').map((r) => (r.description as string).split(' ')[1]), ['map', 'unmap', 'map', 'swap_out', 'swap_in']);
  assert.deepEqual(rows.filter((r) => r.kind === 'notifier').map((r) => (r.description as string).split(' ')[1]), ['invalidate_page', 'range_start', 'range_end', 'invalidate_page']);
  const h = rows.find((r) => r.what === 'h_enter')!;
  assert.equal(h.description, 'H_ENTER: empty → VALID v=0x123456001 r=0x' + ((BigInt(hostPfn(path, 0)) << 12n) | 0x112n).toString(16));
  assert.match(rows.find((r) => r.what === 'hw_rc')!.description as string, /^hardware set C: /);
  assert.ok(rows.filter((r) => r.what === 'fault_install').every((r) => /ABSENT → VALID v=0x123456001 /.test(r.description as string)));
  // The tlbie of the slot carries compute_tlbie_rb of its entry (4K page, VA from AVPN 0x123456 and the hash).
  const tl = rows.filter((r) => r.kind === 'tlbie' && r.hpte_index === SLOT);
  assert.ok(tl.every((r) => (r.description as string).endsWith('rb=0x1234560005000')));
  // Cause chains: each event's cause, that one's cause, … as the events table says.
  const db = new Database(path, { readonly: true });
  const cause = db.prepare('SELECT cause FROM events WHERE seq = ?').pluck(true);
  for (const r of rows) {
    const chain: number[] = [];
    for (let c = cause.get(r.seq) as number | null; c !== null; c = cause.get(c) as number | null) chain.push(c);
    assert.deepEqual(r.cause_chain === '' ? [] : (r.cause_chain as string).split(' → ').map((s) => Number(s.split(' ')[0])), chain, `seq ${r.seq}`);
  }
  db.close();
});

function hostPfn(path: string, k: number): number {
  const db = new Database(path, { readonly: true });
  const p = db.prepare("SELECT pfn FROM host_pages WHERE hva = ? ORDER BY seq").pluck(true).all(HVA) as number[];
  db.close();
  return p[k];
}

test('history --hpte is the slot rows of the page life; --ea --vcpu gives the faults at the EA and the lives of their slots', async () => {
  const d = tmpDir();
  const path = swapTrace(d);
  const gfnRows = await historyOf(path, { gfn: GFN });
  const slot = await historyOf(path, { hpte: SLOT });
  assert.deepEqual(slot, gfnRows.filter((r) => r.hpte_index === SLOT));
  assert.equal(slot[0].what, 'rmap_link');
  assert.equal(slot.at(-1)!.what, 'rmap_unlink');
  // Every fault at EA 0x10005000 used slot 0x1a298, so the EA history is that slot's life.
  assert.deepEqual(await historyOf(path, { eaPage: Number(EA >> 12n), vcpu: 0 }), slot);
  // The load at 0x10006000 found no HPTE: just the reflected fault.
  const other = await historyOf(path, { eaPage: 0x10006, vcpu: 0 });
  assert.deepEqual(other.map((r) => [r.kind, r.hpte_index, r.description]), [['fault_triage', -1, 'HDSI load ea=0x10006000 → reflect (status 0x40000000)']]);
  assert.deepEqual(await historyOf(path, { eaPage: Number(EA >> 12n), vcpu: 1 }), []);
  // The neighbouring frames were never mapped by the host: only their VRMA entries, entered ABSENT
  // (no host page, so no rmap link) at the first KVM_RUN.
  for (const g of [GFN - 1, GFN + 1]) {
    const rows = await historyOf(path, { gfn: g });
    assert.deepEqual(rows.map((r) => [r.kind, r.what, r.hpte_index, (r.description as string).split(' v=')[0]]), [['hpte_write', 'vrma', 0xfffff - 8 * g, 'VRMA set-up: empty → ABSENT']]);
  }
});

test('seeded workload: slot and gfn histories hold exactly the events independent SQL finds', async () => {
  const d = tmpDir();
  const path = join(d, 'mix.sqlite');
  assert.equal(hv('record', '-w', 'fork-exec', '--accesses', '1500', '--seed', '6', '-o', path, '-q', '--no-index').code, 0);
  const db = new Database(path, { readonly: true });
  const all = (q: string, ...a: unknown[]) => db.prepare(q).pluck(true).all(...a) as number[];
  const ua = db.prepare("SELECT userspace_addr FROM ev_memslot WHERE op = 'create'").pluck(true).get() as number;
  // The busiest slots and guest frames, and a quiet one of each.
  const slots = all('SELECT hpte_index FROM hpte_updates GROUP BY hpte_index ORDER BY count(*) DESC, hpte_index LIMIT 3');
  const gfns = all("SELECT gfn FROM rmap_changes WHERE op = 'link' GROUP BY gfn ORDER BY count(*) DESC, gfn LIMIT 3");
  slots.push(all('SELECT hpte_index FROM hpte_updates GROUP BY hpte_index HAVING count(*) = 2 ORDER BY hpte_index LIMIT 1')[0]);
  gfns.push(all("SELECT gfn FROM rmap_changes GROUP BY gfn HAVING count(*) = 1 ORDER BY gfn LIMIT 1")[0]);
  // and a frame whose HPTE was removed (the removal's guest view no longer names it).
  gfns.push(all(`SELECT (SELECT (p.guest_r & 0x0ffffffffffff000) >> 12 FROM hpte_updates p WHERE p.hpte_index = w.hpte_index AND p.seq < w.seq
    AND (p.new_v & 0x21) != 0 ORDER BY p.seq DESC LIMIT 1) FROM hpte_updates w WHERE (w.new_v & 0x21) = 0 AND (w.old_v & 0x21) != 0 ORDER BY w.seq LIMIT 1`)[0]);
  const bySeqKind = (rows: Record<string, unknown>[], kind: string) => rows.filter((r) => r.kind === kind).map((r) => r.seq as number);
  for (const i of slots) {
    const rows = await historyOf(path, { hpte: i });
    assert.deepEqual(bySeqKind(rows, 'hpte_write'), all('SELECT seq FROM hpte_updates WHERE hpte_index = ? ORDER BY seq', i), `slot ${i} writes`);
    assert.deepEqual(bySeqKind(rows, 'rmap_change'), all('SELECT seq FROM rmap_changes WHERE hpte_index = ? ORDER BY seq', i), `slot ${i} rmap`);
    for (const k of ['fault_triage', 'page_fault_enter', 'page_fault_exit']) assert.deepEqual(bySeqKind(rows, k), all(`SELECT seq FROM ev_${k} WHERE hpte_index = ? ORDER BY seq`, i), `slot ${i} ${k}`);
    assert.deepEqual(bySeqKind(rows, 'hcall_exit'), all(`SELECT x.seq FROM ev_hcall_exit x JOIN ev_hcall_enter e ON x.cause = e.seq
      WHERE e.r5 = ? AND (x.nr IN (12, 16, 20) OR (x.nr IN (4, 24) AND x.ret != 0)) ORDER BY x.seq`, i), `slot ${i} hcalls`);
    // A tlbie belongs to the slot whose write of the same cause it completes; where that cause wrote
    // this slot only, every single-entry tlbie of the cause is this slot's.
    const tl = bySeqKind(rows, 'tlbie');
    for (const s of tl) assert.ok(all('SELECT w.seq FROM hpte_updates w JOIN ev_tlbie t ON t.cause = w.cause WHERE t.seq = ? AND w.hpte_index = ? AND w.seq < t.seq', s, i).length > 0, `tlbie ${s} follows a write of slot ${i}`);
    for (const s of all(`SELECT t.seq FROM ev_tlbie t WHERE t.sets = 0 AND t.scope IN ('global', 'local')
        AND (SELECT count(DISTINCT hpte_index) FROM hpte_updates w WHERE w.cause = t.cause) = 1
        AND (SELECT min(hpte_index) FROM hpte_updates w WHERE w.cause = t.cause) = ?`, i)) assert.ok(tl.includes(s), `tlbie ${s} of slot ${i}`);
  }
  for (const g of gfns) {
    const rows = await historyOf(path, { gfn: g });
    const hva = ua + g * 4096;
    assert.deepEqual(bySeqKind(rows, 'host_page'), all('SELECT seq FROM host_pages WHERE owner = 0 AND hva = ? ORDER BY seq', hva), `gfn ${g} host pages`);
    assert.deepEqual(bySeqKind(rows, 'notifier'), all('SELECT seq FROM notifier_events WHERE hva_start < ? AND hva_end > ? ORDER BY seq', hva + 4096, hva), `gfn ${g} notifiers`);
    assert.deepEqual(bySeqKind(rows, 'rmap_change'), all('SELECT seq FROM rmap_changes WHERE gfn = ? ORDER BY seq', g), `gfn ${g} rmap`);
    for (const k of ['page_fault_enter', 'page_fault_exit']) assert.deepEqual(bySeqKind(rows, k), all(`SELECT seq FROM ev_${k} WHERE gfn = ? ORDER BY seq`, g), `gfn ${g} ${k}`);
    const tri = bySeqKind(rows, 'fault_triage');
    for (const s of all('SELECT seq FROM faults WHERE gfn = ?', g)) assert.ok(tri.includes(s), `gfn ${g} fault ${s}`);
    // HPTE writes: those whose guest view maps the gfn (4K pages: guest_r RPN >> 12), plus the writes
    // that empty a slot whose last mapping was this gfn.
    const mapping = all("SELECT seq FROM hpte_updates WHERE (new_v & 0x21) != 0 AND ((guest_r & 0x0ffffffffffff000) >> 12) = ? ORDER BY seq", g);
    const writes = bySeqKind(rows, 'hpte_write');
    for (const s of mapping) assert.ok(writes.includes(s), `gfn ${g} write ${s}`);
    const emptying = all(`SELECT w.seq FROM hpte_updates w WHERE (w.new_v & 0x21) = 0 AND (SELECT (p.guest_r & 0x0ffffffffffff000) >> 12 FROM hpte_updates p
      WHERE p.hpte_index = w.hpte_index AND p.lpid = w.lpid AND p.seq < w.seq AND (p.new_v & 0x21) != 0 ORDER BY p.seq DESC LIMIT 1) = ?`, g);
    for (const s of emptying) assert.ok(writes.includes(s), `gfn ${g}: write ${s} empties a slot that mapped it`);
    for (const s of writes.filter((w) => !mapping.includes(w))) {
      const prev = db.prepare(`SELECT (p.guest_r & 0x0ffffffffffff000) >> 12 FROM hpte_updates w JOIN hpte_updates p ON p.hpte_index = w.hpte_index AND p.lpid = w.lpid
        WHERE w.seq = ? AND (w.new_v & 0x21) = 0 AND p.seq < w.seq AND (p.new_v & 0x21) != 0 ORDER BY p.seq DESC LIMIT 1`).pluck(true).get(s);
      assert.equal(prev, g, `gfn ${g}: write ${s} empties a slot that mapped it`);
    }
    assert.ok(rows.length > 0);
  }
  // tlbies of a cause that wrote several slots (H_BULK_REMOVE issues its tlbies after all its
  // writes, kvmppc_h_bulk_remove): each belongs to the slot whose compute_tlbie_rb (from the entry
  // as it was) is the tlbie's RB, and to no other slot of the cause.
  const shared = db.prepare(`SELECT t.seq, t.rb, t.cause FROM ev_tlbie t WHERE t.sets = 0 AND t.scope IN ('global', 'local')
    AND (SELECT count(DISTINCT hpte_index) FROM hpte_updates w WHERE w.cause = t.cause) > 1 ORDER BY t.seq LIMIT 12`).safeIntegers(true).all() as { seq: bigint; rb: bigint; cause: bigint }[];
  assert.ok(shared.length >= 4, `${shared.length} tlbies of multi-slot causes`);
  for (const t of shared) {
    const writes = db.prepare('SELECT hpte_index, old_v, old_r FROM hpte_updates WHERE cause = ? AND seq < ?').safeIntegers(true).all(t.cause, t.seq) as { hpte_index: bigint; old_v: bigint; old_r: bigint }[];
    const owners = [...new Set(writes.filter((w) => compute_tlbie_rb_big(BigInt.asUintN(64, w.old_v), BigInt.asUintN(64, w.old_r), w.hpte_index, true) === BigInt.asUintN(64, t.rb)).map((w) => Number(w.hpte_index)))];
    assert.equal(owners.length, 1, `tlbie ${t.seq}: one slot has its RB`);
    for (const i of new Set(writes.map((w) => Number(w.hpte_index)))) {
      const has = (await historyOf(path, { hpte: i })).some((r) => r.seq === Number(t.seq));
      assert.equal(has, i === owners[0], `tlbie ${t.seq} in slot ${i}'s history`);
    }
  }
  db.close();
});

test('derived cache: reused while the trace is unchanged, rebuilt when it changes, byte-identical for the same trace', async () => {
  const d = tmpDir();
  const a = join(d, 'a.sqlite');
  const b = join(d, 'b.sqlite');
  assert.equal(hv('record', '--scenario', REFAULT, '-o', a, '-q').code, 0);
  assert.equal(hv('record', '--scenario', REFAULT, '-o', b, '-q').code, 0);
  const open = async (p: string, rebuild = false) => {
    const r = await openTrace(p);
    const c = await openDerived(r, { rebuild });
    const out = { built: c.built, events: c.meta.events, path: c.path };
    c.close();
    r.close();
    return out;
  };
  const first = await open(a);
  assert.equal(first.built, true);
  assert.equal(first.path, `${a}.hvd`);
  const bytes = sha256(first.path);
  assert.equal((await open(a)).built, false, 'reused');
  assert.equal((await open(a, true)).built, true);
  assert.equal(sha256(first.path), bytes, 'byte-identical on rebuild');
  await open(b);
  assert.equal(sha256(`${b}.hvd`), bytes, 'two recordings of one scenario: the same cache bytes');
  // Replace the trace with another run at the same path: the cache is rebuilt for it.
  const tv11 = join(d, 'tv11.sqlite');
  assert.equal(hv('record', '--scenario', join(import.meta.dirname, '../../traces/tv11-h-enter.scenario.json'), '-o', tv11, '-q').code, 0);
  rmSync(a);
  copyFileSync(tv11, a);
  const again = await open(a);
  assert.equal(again.built, true, 'rebuilt for the new content');
  assert.notEqual(again.events, first.events);
  assert.notEqual(sha256(first.path), bytes);
  // A damaged cache is rebuilt, not trusted.
  copyFileSync(tv11, `${a}.hvd`);
  assert.equal((await open(a)).built, true);
  assert.ok(readFileSync(`${a}.hvd`).length > 0);
});

test('history CLI: formats, Arrow = SQLite, bad input is one line with exit 2', () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '--scenario', REFAULT, '-o', sq, '--arrow', ar, '-q').code, 0);
  const csv = hv('history', sq, '--gfn', String(GFN), '--csv', '-q');
  assert.equal(csv.code, 0, csv.err);
  assert.equal(hv('history', ar, '--gfn', String(GFN), '--csv', '-q').out, csv.out);
  assert.equal(hv('history', ar, '--hpte', String(SLOT), '--csv', '-q').out, hv('history', sq, '--hpte', String(SLOT), '--csv', '-q').out);
  const j = JSON.parse(hv('history', sq, '--hpte', String(SLOT), '--json', '-q').out) as Record<string, unknown>[];
  assert.equal(j[0].what, 'rmap_link');
  assert.equal(typeof j[0].seq, 'number');
  const t = hv('history', sq, '--hpte', String(SLOT), '--limit', '3');
  assert.match(t.out, /more rows not shown/);
  assert.equal(t.out.split('\n').filter((l) => /^\s*\d+ /.test(l)).length, 3);
  assert.match(t.err, /building the derived tables|^$/);
  for (const args of [[], ['--gfn', '1', '--hpte', '2'], ['--ea', '0x10005000'], ['--vcpu', '0', '--gfn', '1'], ['--hpte', '-1'], ['--format', 'xml', '--gfn', '1']]) {
    const r = hv('history', sq, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    const lines = r.err.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(lines[0], /^hvtrace: error: /);
  }
  assert.equal(hv('history', join(d, 'missing.sqlite'), '--gfn', '1').code, 2);
});
