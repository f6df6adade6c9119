// hvtrace history TRACE (--gfn G | --hpte I | --ea EA --vcpu V): the life of a guest page, an HPTE
// slot, or the slots the faults at an EA used, in seq order, each event with a one-line
// description, its guest operation and its cause chain (src/analysis/canned.ts).
import { historyRows, HISTORY_COLUMNS, type HistorySelector } from '../../src/analysis/canned.js';
import { eventLookup, sqliteEventLookup } from '../../src/analysis/event-lookup.js';
import { openQueryDb, type QueryDb } from '../../src/analysis/query-db.js';
import { progress } from '../progress.js';
import { UserError } from '../../src/trace/errors.js';
import { DEFAULT_TABLE_ROWS, rowFormat } from '../format.js';
import { openWithDerived, type RowOptions, writeRows } from './faults.js';

export interface HistoryOptions extends RowOptions {
  gfn?: number;
  hpte?: number;
  ea?: bigint;
  vcpu?: number;
  lpid?: number;
}

export async function historyCommand(path: string, opts: HistoryOptions): Promise<number> {
  const given = [opts.gfn !== undefined && '--gfn', opts.hpte !== undefined && '--hpte', opts.ea !== undefined && '--ea'].filter(Boolean);
  if (given.length === 0) throw new UserError('history needs a selector: --gfn G, --hpte I, or --ea EA --vcpu V');
  if (given.length > 1) throw new UserError(`give one of ${given.join(', ')}, not several`);
  if (opts.ea !== undefined && opts.vcpu === undefined) throw new UserError('--ea needs --vcpu (an EA means something only in one vcpu\'s address space)');
  if (opts.ea === undefined && opts.vcpu !== undefined) throw new UserError('--vcpu goes with --ea');
  const sel: HistorySelector =
    opts.gfn !== undefined ? { gfn: opts.gfn, lpid: opts.lpid }
    : opts.hpte !== undefined ? { hpte: opts.hpte, lpid: opts.lpid }
    : { eaPage: Number(opts.ea! >> 12n), vcpu: opts.vcpu!, lpid: opts.lpid };
  const { reader, cache } = await openWithDerived(path, opts);
  // An Arrow trace's events are looked up in its SQLite copy (<trace>.hvq, built once, shared with
  // `query`): a primary-key probe per row instead of decoding a 64K-event record batch.
  let q: QueryDb | undefined;
  if (reader.format === 'arrow') q = await openQueryDb(path, { progress: opts.quiet ? undefined : (label, total) => progress(label, total, false) });
  const lookup = q ? sqliteEventLookup(q.db) : eventLookup(reader);
  try {
    // A table prints --limit rows (default 1000) and only counts the rest: those need no lookups.
    const shown = rowFormat(opts) === 'table' ? opts.limit || (opts.limit === 0 ? Number.POSITIVE_INFINITY : DEFAULT_TABLE_ROWS) : Number.POSITIVE_INFINITY;
    await writeRows(HISTORY_COLUMNS, historyRows(cache, lookup, sel, shown), opts);
  } finally {
    lookup.close();
    q?.close();
    cache.close();
    reader.close();
  }
  return 0;
}
