// hvtrace replay TRACE --verify | --reexec: check a trace against its own before-values and its
// checkpoints, or against a fresh run of the emulator from its recorded configuration. Exit 0 if
// identical, 1 on divergence or a before-value inconsistency, 7 when --reexec agreed on every
// recorded event but the trace ends early (truncated, no run_end), 8 when --verify had no
// checkpoint to check against (nothing but the before-values was verified). README's exit codes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reexecute } from '../../src/machine/reexec.js';
import { compareTraces, describeInconsistency, verifyTrace } from '../../src/replay/verify.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { UserError } from '../../src/trace/errors.js';
import { openTrace } from '../../src/trace/reader.js';
import { printJson } from '../output.js';
import { progress } from '../progress.js';

const EXIT_DIVERGENCE = 1;
const EXIT_TRUNCATED = 7;
const EXIT_UNCHECKED = 8;

export async function replayCommand(path: string, opts: { verify?: boolean; reexec?: boolean; json?: boolean; quiet?: boolean }): Promise<number> {
  if (!opts.verify && !opts.reexec) throw new UserError('choose --verify (checkpoint digests) and/or --reexec (re-run the emulator)');
  const reader = await openTrace(path);
  let diverged = false;
  let truncated = false;
  let unchecked = false;
  const report: Record<string, unknown> = { trace: path };
  if (opts.verify) {
    const bar = progress('verify', reader.eventCount ?? 0, opts.quiet || reader.eventCount === undefined);
    const r = await verifyTrace(reader, (n) => bar.update(n));
    bar.stop();
    report.verify = { ...r, checked: r.checkpoints > 0 };
    // A before-value inconsistency (e.g. an hpte_write whose old_r is not what the fold holds) and
    // a checkpoint divergence both fail verification; the one earlier in the trace is reported first.
    const inconsistency = r.inconsistency && !opts.json ? `${describeInconsistency(r.inconsistency)}\n` : '';
    if (r.inconsistency) diverged = true;
    if (r.first === 'inconsistency') process.stdout.write(inconsistency);
    if (r.checkpoints === 0) {
      // Folding without a digest to compare with proves little: say so, never "identical".
      unchecked = true;
      if (!opts.json && !r.inconsistency)
        process.stdout.write(`not verified: the trace has no checkpoints; its ${r.events} events agree with their own before-values, but no state digest could be checked (record with --checkpoint-every N, or use --reexec)\n`);
    } else if (r.divergence) {
      diverged = true;
      if (!opts.json)
        process.stdout.write(
          `divergence: checkpoint ${r.divergence.ordinal} at seq ${r.divergence.seq} disagrees with the folded state (${r.divergence.components.join(', ')}); ` +
            `the last checkpoint that agreed is at seq ${r.divergence.lastGoodSeq}, so the divergence lies in events ${r.divergence.lastGoodSeq + 1}..${r.divergence.seq - 1}\n`,
        );
    } else if (!opts.json && !r.inconsistency) process.stdout.write(`verified ${r.events} events against ${r.checkpoints} checkpoints: identical\n`);
    if (r.first !== 'inconsistency') process.stdout.write(inconsistency);
  }
  if (opts.reexec) {
    const dir = mkdtempSync(join(tmpdir(), 'hvtrace-reexec-'));
    try {
      const out = join(dir, 'reexec.arrow');
      reexecute(reader.info, new ArrowStreamSink(out));
      const again = await openTrace(out);
      const r = await compareTraces(await openTrace(path), again);
      report.reexec = r;
      if (r.divergence) {
        diverged = true;
        if (!opts.json) {
          const d = r.divergence;
          process.stdout.write(`divergence at seq ${d.seq}\n  recorded:    ${JSON.stringify(d.recorded)}\n  re-executed: ${JSON.stringify(d.reexecuted)}\n`);
          for (const s of d.state) process.stdout.write(`  state: ${s}\n`);
        }
      } else if (r.truncated) {
        truncated = true;
        if (!opts.json)
          process.stdout.write(`the recorded trace ends early: it stops before seq ${r.truncated.endsAt} (truncated, no run_end); all ${r.events} recorded events agree with the re-execution\n`);
      } else if (!opts.json) process.stdout.write(`re-executed: ${r.events} events identical\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  reader.close();
  if (opts.json) printJson(report);
  return diverged ? EXIT_DIVERGENCE : truncated ? EXIT_TRUNCATED : unchecked ? EXIT_UNCHECKED : 0;
}
