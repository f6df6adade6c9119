// hvtrace faults TRACE: every fault (fault_triage) with its triage decision, the virtual-mode page
// fault it led to, the HPTE it ended in and its latency (src/analysis/derived.ts, FAULT LATENCY).
// Answered from the trace's derived tables (<trace>.hvd, built on first use, then reused).
import { performance } from 'node:perf_hooks';
import { FAULT_COLUMNS, type FaultFilter, faultRows } from '../../src/analysis/canned.js';
import { type DerivedCache, openDerived } from '../../src/analysis/derived-cache.js';
import { UserError } from '../../src/trace/errors.js';
import { ENUMS } from '../../src/trace/kinds.js';
import { openTrace, type TraceReader } from '../../src/trace/reader.js';
import { type Cell, type Column, rowFormat, type RowOutputOptions, RowWriter } from '../format.js';
import { progress } from '../progress.js';

export interface RowOptions extends RowOutputOptions {
  rebuild?: boolean;
}

/** The trace and its derived tables, built now (with progress on stderr unless quiet) if needed. */
export async function openWithDerived(path: string, opts: RowOptions): Promise<{ reader: TraceReader; cache: DerivedCache }> {
  const reader = await openTrace(path);
  let bar: ReturnType<typeof progress> | undefined;
  const t0 = performance.now();
  try {
    const cache = await openDerived(reader, {
      rebuild: opts.rebuild,
      onBuild: (p) => {
        if (!opts.quiet) process.stderr.write(`hvtrace: building the derived tables of ${path} (once per trace) → ${p}\n`);
        bar = progress('derived', reader.eventCount ?? 0, opts.quiet || reader.eventCount === undefined);
      },
      onProgress: (n) => bar?.update(n),
    });
    bar?.stop();
    if (cache.built && !opts.quiet) {
      process.stderr.write(`hvtrace: derived tables built: ${cache.meta.events} events, ${cache.meta.touchRows} touch rows, ${cache.meta.faults} faults in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    return { reader, cache };
  } catch (e) {
    bar?.stop();
    reader.close();
    throw e;
  }
}

/** Print rows through the row writer: a table keeps --limit rows (default 1000), other formats stop after --limit (0: no limit). */
export async function writeRows(columns: readonly Column[], rows: Iterable<readonly Cell[]>, opts: RowOptions): Promise<void> {
  const format = rowFormat(opts);
  const w = new RowWriter(columns, { format, tableRows: opts.limit });
  let n = 0;
  for (const r of rows) {
    if (format !== 'table' && opts.limit && n >= opts.limit) break;
    n++;
    const p = w.push(r);
    if (p) await p;
  }
  await w.end();
}

export function enumArg(e: 'fault_kind' | 'fault_decision', v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const i = (ENUMS[e] as readonly string[]).indexOf(v);
  if (i < 0) throw new UserError(`${flag}: unknown value '${v}' (one of ${ENUMS[e].join(', ')})`);
  return i;
}

export interface FaultsOptions extends RowOptions {
  gfn?: number;
  gpa?: bigint;
  ea?: bigint;
  vcpu?: number;
  lpid?: number;
  kind?: string;
  decision?: string;
  from?: number;
  to?: number;
}

export async function faultsCommand(path: string, opts: FaultsOptions): Promise<number> {
  const sel = [opts.gfn !== undefined && '--gfn', opts.gpa !== undefined && '--gpa', opts.ea !== undefined && '--ea'].filter(Boolean);
  if (sel.length > 1) throw new UserError(`give one of ${sel.join(', ')}, not several`);
  const kind = enumArg('fault_kind', opts.kind, '--kind');
  const decision = enumArg('fault_decision', opts.decision, '--decision');
  if (opts.from !== undefined && opts.to !== undefined && opts.to < opts.from) throw new UserError('--to must not be before --from');
  const { reader, cache } = await openWithDerived(path, opts);
  try {
    const f: FaultFilter = { vcpu: opts.vcpu, lpid: opts.lpid, kind, decision, from: opts.from, to: opts.to };
    if (opts.gfn !== undefined) f.gfn = opts.gfn;
    if (opts.gpa !== undefined) f.gfn = Number(opts.gpa >> BigInt(cache.meta.pageShift));
    if (opts.ea !== undefined) f.eaPage = Number(opts.ea >> 12n);
    await writeRows(FAULT_COLUMNS, faultRows(cache, f), opts);
  } finally {
    cache.close();
    reader.close();
  }
  return 0;
}
