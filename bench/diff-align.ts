// Time and peak RSS of the alignment sections of `hvtrace diff` (src/analysis/diff-align.ts) on two
// traces, in this process (run one mode per process so the RSS is that mode's):
//   node dist/bench/diff-align.js A B            opsSection, then pagesSection (two passes a trace)
//   node dist/bench/diff-align.js A B --one-pass alignSections (both sections from one pass a trace)
// Prints one JSON object: seconds, peak_rss_mb, events, differing ops and pages, peak held events.
import { alignSections, opsSection, pagesSection } from '../src/analysis/diff-align.js';

const [a, b, mode] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node dist/bench/diff-align.js A B [--one-pass]\n');
  process.exit(2);
}
const t0 = process.hrtime.bigint();
let ops;
let pages;
let held: number | undefined;
if (mode === '--one-pass') {
  const r = await alignSections(a, b, {});
  ops = r.ops;
  pages = r.pages;
  held = r.result.peakPending;
} else {
  ops = await opsSection(a, b, {});
  pages = await pagesSection(a, b, {});
  held = (ops.json as { peak_pending_events: number }).peak_pending_events;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const oj = ops.json as { compared: number; differing: number };
const pj = pages.json as { differing: number };
process.stdout.write(
  `${JSON.stringify({ mode: mode === '--one-pass' ? 'one-pass' : 'ops+pages', a, b, seconds: Math.round(seconds * 1000) / 1000, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), ops: oj.compared, differing_ops: oj.differing, differing_pages: pj.differing, peak_held_events: held })}\n`,
);
