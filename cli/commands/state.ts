// hvtrace state TRACE --at SEQ|end [--hpte I | --pteg G | --rmap GFN | --summary] [--lpid L] [--json]
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import { hpteState, pickVm, rmapState, stateAt, summaryState } from '../../src/replay/seek.js';
import { printJson, printTable } from '../output.js';

export interface StateOptions {
  at: string;
  hpte?: number;
  pteg?: number;
  rmap?: number;
  summary?: boolean;
  lpid?: number;
  json?: boolean;
}

function parseAt(at: string): { seq: number } | 'end' {
  if (at === 'end') return 'end';
  if (/^\d+$/.test(at)) return { seq: Number(at) };
  throw new UserError(`--at ${at}: expected an event seq or 'end'`);
}

export async function stateCommand(path: string, opts: StateOptions): Promise<number> {
  const chosen = [opts.hpte, opts.pteg, opts.rmap].filter((x) => x !== undefined).length + (opts.summary ? 1 : 0);
  if (chosen > 1) throw new UserError('choose one of --hpte, --pteg, --rmap, --summary');
  const reader = await openTrace(path);
  const fold = await stateAt(reader, parseAt(opts.at));
  reader.close();
  if (opts.hpte !== undefined || opts.pteg !== undefined) {
    const vm = pickVm(fold, opts.lpid);
    const entries = opts.hpte !== undefined ? [hpteState(vm, opts.hpte)] : Array.from({ length: 8 }, (_, k) => hpteState(vm, opts.pteg! * 8 + k));
    if (opts.json) printJson(opts.hpte !== undefined ? entries[0] : entries);
    else printTable(['index', 'v', 'r', 'guest_r'], entries.map((e) => [e.index, e.v, e.r, e.guest_r]));
  } else if (opts.rmap !== undefined) {
    const r = rmapState(pickVm(fold, opts.lpid), opts.rmap);
    if (opts.json) printJson(r);
    else printTable(['gfn', 'rmap', 'present', 'referenced', 'changed', 'chain'], [[r.gfn, r.rmap, r.present, r.referenced, r.changed, r.chain.join(' → ')]]);
  } else {
    const s = summaryState(fold);
    if (opts.json) printJson(s);
    else {
      printTable(['lpid', 'npte', 'valid', 'absent', 'gfns mapped', 'memslots', 'mmu seq', 'mmu count'],
        s.vms.map((v) => [v.lpid, v.npte, v.valid_hptes, v.absent_hptes, v.gfns_mapped, v.memslots, v.mmu_notifier_seq, v.mmu_notifier_count]));
    }
  }
  if (fold.anomalies.length) process.stderr.write(`hvtrace: warning: ${fold.anomalies.length} fold anomalies, first at seq ${fold.anomalies[0].seq}: ${fold.anomalies[0].message}\n`);
  return 0;
}
