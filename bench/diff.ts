// `npm run bench -- diff [--accesses N] [--command NAME] [--json]`: issue 12's figures. Records once
// (cached in $TMPDIR/hvtrace-bench-diff/) two runs of one seed of the 'mix' workload under host
// pressure, POWER7 and PPC970, as SQLite, ~2,000,000 events each (N accesses, default 125,000:
// ≈ 14.5 events per access + ≈ 225K for boot on POWER7, ≈ 13.6 + ≈ 190K on PPC970, from 20,000-
// and 60,000-access runs of this configuration). Then, end to end as a user runs them:
//   diff_cold_seconds / peak_rss_cold_mb: `node bin/hvtrace.js diff A B --json -q` (exit 0 or 1) on
//     the fresh recordings (it builds each trace's index and derived tables), its maximum resident
//     set from /usr/bin/time -f %M; diff_seconds / peak_rss_mb: the same command again (caches built);
//   sqldiff_seconds: `sqldiff A B > /dev/null` (Debian package sqlite3-tools, installed here with
//     apt-get when missing and we are root);
//   ratio_vs_sqldiff: diff_seconds / sqldiff_seconds.
// Until `hvtrace diff` exists, the diff figures are skipped with a message (the rest still runs);
// `--command stats` times a stand-in (`hvtrace stats A --json -q`) through the same plumbing.
// Issue targets: diff ≤ 5 s, peak RSS < 500 MB.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';

const BIN = join(fileURLToPath(import.meta.url), '../../../bin/hvtrace.js');
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
const log = (s: string) => process.stderr.write(s);

interface DiffArgs {
  accesses: number;
  command: string;
  json: boolean;
}

function parseArgs(argv: string[]): DiffArgs {
  const out: DiffArgs = { accesses: 125_000, command: 'diff', json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--accesses' && /^\d+$/.test(argv[i + 1] ?? '')) out.accesses = Number(argv[++i]);
    else if (a === '--command' && argv[i + 1]) out.command = argv[++i];
    else {
      process.stderr.write(`bench diff: unknown argument '${a}' (usage: npm run bench -- diff [--accesses N] [--command diff|stats] [--json])\n`);
      process.exit(2);
    }
  }
  return out;
}

/** The workload flags of both runs: one seed, only the profile differs. */
const workload = (accesses: number) => ['-w', 'mix', '--seed', '7', '--accesses', String(accesses), '--guest-mb', '512', '--host-mb', '640', '--pressure', '0.5', '--vcpus', '4'];

function ensureRun(dir: string, profile: string, accesses: number): string {
  const path = join(dir, `mix-${accesses}-${profile}.sqlite`);
  if (existsSync(path)) return path;
  log(`recording ${profile} (${accesses} accesses, once; cached at ${path})...\n`);
  const tmp = `${path}.tmp.sqlite`;
  rmSync(tmp, { force: true });
  const r = spawnSync(process.execPath, [BIN, 'record', ...workload(accesses), '--profile', profile, '-o', tmp, '-q', '-f', '--no-index'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`hvtrace record --profile ${profile}: exit ${r.status}`);
  renameSync(tmp, path);
  return path;
}

function eventsOf(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return Number((db.prepare('SELECT max(seq) + 1 AS n FROM events').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

const hasTime = () => existsSync('/usr/bin/time');

/** Run a command; seconds of wall time, its exit status and (with /usr/bin/time) peak RSS in MB. */
function timed(cmd: string, args: string[], stdout: 'ignore' | 'pipe' = 'ignore'): { seconds: number; status: number | null; rssMb: number | null; stderr: string } {
  const withTime = hasTime();
  const t = performance.now();
  const r = withTime
    ? spawnSync('/usr/bin/time', ['-f', 'HVTRACE_BENCH_RSS_KB=%M', cmd, ...args], { stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 })
    : spawnSync(cmd, args, { stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t) / 1000;
  const m = /HVTRACE_BENCH_RSS_KB=(\d+)/.exec(r.stderr ?? '');
  const stderr = (r.stderr ?? '').replace(/.*HVTRACE_BENCH_RSS_KB=\d+\n?/s, '');
  // /usr/bin/time reports a child killed by a signal as "Command terminated by signal"; status is its exit code.
  return { seconds, status: r.status, rssMb: m ? Number(m[1]) / 1024 : null, stderr };
}

/** Does the built CLI have this command? (`hvtrace NAME --help` exits 0.) */
function hasCommand(name: string): boolean {
  return spawnSync(process.execPath, [BIN, name, '--help'], { stdio: 'ignore' }).status === 0;
}

function ensureSqldiff(): string | null {
  const which = () => {
    const w = spawnSync('sh', ['-c', 'command -v sqldiff'], { encoding: 'utf8' });
    return w.status === 0 ? w.stdout.trim() : null;
  };
  let p = which();
  if (p) return p;
  if (process.getuid?.() !== 0) {
    log('sqldiff is missing and we are not root: install the Debian package sqlite3-tools to measure it\n');
    return null;
  }
  log('sqldiff is missing: apt-get install -y sqlite3-tools...\n');
  let r = spawnSync('apt-get', ['install', '-y', 'sqlite3-tools'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    r = spawnSync('apt-get', ['install', '-y', 'sqlite3-tools'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  p = which();
  if (!p) log('apt-get could not install sqlite3-tools: sqldiff not measured\n');
  return p;
}

export async function benchDiff(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const dir = join(tmpdir(), 'hvtrace-bench-diff');
  mkdirSync(dir, { recursive: true });
  const a = ensureRun(dir, 'power7', args.accesses);
  const b = ensureRun(dir, 'ppc970', args.accesses);
  const fig: Record<string, number | string | null> = { events_a: eventsOf(a), events_b: eventsOf(b), trace_a: a, trace_b: b };
  // 1. hvtrace diff (or a stand-in), end to end from a cold process.
  const standIn = args.command !== 'diff';
  fig.command = standIn ? `${args.command} (stand-in: hvtrace ${args.command} A --json -q)` : 'hvtrace diff A B --json -q';
  fig.diff_seconds = null;
  fig.peak_rss_mb = null;
  if (!hasCommand(args.command)) {
    fig.skipped = `hvtrace ${args.command} does not exist in this build yet: diff_seconds and peak_rss_mb not measured (try --command stats to check the plumbing)`;
    log(`bench diff: ${fig.skipped}\n`);
  } else {
    const cmdArgs = standIn ? [BIN, args.command, a, '--json', '-q'] : [BIN, 'diff', a, b, '--json', '-q'];
    // Twice: the first call on a fresh recording builds what later calls reuse (each trace's
    // checkpoint index and derived tables, beside it); the second is the steady state.
    for (const pass of ['cold', 'warm'] as const) {
      log(`timing ${fig.command} (${pass})...\n`);
      const r = timed(process.execPath, cmdArgs);
      // diff exits 0 (equivalent) or 1 (different); anything else is a failure.
      if (r.status !== 0 && !(r.status === 1 && !standIn)) throw new Error(`${fig.command}: exit ${r.status}: ${r.stderr.trim()}`);
      const k = pass === 'cold' ? '_cold' : '';
      fig[`diff${k}_seconds`] = round(r.seconds);
      fig[`peak_rss${k}_mb`] = r.rssMb === null ? null : round(r.rssMb, 0);
      fig.diff_exit = r.status;
    }
  }
  // 2. sqldiff on the same two files.
  fig.sqldiff_seconds = null;
  const sqldiff = ensureSqldiff();
  if (sqldiff) {
    log('timing sqldiff A B > /dev/null...\n');
    const r = timed(sqldiff, [a, b]);
    if (r.status !== 0) throw new Error(`sqldiff: exit ${r.status}: ${r.stderr.trim()}`);
    fig.sqldiff_seconds = round(r.seconds);
    fig.sqldiff_peak_rss_mb = r.rssMb === null ? null : round(r.rssMb, 0);
  }
  fig.ratio_vs_sqldiff = typeof fig.diff_seconds === 'number' && typeof fig.sqldiff_seconds === 'number' && fig.sqldiff_seconds > 0 ? round(fig.diff_seconds / fig.sqldiff_seconds, 3) : null;
  fig.target_diff_seconds = 5;
  fig.target_peak_rss_mb = 500;
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ bench: 'diff', ...fig })}\n`);
    return;
  }
  process.stdout.write('bench diff (one run each, cold process)\n');
  const w = Math.max(...Object.keys(fig).map((k) => k.length));
  for (const [k, v] of Object.entries(fig)) process.stdout.write(`  ${k.padEnd(w)}  ${v === null ? '—' : typeof v === 'number' ? v.toLocaleString('en-US') : v}\n`);
}
