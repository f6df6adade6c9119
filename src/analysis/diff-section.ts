// One section of `hvtrace diff A B` (issue 12). Each part of the comparison (configuration, totals,
// alignment on guest operations, per-page differences, state at one operation) is computed by its
// own module in src/analysis/diff-*.ts and returned as a DiffSection; cli/commands/diff.ts prints
// the sections (a ten-second summary first, then each section's lines) or their JSON, and exits 1
// when any section differs, 0 when none does.

export interface DiffSection {
  /** Stable key: the section's name in --json output (config, totals, ops, pages, at_op). */
  readonly key: string;
  /** Title of the section in the human output. */
  readonly title: string;
  /** True when A and B differ in what this section compares (noise-only differences do not count). */
  readonly differs: boolean;
  /** At most three short lines for the summary at the top of the output. */
  readonly summary: readonly string[];
  /** The section's human lines (already aligned; no trailing newline). */
  readonly lines: readonly string[];
  /** The section's machine form (64-bit words as 0x… strings, counts as numbers). */
  readonly json: unknown;
}

/** The two traces being compared, as given on the command line. */
export interface DiffInputs {
  readonly a: string;
  readonly b: string;
}
