// hvtrace stats TRACE [--by vcpu|lpid|core] [--sort samples|time] [--lpid L] [--json|--ndjson|--csv] [-q]
// `perf kvm stat report` for a trace: a titled table per section (and per --by group) with
// samples, samples %, time %, min / max / avg time and a total line; machine output is one flat
// row schema (src/analysis/stats.ts STATS_COLUMNS) through cli/format.ts.
import { STATS_COLUMNS, type StatsBy, type StatsRow, type StatsSort, statsRows, traceStats } from '../../src/analysis/stats.js';
import { PERF_SECTIONS, type PerfSectionName } from '../../src/replay/handlers/perf.js';
import { UserError } from '../../src/trace/errors.js';
import { type Column, RowWriter, rowFormat } from '../format.js';
import { type Progress, progress } from '../progress.js';

export interface StatsCommandOptions {
  by?: StatsBy;
  sort?: StatsSort;
  lpid?: number;
  json?: boolean;
  ndjson?: boolean;
  csv?: boolean;
  quiet?: boolean;
}

const TITLES: Record<PerfSectionName, [string, string]> = {
  exits: ['Exits by trap (guest_exit → the vcpu\'s next guest_enter: time in the host)', 'VM-EXIT'],
  hcalls: ['Hcalls by name and path (hcall_enter → its hcall_exit)', 'HCALL'],
  page_faults: ['Virtual-mode page faults by outcome (page_fault_enter → page_fault_exit)', 'OUTCOME'],
  faults: ['Storage faults by interrupt and triage decision', 'FAULT'],
  notifier: ['MMU-notifier callbacks by callback and effect', 'CALLBACK'],
  host_pages: ['Host page operations by owner (guest = the VMM\'s guest RAM, other = other processes)', 'OP'],
  cores: ['Partition switches and TLB invalidations', 'EVENT'],
};

export async function statsCommand(path: string, opts: StatsCommandOptions): Promise<number> {
  // Progress only for a fold of the whole trace (no checkpoint index) of known length.
  let bar: Progress | null = null;
  const s = await traceStats(path, {
    onProgress: (done, total) => {
      if (total === undefined || opts.quiet) return;
      bar ??= progress('stats', total, opts.quiet);
      bar.update(done);
    },
  });
  (bar as Progress | null)?.stop();
  if (opts.lpid !== undefined && !s.data.rows.some((r) => r.lpid === opts.lpid)) {
    const have = [...new Set(s.data.rows.map((r) => r.lpid).filter((l) => l >= 0))].sort((a, b) => a - b);
    throw new UserError(`--lpid ${opts.lpid}: no events of LPID ${opts.lpid} in the trace (${have.length ? `LPIDs: ${have.join(', ')}` : 'no VM events'})`);
  }
  const rows = statsRows(s.data, { by: opts.by, sort: opts.sort, lpid: opts.lpid }, s.info.timebaseHz);
  const format = rowFormat(opts);
  if (format !== 'table') {
    const w = new RowWriter(STATS_COLUMNS.map(([name, type]) => ({ name, type })) as Column[], { format, tableRows: 0 });
    await w.pushAll(rows.map((r) => STATS_COLUMNS.map(([k]) => r[k])));
    await w.end();
    return 0;
  }
  process.stdout.write(human(rows, s.info.timebaseHz, opts, s));
  return 0;
}

const groupLabel = (r: StatsRow) =>
  [r.lpid !== null ? `lpid ${r.lpid}` : null, r.vcpu !== null ? `vcpu ${r.vcpu}` : null, r.core !== null ? (r.core < 0 ? 'core -1 (host context)' : `core ${r.core}`) : null].filter(Boolean).join(', ');

function human(rows: StatsRow[], hz: number | undefined, opts: StatsCommandOptions, s: Awaited<ReturnType<typeof traceStats>>): string {
  const out: string[] = [];
  const scope = opts.lpid !== undefined ? `lpid ${opts.lpid}` : 'all VMs';
  const from = s.fromCheckpoint === null ? 'one fold of the whole trace: no checkpoint index; `hvtrace state TRACE` builds one' : `checkpoint at seq ${s.fromCheckpoint} + the events after it`;
  out.push(`Analyze events for ${scope}, ${opts.by ? `per ${opts.by}` : 'all vcpus'}: ${s.events} events (${from})${hz ? '' : '; no timebase in the trace: times in ticks'}`);
  if (s.data.unpairedHcallExits || s.data.unpairedPageFaultExits)
    out.push(`note: ${s.data.unpairedHcallExits} hcall_exit and ${s.data.unpairedPageFaultExits} page_fault_exit events have no start event in the trace (not counted)`);
  const t = (us: number | null, ticks: number | null) => (hz ? (us === null ? '' : `${us.toFixed(3)}us`) : ticks === null ? '' : `${Math.round(ticks)}`);
  const pct = (v: number | null) => (v === null ? '' : `${v.toFixed(2)}%`);
  for (const section of PERF_SECTIONS) {
    const sec = rows.filter((r) => r.section === section);
    const [title, head] = TITLES[section];
    out.push('', title);
    if (!sec.length) {
      out.push('  (none)');
      continue;
    }
    const timed = section === 'exits' || section === 'hcalls' || section === 'page_faults';
    const groups = new Map<string, StatsRow[]>();
    for (const r of sec) {
      const g = groupLabel(r);
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    for (const [label, rs] of groups) {
      if (label) out.push(`  ${label}`);
      const header = timed ? [head, 'Samples', 'Samples%', 'Time%', 'Min Time', 'Max Time', 'Avg time'] : [head, 'Samples', 'Samples%'];
      const cells = rs.map((r) => (timed ? [r.name, String(r.samples), pct(r.samples_pct), pct(r.time_pct), t(r.min_us, r.min_ticks), t(r.max_us, r.max_ticks), t(r.avg_us, r.avg_ticks)] : [r.name, String(r.samples), pct(r.samples_pct)]));
      const n = rs.reduce((a, r) => a + r.samples, 0);
      if (timed) {
        const total = rs.reduce((a, r) => a + r.total_ticks!, 0);
        const min = Math.min(...rs.map((r) => r.min_ticks!));
        const max = Math.max(...rs.map((r) => r.max_ticks!));
        const u = (x: number) => (hz ? (x * 1e6) / hz : null);
        cells.push(['Total', String(n), '100.00%', '100.00%', t(u(min), min), t(u(max), max), t(u(total / n), total / n)]);
      } else cells.push(['Total', String(n), '100.00%']);
      const width = header.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j].length)));
      const line = (c: string[]) => `    ${c.map((x, j) => (j === 0 ? x.padEnd(width[j]) : x.padStart(width[j]))).join('  ')}`.trimEnd();
      out.push(line(header));
      for (const c of cells.slice(0, -1)) out.push(line(c));
      out.push(line(cells.at(-1)!));
      if (timed) {
        const total = rs.reduce((a, r) => a + r.total_ticks!, 0);
        out.push(`    Total samples: ${n}, total time: ${hz ? `${((total * 1e6) / hz).toFixed(3)}us` : `${total} ticks`}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
