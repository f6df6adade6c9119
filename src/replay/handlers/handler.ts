// The replay handler lifecycle, in the spirit of the Chrome DevTools trace engine
// (front_end/models/trace/handlers: reset → handleEvent → finalize → data, declared deps, run in
// topological order), without its module-level state: a handler is a class, one instance per
// concern per replay, so two replays (e.g. the two sides of a diff) live side by side.
//
//   reset()        back to the state before event 0
//   <kind>(b, i)   one method per event kind the handler consumes (see HANDLES in replay.ts)
//   finalize()     after the last event folded (derived data; idempotent)
//   data()         what the handler knows, for queries, summaries and other handlers
//   save()/restore()/tables()   its own checkpoint: small state as JSON, large state as RowTables
//
// A handler reads other handlers only through the instances it is given in its constructor, and
// only those named in `deps`; dispatch runs handlers of one event in dependency order, so a
// dependency has already seen the event.

import type { RowTable } from '../table.js';

export type HandlerName = 'anomalies' | 'hpt' | 'memslots' | 'rmap' | 'host' | 'cores' | 'vcpus' | 'ops' | 'checkpoints' | 'counters' | 'perf';

export interface ReplayHandler {
  readonly name: HandlerName;
  readonly deps: readonly HandlerName[];
  reset(): void;
  finalize(): void;
  /** What the handler knows (its own tables and scalars), for queries, summaries and other handlers. */
  data(): unknown;
  /** JSON-able small state (a few KB at most). */
  save(): unknown;
  /** Inverse of save(); creates the RowTables that tables() then lists (rows are filled after). */
  restore(s: unknown): void;
  /** Every RowTable of the handler, with a stable key, in a stable order. */
  tables(out: [string, RowTable][]): void;
  /** After restore() and the table rows: rebuild indexes derived from table rows. */
  afterRestore?(): void;
}

/** Handlers sorted so that every handler comes after its deps (throws on a cycle or unknown dep). */
export function topoSort<H extends ReplayHandler>(hs: readonly H[]): H[] {
  const by = new Map(hs.map((h) => [h.name, h]));
  const out: H[] = [];
  const state = new Map<HandlerName, 1 | 2>();
  const visit = (h: H, path: HandlerName[]) => {
    const s = state.get(h.name);
    if (s === 2) return;
    if (s === 1) throw new Error(`replay handler dependency cycle: ${[...path, h.name].join(' → ')}`);
    state.set(h.name, 1);
    for (const d of h.deps) {
      const dh = by.get(d);
      if (!dh) throw new Error(`replay handler ${h.name} depends on unknown handler ${d}`);
      visit(dh, [...path, h.name]);
    }
    state.set(h.name, 2);
    out.push(h);
  };
  for (const h of hs) visit(h, []);
  return out;
}
