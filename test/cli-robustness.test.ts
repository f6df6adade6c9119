// The CLI as a new user meets it (issue 10 part 5): a closed stdout, usage errors, truncated or
// unverifiable traces, a damaged Arrow end marker, a SQLite WAL beside the trace, `state` on a
// missing LPID or an empty trace, and a content-keyed checkpoint index. Every case spawns the built
// CLI and checks the exit code and the one stderr line.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { loadIndex } from '../src/replay/checkpoints.js';
import { ArrowStreamSink } from '../src/trace/arrow-sink.js';
import { runInfo } from '../src/trace/run-info.js';
import { sha256, tmpDir } from './helpers.js';

const BIN = join(import.meta.dirname, '../bin/hvtrace.js');
function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** One line on stderr, `hvtrace: error: …`, and no stack trace. */
function assertUsageLine(err: string, what: string, pattern?: RegExp): void {
  const lines = err.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `${what}: one stderr line, got ${JSON.stringify(err)}`);
  assert.match(lines[0], /^hvtrace: error: /, what);
  assert.doesNotMatch(err, /\n\s+at /, what);
  if (pattern) assert.match(lines[0], pattern, what);
}

/**
 * Run the CLI with its stdout a pipe whose reading end is already closed when the child starts: its
 * first write fails with EPIPE (what `| head -1` does once head has read its line).
 */
function hvClosedStdout(...args: string[]): Promise<{ code: number | null; signal: string | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('close', (code, signal) => resolve({ code, signal, err }));
  });
}

test('closed stdout: events --json, query --csv, state, info end quietly with exit 0', async () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  const scenario = join(import.meta.dirname, '../traces/tv11-h-enter.scenario.json');
  assert.equal(hv('record', '--scenario', scenario, '-o', sq, '--arrow', ar, '-q').code, 0);
  for (const args of [
    ['events', ar, '--json'],
    ['events', sq],
    ['query', sq, 'SELECT * FROM events', '--csv'],
    ['query', sq, 'SELECT * FROM events', '--json'],
    ['state', sq, '--at', 'end'],
    ['state', ar, '--at', 'end', '--json'],
    ['info', sq],
    ['info', ar, '--json'],
  ]) {
    const r = await hvClosedStdout(...args);
    assert.equal(r.signal, null, args.join(' '));
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err, '', `${args.join(' ')}: nothing on stderr`);
  }
});

test('usage errors: one line `hvtrace: error: …` on stderr, exit 2; --help and --version exit 0', () => {
  const d = tmpDir();
  const sq = join(d, 't.sqlite');
  assert.equal(hv('record', '--synthetic', '100', '-o', sq, '-q').code, 0);
  const cases: [string[], RegExp][] = [
    [['info', '--bogus'], /--bogus/],
    [['record', '--accesses', '-5', '-w', 'mix', '-o', join(d, 'n.sqlite')], /--accesses/],
    [['events', sq, '-n', '0'], /--limit/],
    [['record', '--profile', 'power9', '-w', 'mix', '-o', join(d, 'n.sqlite')], /power9/],
    [['convert', sq], /-o, --output/],
    [['info'], /trace/],
    [['info', sq, 'extra'], /too many arguments/],
    [['frobnicate'], /unknown command 'frobnicate'.*hvtrace --help/],
    // A near miss: commander's suggestion joins the same line.
    [['stat', sq], /unknown command 'stat'.*stat.*hvtrace --help/],
    // --help of a command that does not exist is not the top-level help.
    [['report', '--help'], /unknown command 'report'.*hvtrace --help/],
    [['help', 'report'], /unknown command 'report'/],
    // An output directory that does not exist is named, not an internal error.
    [['record', '--synthetic', '10', '-o', join(d, 'no-such-dir', 'x.sqlite')], /no-such-dir.*does not exist/],
    [[], /no command/],
    // A UserError from a command has the same shape.
    [['state', sq, '--at', 'soon'], /--at soon/],
  ];
  for (const [args, pattern] of cases) {
    const r = hv(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.out, '', `${args.join(' ')}: nothing on stdout`);
    assertUsageLine(r.err, args.join(' '), pattern);
  }
  for (const args of [['--help'], ['-h'], ['--version'], ['help'], ['help', 'record'], ['record', '--help'], ['state', '-h']]) {
    const r = hv(...args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.err, '', args.join(' '));
    assert.ok(r.out.length > 0, args.join(' '));
  }
  assert.match(hv('help', 'record').out, /^Usage: hvtrace record /);
});

// A small scenario (test/machine/replay-verify.test.ts's): a few hcalls and a notifier call.
const SCENARIO = {
  seed: 9,
  machine: { hpt_order: 18, memslots: [{ slot: 0, base_gfn: 0, npages: 1024, userspace_addr: '0x3fff80000000', populate: true }] },
  ops: [
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000001', '0x5192'] },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x100', '0x4000081', '0x6192'] },
    { op: 'hcall', nr: 'H_PROTECT', args: ['0x80000003', '0x100', '0x4000000'] },
    { op: 'notifier', callback: 'invalidate_page', hva: '0x3fff80005000' },
    { op: 'hcall', nr: 'H_REMOVE', args: ['0', '0x101'] },
    { op: 'hcall', nr: 'H_ENTER', args: ['0', '0x200', '0x8000001', '0x7192'] },
  ],
};

test('replay --reexec on a trace cut short: "ends early", exit 7, not a divergence (exit 1)', () => {
  const d = tmpDir();
  const f = join(d, 's.json');
  writeFileSync(f, JSON.stringify(SCENARIO));
  const sq = join(d, 't.sqlite');
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '-s', f, '-o', sq, '--arrow', ar, '-q', '--no-index').code, 0);
  const total = Number(JSON.parse(hv('query', sq, 'SELECT count(*) AS n FROM events', '--json').out)[0].n);
  // What a killed recorder leaves in SQLite: the batches it committed, meta.complete = 0, no run_end.
  const cut = Math.floor(total / 2);
  const short = join(d, 'short.sqlite');
  copyFileSync(sq, short);
  const db = new Database(short);
  db.prepare('DELETE FROM events WHERE seq >= ?').run(cut);
  db.prepare("UPDATE meta SET value = '0' WHERE key = 'complete'").run();
  db.prepare("UPDATE meta SET value = ? WHERE key = 'event_count'").run(String(cut));
  db.close();
  const r = hv('replay', short, '--reexec', '-q');
  assert.equal(r.code, 7, r.out + r.err);
  assert.match(r.out, new RegExp(`ends early: it stops before seq ${cut} \\(truncated, no run_end\\); all ${cut} recorded events agree`));
  assert.doesNotMatch(r.out, /divergence/);
  const j = hv('replay', short, '--reexec', '-q', '--json');
  assert.equal(j.code, 7);
  assert.deepEqual(JSON.parse(j.out).reexec, { events: cut, divergence: null, truncated: { endsAt: cut } });

  // An Arrow stream cut inside its only batch: no recorded event is left, still not a divergence.
  const arShort = join(d, 'short.arrow');
  const bytes = readFileSync(ar);
  writeFileSync(arShort, bytes.subarray(0, bytes.length - 200));
  const a = hv('replay', arShort, '--reexec', '-q', '--json');
  assert.equal(a.code, 7, a.err);
  assert.deepEqual(JSON.parse(a.out).reexec.truncated, { endsAt: 0 });

  // A truncated trace whose recorded events disagree is still a divergence (exit 1).
  const db2 = new Database(short);
  db2.prepare('UPDATE events SET time = time + 1 WHERE seq = ?').run(cut - 1);
  db2.close();
  const x = hv('replay', short, '--reexec', '-q', '--json');
  assert.equal(x.code, 1);
  assert.equal(JSON.parse(x.out).reexec.divergence.seq, cut - 1);
  // The complete trace is identical (exit 0).
  assert.equal(hv('replay', sq, '--reexec', '-q').code, 0);
});

test('replay --verify with no checkpoint: "not verified", checked: false, exit 8; with checkpoints checked: true, exit 0', () => {
  const d = tmpDir();
  const syn = join(d, 'syn.sqlite');
  assert.equal(hv('record', '--synthetic', '500', '-o', syn, '-q').code, 0);
  assert.deepEqual(JSON.parse(hv('query', syn, "SELECT count(*) AS n FROM events WHERE kind = (SELECT code FROM kinds WHERE name = 'checkpoint')", '--json').out), [{ n: 0 }]);
  const t = hv('replay', syn, '--verify', '-q');
  assert.equal(t.code, 8, t.out + t.err);
  assert.match(t.out, /^not verified: the trace has no checkpoints/);
  assert.doesNotMatch(t.out, /identical/);
  const j = hv('replay', syn, '--verify', '-q', '--json');
  assert.equal(j.code, 8);
  assert.equal(JSON.parse(j.out).verify.checked, false);
  const f = join(d, 's.json');
  writeFileSync(f, JSON.stringify(SCENARIO));
  const sq = join(d, 't.sqlite');
  assert.equal(hv('record', '-s', f, '-o', sq, '-q', '--no-index', '--checkpoint-every', '2').code, 0);
  const ok = hv('replay', sq, '--verify', '-q', '--json');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out).verify.checked, true);
});

test('Arrow: a stream cut by 1..8 bytes, inside or at its end-of-stream marker, is truncated (info: complete false, truncation named, a warning)', () => {
  const d = tmpDir();
  const ar = join(d, 't.arrow');
  assert.equal(hv('record', '--synthetic', '300', '--arrow', ar, '-q').code, 0);
  const bytes = readFileSync(ar);
  // Arrow IPC: a stream ends with the 8-byte end-of-stream marker, 0xFFFFFFFF then int32 0.
  assert.equal(bytes.subarray(bytes.length - 8).toString('hex'), 'ffffffff00000000');
  const whole = JSON.parse(hv('info', ar, '--json').out);
  assert.equal(whole.complete, true);
  assert.equal(whole.truncation, null);
  for (let k = 1; k <= 8; k++) {
    const p = join(d, `cut${k}.arrow`);
    writeFileSync(p, bytes.subarray(0, bytes.length - k));
    const r = hv('info', p, '--json');
    const info = JSON.parse(r.out);
    assert.equal(info.complete, false, `cut ${k}`);
    assert.match(String(info.truncation), /end-of-stream marker/, `cut ${k}`);
    assert.equal(info.events, whole.events, `cut ${k}: every batch is still there`);
    assert.match(r.err, /^hvtrace: warning: stream truncated after \d+ events: no complete end-of-stream marker/, `cut ${k}`);
  }
});

test('info names a SQLite -wal file beside the trace, with its size (text line and JSON), and null without one', async () => {
  const d = tmpDir();
  const sq = join(d, 'crash.sqlite');
  const ar = join(d, 'crash.arrow');
  // A recorder SIGKILLed after committing 5000 events (test/trace/robustness.test.ts's child).
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/record-child.ts'), sq, ar], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      if ([...s.matchAll(/flushed (\d+)/g)].some((m) => Number(m[1]) >= 5000)) child.kill('SIGKILL');
    });
    child.on('close', () => resolve());
  });
  const wal = `${sq}-wal`;
  assert.ok(existsSync(wal), 'SQLite in WAL mode, killed: the log is beside the trace');
  const bytes = statSync(wal).size;
  const j = hv('info', sq, '--json');
  assert.deepEqual(JSON.parse(j.out).wal, { path: wal, bytes });
  const t = hv('info', sq);
  assert.match(t.out, new RegExp(`wal .*crash\\.sqlite-wal, ${bytes} bytes: part of the trace; copy it together with `));
  assert.equal(statSync(wal).size, bytes, 'info does not checkpoint the log');
  // A finished trace is one file: no -wal, wal null, no line.
  const ok = join(d, 'ok.sqlite');
  assert.equal(hv('record', '--synthetic', '100', '-o', ok, '-q').code, 0);
  assert.equal(JSON.parse(hv('info', ok, '--json').out).wal, null);
  assert.doesNotMatch(hv('info', ok).out, /-wal/);
});

test('state --lpid of a VM that does not exist: one line naming the LPIDs there, exit 2', () => {
  const d = tmpDir();
  const f = join(d, 's.json');
  writeFileSync(f, JSON.stringify(SCENARIO)); // no machine.lpid: the VM is LPID 1
  const sq = join(d, 't.sqlite');
  assert.equal(hv('record', '-s', f, '-o', sq, '-q').code, 0);
  for (const args of [['--lpid', '9'], ['--lpid', '9', '--summary'], ['--lpid', '9', '--hpte', '0x100'], ['--lpid', '9', '--json']]) {
    const r = hv('state', sq, '--at', 'end', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.equal(r.out, '');
    assertUsageLine(r.err, args.join(' '), /LPID 9.*LPIDs there: 1\)$/);
  }
  const ok = hv('state', sq, '--at', 'end', '--lpid', '1', '--json');
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual(JSON.parse(ok.out).vms.map((v: { lpid: number }) => v.lpid), [1]);
});

test('state on a 0-event Arrow stream: one line "the trace has no events", exit 2, no .hvidx written', () => {
  const d = tmpDir();
  const ar = join(d, 'empty.arrow');
  const sink = new ArrowStreamSink(ar);
  sink.open(runInfo('power7', 1, {}));
  sink.close(false, 0);
  for (let i = 0; i < 2; i++) {
    const r = hv('state', ar, '--at', 'end');
    assert.equal(r.code, 2, r.err);
    assertUsageLine(r.err, 'state on an empty trace', /the trace has no events$/);
    assert.equal(existsSync(`${ar}.hvidx`), false, 'no index for 0 events');
  }
});

test('checkpoint index is keyed by content: two recordings of one seed give byte-identical .hvidx; one changed byte in the middle makes it stale', () => {
  const d = tmpDir();
  const paths = [join(d, 'a'), join(d, 'b')].map((dir) => {
    mkdirSync(dir);
    const p = join(dir, 'run.arrow');
    const sq = join(dir, 'run.sqlite');
    const r = hv('record', '-w', 'mix', '--accesses', '3000', '--seed', '5', '--arrow', p, '-o', sq, '-q');
    assert.equal(r.code, 0, r.err);
    return [p, sq];
  });
  for (const k of [0, 1]) {
    const [a, b] = [paths[0][k], paths[1][k]];
    assert.equal(sha256(a), sha256(b), 'the recordings are identical (the emulator is deterministic)');
    assert.equal(sha256(`${a}.hvidx`), sha256(`${b}.hvidx`), `${a}: the indexes are byte-identical`);
  }
  // A trace larger than the 17 sampled 64 KiB blocks: one byte at the middle is in the middle block.
  const ar = paths[0][0];
  const size = statSync(ar).size;
  assert.ok(size > 17 * 65536, `sampled, not hashed whole (${size} bytes)`);
  assert.notEqual(loadIndex(`${ar}.hvidx`, ar, 'arrow'), null, 'valid before');
  const mid = Math.floor(size / 2);
  const flip = () => {
    const buf = readFileSync(ar);
    buf[mid] ^= 0x01;
    writeFileSync(ar, buf);
  };
  flip();
  assert.equal(loadIndex(`${ar}.hvidx`, ar, 'arrow'), null, 'one byte changed in the middle: the index is stale');
  flip();
  assert.notEqual(loadIndex(`${ar}.hvidx`, ar, 'arrow'), null, 'restored: valid again');
});
