// hvtrace diff A B [--json] [--at-op ID] [--gfn G] [--limit N] [-q]
// What changes when the same guest work runs under another configuration (issue 12). Each section
// (src/analysis/diff-*.ts, a DiffSection) is computed in SECTIONS order; the human output leads with
// a summary a person reads in ten seconds (the two runs, "equivalent" or the top differences, each
// section's summary lines), then every section's title and lines. --json prints one object
// {a, b, equivalent, sections: {key: json}}. Exit codes like diff(1): 0 equivalent, 1 differ,
// 2 usage or error (one line on stderr). Either trace may be SQLite or Arrow.
import { alignSections } from '../../src/analysis/diff-align.js';
import { atOpSection } from '../../src/analysis/diff-state.js';
import { configSection, readRunInfo, runIdentity } from '../../src/analysis/diff-config.js';
import type { DiffSection } from '../../src/analysis/diff-section.js';
import { totalsSection } from '../../src/analysis/diff-totals.js';
import { UserError } from '../../src/trace/errors.js';
import { type Progress, progress } from '../progress.js';

export interface DiffCommandOptions {
  json?: boolean;
  atOp?: number;
  gfn?: number;
  limit?: number;
  quiet?: boolean;
}

/** What a section is given: the command's options and a progress callback for long folds. */
export interface SectionContext {
  readonly limit: number;
  readonly gfn?: number;
  readonly atOp?: number;
  readonly onProgress: (what: string, done: number, total: number | undefined) => void;
  /** The alignment's two sections (ops, pages), from one pass over each trace, computed once per run. */
  readonly align: () => Promise<{ ops: DiffSection; pages: DiffSection }>;
}

/** One section of the diff: its key, the options it consumes, and how to compute it (null: not asked for). */
interface SectionEntry {
  readonly key: string;
  readonly uses: readonly ('limit' | 'gfn' | 'atOp')[];
  run(a: string, b: string, c: SectionContext): Promise<DiffSection | null>;
}

/** Default --limit: rows of a long list (operations, pages) a section shows. */
export const DEFAULT_DIFF_LIMIT = 10;

// The sections, in output order; ops and pages share one alignment pass (ctx.align).
const SECTIONS: readonly SectionEntry[] = [
  { key: 'config', uses: [], run: (a, b) => configSection(a, b) },
  { key: 'totals', uses: [], run: (a, b, c) => totalsSection(a, b, { onProgress: c.onProgress }) },
  { key: 'ops', uses: ['limit'], run: async (_a, _b, c) => (await c.align()).ops },
  { key: 'pages', uses: ['limit', 'gfn'], run: async (_a, _b, c) => (await c.align()).pages },
  { key: 'at_op', uses: ['atOp', 'gfn'], run: async (a, b, c) => (c.atOp === undefined ? null : atOpSection(a, b, c.atOp, { gfn: c.gfn })) },
];

export async function diffCommand(a: string, b: string, opts: DiffCommandOptions): Promise<number> {
  try {
    return await diffRun(a, b, opts);
  } catch (e) {
    // diff(1)'s contract: trouble is exit 2, whatever the kind (unreadable or corrupt trace too).
    if (e instanceof UserError && e.exitCode !== 2) throw new UserError(e.message, 2);
    throw e;
  }
}

async function diffRun(a: string, b: string, opts: DiffCommandOptions): Promise<number> {
  // An option no wired section consumes is a usage error, not silently ignored.
  for (const [opt, name] of [['atOp', '--at-op'], ['gfn', '--gfn']] as const)
    if (opts[opt] !== undefined && !SECTIONS.some((s) => s.uses.includes(opt))) throw new UserError(`${name}: not available in this build (the section that uses it is not part of \`hvtrace diff\` yet)`);
  // Both traces must open before any work (a missing or unreadable file: one line, exit 2+).
  const [ia, ib] = await Promise.all([readRunInfo(a), readRunInfo(b)]);
  let bar: Progress | null = null;
  let barWhat = '';
  const stop = new AbortController();
  let aligned: Promise<{ ops: DiffSection; pages: DiffSection }> | undefined;
  // The alignment's progress shows once a section waits for it (not interleaved with totals').
  let alignShown = false;
  const startAlign = () =>
    (aligned ??= alignSections(a, b, { limit: opts.limit, gfn: opts.gfn, signal: stop.signal, onProgress: (done, total) => alignShown && ctx.onProgress('aligning', done, total) }));
  const ctx: SectionContext = {
    align: () => {
      alignShown = true;
      return startAlign();
    },
    limit: opts.limit ?? DEFAULT_DIFF_LIMIT,
    gfn: opts.gfn,
    atOp: opts.atOp,
    onProgress: (what, done, total) => {
      if (opts.quiet || total === undefined) return;
      if (what !== barWhat) {
        bar?.stop();
        bar = progress(what, total, opts.quiet);
        barWhat = what;
      }
      bar!.update(done);
    },
  };
  const sections: DiffSection[] = [];
  // The alignment starts when its section asks for it, not alongside the totals fold: overlapping
  // the two put the peak RSS of a 2M-event pair over 500 MB (bench/README.md, diff).
  try {
    for (const s of SECTIONS) {
      const r = await s.run(a, b, ctx);
      if (r) sections.push(r);
    }
  } finally {
    // Done, or a section failed: an alignment still running (started early) stops its readers.
    stop.abort();
    (bar as Progress | null)?.stop();
  }
  const equivalent = !sections.some((s) => s.differs);
  if (opts.json) {
    const out = {
      a: { path: a, format: ia.format, profile: ia.info.profile, seed: ia.info.seed },
      b: { path: b, format: ib.format, profile: ib.info.profile, seed: ib.info.seed },
      equivalent,
      sections: Object.fromEntries(sections.map((s) => [s.key, s.json])),
    };
    process.stdout.write(`${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}\n`);
    return equivalent ? 0 : 1;
  }
  const lines: string[] = [];
  lines.push(`A: ${runIdentity(a, ia.format, ia.info)}`);
  lines.push(`B: ${runIdentity(b, ib.format, ib.info)}`);
  const differing = sections.filter((s) => s.differs);
  lines.push(equivalent ? 'Result: equivalent (no section differs)' : `Result: differ (${differing.map((s) => s.key).join(', ')})`);
  for (const s of sections) {
    const mark = s.differs ? '*' : ' ';
    s.summary.slice(0, 3).forEach((l, i) => lines.push(`${i === 0 ? `${mark} ${s.key.padEnd(7)}` : ' '.repeat(9)} ${l}`));
  }
  for (const s of sections) lines.push('', `== ${s.title}${s.differs ? '' : ' (no difference)'}`, ...s.lines);
  process.stdout.write(`${lines.join('\n')}\n`);
  return equivalent ? 0 : 1;
}
