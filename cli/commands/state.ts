// hvtrace state TRACE --at SEQ|end|time:T [--hpte I | --pteg G | --rmap GFN | --gfn G | --ea EA --vcpu V | --summary] [--lpid L] [--json]
// Exit code EXIT_ANOMALY when an error-level anomaly counter is nonzero at that point.
import { arch206Of, eaState, gfnState, hpteState, pickVm, rmapState, type SeekTarget, Seeker, summaryState } from '../../src/replay/seek.js';
import { EXIT_ANOMALY } from '../../src/trace/anomalies.js';
import { UserError } from '../../src/trace/errors.js';
import { printJson, printTable } from '../output.js';
import { reportAnomalies } from './anomalies.js';

export interface StateOptions {
  at: string;
  hpte?: number;
  pteg?: number;
  rmap?: number;
  gfn?: number;
  ea?: string;
  vcpu?: number;
  summary?: boolean;
  lpid?: number;
  reindex?: boolean;
  json?: boolean;
}

function parseAt(at: string): SeekTarget {
  if (at === 'end') return 'end';
  if (/^\d+$/.test(at)) return { seq: Number(at) };
  const t = /^time:(\d+)$/.exec(at);
  if (t) return { time: Number(t[1]) };
  throw new UserError(`--at ${at}: expected an event seq, 'end' or time:T (timebase ticks)`);
}

function parseEa(v: string): bigint {
  try {
    const b = BigInt(v);
    if (b < 0n || b >= 2n ** 64n) throw new Error();
    return b;
  } catch {
    throw new UserError(`--ea ${v}: expected a 64-bit address (decimal or 0x hex)`);
  }
}

/** Host page shift of the run, from its recorded configuration (gfn → hva), default 4K. */
function hostPageShift(config: unknown): number {
  const c = config as { scenario?: { machine?: { host_page_shift?: number } }; machine?: { host_page_shift?: number } } | null;
  return c?.scenario?.machine?.host_page_shift ?? c?.machine?.host_page_shift ?? 12;
}

export async function stateCommand(path: string, opts: StateOptions): Promise<number> {
  const chosen = [opts.hpte, opts.pteg, opts.rmap, opts.gfn, opts.ea].filter((x) => x !== undefined).length + (opts.summary ? 1 : 0);
  if (chosen > 1) throw new UserError('choose one of --hpte, --pteg, --rmap, --gfn, --ea, --summary');
  if ((opts.ea === undefined) !== (opts.vcpu === undefined)) throw new UserError('--ea and --vcpu go together');
  const target = parseAt(opts.at);
  // The first seek in a trace builds its checkpoint index (one full fold); later ones reuse it.
  const seeker = await Seeker.open(path, { rebuild: opts.reindex });
  let fold;
  try {
    fold = await seeker.seek(target);
  } finally {
    seeker.close();
  }
  if (opts.hpte !== undefined || opts.pteg !== undefined) {
    const vm = pickVm(fold, opts.lpid);
    const entries = opts.hpte !== undefined ? [hpteState(vm, opts.hpte)] : Array.from({ length: 8 }, (_, k) => hpteState(vm, opts.pteg! * 8 + k));
    if (opts.json) printJson(opts.hpte !== undefined ? entries[0] : entries);
    else printTable(['index', 'v', 'r', 'guest_r'], entries.map((e) => [e.index, e.v, e.r, e.guest_r]));
  } else if (opts.rmap !== undefined) {
    const r = rmapState(pickVm(fold, opts.lpid), opts.rmap);
    if (opts.json) printJson(r);
    else printTable(['gfn', 'rmap', 'present', 'referenced', 'changed', 'chain'], [[r.gfn, r.rmap, r.present, r.referenced, r.changed, r.chain.join(' → ')]]);
  } else if (opts.gfn !== undefined) {
    const g = gfnState(fold, pickVm(fold, opts.lpid), opts.gfn, hostPageShift(seeker.info.config), arch206Of(seeker.info));
    if (opts.json) printJson({ seq: fold.lastSeq, ...g });
    else {
      const hp = g.host_page;
      printTable(['gfn', 'memslot', 'hva', 'host page', 'pfn', 'writable', 'pins', 'rmap', 'chain'], [[
        g.gfn, g.memslot ? g.memslot.slot : 'none', g.hva, hp?.state ?? '', hp?.pfn ?? '', hp?.writable ?? '', hp?.pins ?? '', g.rmap.rmap, g.rmap.chain.join(' → '),
      ]]);
      if (g.hptes.length) printTable(['hpte', 'v', 'r', 'guest_r', 'valid', 'absent', 'in chain'], g.hptes.map((e) => [e.index, e.v, e.r, e.guest_r, e.valid, e.absent, e.in_chain]));
    }
  } else if (opts.ea !== undefined) {
    const t = eaState(pickVm(fold, opts.lpid), opts.vcpu!, parseEa(opts.ea), arch206Of(seeker.info));
    if (opts.json) printJson({ seq: fold.lastSeq, ...t });
    else printTable(['field', 'value'], Object.entries(t).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x)) : (v as string)]));
  } else {
    const s = summaryState(fold);
    // --lpid with the summary: that VM's row only, and an LPID that does not exist is an error.
    if (opts.lpid !== undefined) {
      pickVm(fold, opts.lpid);
      s.vms = s.vms.filter((v) => v.lpid === opts.lpid);
    }
    if (opts.json) printJson(s);
    else {
      process.stdout.write(`state after seq ${s.seq} (time ${s.time})\n`);
      printTable(['lpid', 'npte', 'valid', 'absent', 'gfns mapped', 'memslots', 'mmu seq', 'mmu count'],
        s.vms.map((v) => [v.lpid, v.npte, v.valid_hptes, v.absent_hptes, v.gfns_mapped, v.memslots, v.mmu_notifier_seq, v.mmu_notifier_count]));
      printTable(['core', 'lpid', 'in guest', 'switches', 'tlb flushes', 'last flush seq', 'tlbie', 'tlbiel'],
        s.cores.map((c) => [c.core, c.lpid, c.in_guest, c.switches, c.tlb_flushes, c.last_flush_seq, c.tlbie_global, c.tlbiel]));
      printTable(['host pages present', 'swapped', 'frames pinned', 'frames of other processes'], [[s.host.pages_present, s.host.pages_swapped, s.host.frames_pinned, s.host.frames_other]]);
      if (s.anomalies.length) printTable(['anomaly', 'severity', 'count', 'first seq', 'description'], s.anomalies.map((a) => [a.name, a.severity, a.count, a.first_seq, a.description]));
    }
  }
  // Anomalies counted up to the state asked for (recorded ones and those the replay detected).
  return reportAnomalies(fold.anomalies.data()) ? EXIT_ANOMALY : 0;
}
