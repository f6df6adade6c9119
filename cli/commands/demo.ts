// hvtrace demo [DIR]: the flagship comparison. One seeded workload recorded on POWER7 with MMU
// notifiers (guest pages can be reclaimed and re-faulted), on PPC970 with pinned pages, and on
// POWER7 with Linux 3.3's pinned 16 MiB pages, then summarised side by side from the traces.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, type RunSummary } from '../../src/analysis/summary.js';
import { recordWorkloadRun, type Profile, type WorkloadKernel } from '../../src/machine/workload-run.js';
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { printJson, printTable } from '../output.js';
import { progress } from '../progress.js';
import { sinkFor } from '../sinks.js';
import { resolveWorkload } from './record.js';

export interface DemoOptions {
  workload: string;
  seed: number;
  accesses: number;
  pressure: number;
  guestMb: number;
  hostMb: number;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

const RUNS: { label: string; profile: Profile; kernel: WorkloadKernel; file: string }[] = [
  { label: 'power7 (3.4, notifiers)', profile: 'power7', kernel: '3.4', file: 'power7' },
  { label: 'ppc970 (3.4, pinned)', profile: 'ppc970', kernel: '3.4', file: 'ppc970' },
  { label: 'power7 (3.3, pinned 16M)', profile: 'power7', kernel: '3.3', file: 'power7-3.3' },
];

export async function demoCommand(dir: string, opts: DemoOptions): Promise<number> {
  const wl = resolveWorkload(opts.workload, opts);
  mkdirSync(dir, { recursive: true });
  for (const r of RUNS)
    for (const ext of ['sqlite', 'arrow'])
      if (existsSync(join(dir, `${r.file}.${ext}`)) && !opts.force) throw new UserError(`${join(dir, `${r.file}.${ext}`)} exists (use --force to overwrite the demo traces)`);
  const summaries: RunSummary[] = [];
  for (const r of RUNS) {
    const sq = join(dir, `${r.file}.sqlite`);
    const ar = join(dir, `${r.file}.arrow`);
    const sinks = [sinkFor(sq, opts), sinkFor(ar, opts)];
    const rec = new Recorder(sinks, runInfo(r.profile, wl.seed, { workload: wl, kernel: r.kernel }));
    const bar = progress(r.label.padEnd(26), wl.accesses, opts.quiet);
    recordWorkloadRun(wl, r.profile, rec, { kernel: r.kernel, onProgress: (n) => bar.update(n) });
    bar.stop();
    const reader = await openTrace(sq);
    summaries.push(await summarize(reader));
    reader.close();
  }
  if (opts.json) {
    printJson({ workload: wl, runs: RUNS.map((r, i) => ({ label: r.label, sqlite: join(dir, `${r.file}.sqlite`), arrow: join(dir, `${r.file}.arrow`), summary: summaries[i] })) });
    return 0;
  }
  process.stdout.write(`\nworkload ${wl.name}, seed ${wl.seed}: ${wl.accesses} guest accesses, ${wl.vcpus} vcpus, guest ${wl.guest_mb} MiB, host ${wl.host_mb} MiB, pressure ${wl.pressure}\n`);
  const rows: [string, (s: RunSummary) => number | string][] = [
    ['events', (s) => s.events],
    ['guest operations', (s) => s.guest_ops],
    ['hcalls', (s) => s.hcalls],
    ['  completed in virtual mode', (s) => s.hcalls_virtual_mode],
    ['faults: HDSI/HISI (to KVM)', (s) => (s.faults_by_interrupt.hdsi ?? 0) + (s.faults_by_interrupt.hisi ?? 0)],
    ['faults: DSI/ISI (straight to guest)', (s) => (s.faults_by_interrupt.dsi ?? 0) + (s.faults_by_interrupt.isi ?? 0)],
    ['  triage reflect / virtual / retry', (s) => `${s.faults_by_decision.reflect ?? 0} / ${s.faults_by_decision.virtual ?? 0} / ${s.faults_by_decision.retry ?? 0}`],
    ['virtual-mode page faults', (s) => s.page_faults],
    ['ABSENT HPTE writes', (s) => s.absent_hpte_writes],
    ['notifier callbacks', (s) => s.notifier_callbacks],
    ['  invalidations (HPTEs)', (s) => `${s.notifier_invalidations} (${s.hptes_invalidated_by_notifiers})`],
    ['  no-op (pinned)', (s) => s.notifier_noop_pinned],
    ['re-faults after invalidation', (s) => s.refaults_after_invalidation],
    ['pinned pages', (s) => s.pinned_pages],
    ['partition switches', (s) => s.partition_switches],
    ['TLB flushes (whole LPID / whole TLB)', (s) => s.tlb_flushes],
    ['tlbie / tlbiel', (s) => s.tlbies],
    ['host swap-outs: guest pages', (s) => s.host_swapouts_guest],
    ['host swap-outs: other processes', (s) => s.host_swapouts_other],
    ['MMIO exits', (s) => s.mmio_exits],
  ];
  printTable(['', ...RUNS.map((r) => r.label)], rows.map(([n, f]) => [n, ...summaries.map(f)]));
  process.stdout.write(`traces in ${dir}/: ${RUNS.map((r) => `${r.file}.sqlite/.arrow`).join(', ')}\n`);
  process.stdout.write(`try: hvtrace query ${join(dir, 'power7.sqlite')} "SELECT kind, effect, count(*) FROM notifier_events GROUP BY 1, 2"\n`);
  return 0;
}
