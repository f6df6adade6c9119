// hvtrace CLI entry: commander wiring only. Each command lives in cli/commands/ and is loaded on use.
// Errors: a usage error (commander's or a UserError) prints one line `hvtrace: error: …` and exits
// 2 (a UserError with its own code); anything else is an internal error, also one line, exit 70
// (set HVTRACE_DEBUG=1 for the stack). --help and --version exit 0. A closed stdout (`| head`) ends
// the process quietly with exit 0, like any Unix filter.

import { Command, CommanderError, Option } from 'commander';
import { UserError } from '../src/trace/errors.js';
import { TOOL_VERSION } from '../src/trace/run-info.js';
import { bigArg, floatArg, intArg } from './args.js';
import { DEFAULT_TABLE_ROWS as DEFAULT_ROWS } from './format.js';
import { CONTRACT_VIEWS } from '../src/trace/sqlite-schema.js';

function queryHelp(): string {
  const views = Object.entries(CONTRACT_VIEWS).map(([n, v]) => `  ${n.padEnd(19)}${v.doc}`);
  return [
    '',
    'Views (schemas/events.md lists every column; `hvtrace schema` prints them):',
    ...views,
    '  ev_<kind>          one view per event kind with its named fields (ev_hpte_write, ev_notifier, ...)',
    '  events             every event: seq, time, kind, lpid, vcpu, core, cause, w0..w11 (raw words)',
    '',
    'Columns print by their declared type: 64-bit words (ea, new_v, ...) 0x…, numbers (gfn, hpte_index, -1 = none) decimal;',
    'an expression (count(*), max(ea), 42) prints by its value.',
    '',
    'Examples:',
    '  hvtrace query run.sqlite "SELECT name, count(*) AS n FROM hcalls GROUP BY name ORDER BY n DESC"',
    '  hvtrace query run.arrow "SELECT seq, ea, decision FROM faults WHERE gfn = @g" --param g=1234 --csv',
    '  hvtrace query run.sqlite --csv -- "$(cat faults.sql)"   # options first: after --, every word is an operand (an SQL may start with --)',
  ].join('\n');
}

const program = new Command();
program
  .name('hvtrace')
  .description('Record-and-replay trace analysis for KVM on IBM POWER (Book3S HV)')
  .version(TOOL_VERSION, '-V, --version')
  .showSuggestionAfterError(true)
  // Commander's errors are thrown (exitOverride) and printed by the catch below, as one line.
  .exitOverride()
  .configureOutput({ outputError: () => {} });

// The reader of a pipe went away (`hvtrace events T --json | head -1`): nothing more to say to it.
// Writes to a pipe are synchronous on Linux; the failed one emits 'error' a tick later.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  process.stderr.write(`hvtrace: internal error: cannot write to stdout: ${e.message}\n`);
  process.exit(70);
});

const run = (fn: (...a: never[]) => Promise<number> | number) =>
  async (...args: unknown[]) => {
    process.exitCode = await (fn as (...a: unknown[]) => Promise<number> | number)(...args);
  };

program
  .command('record')
  .description('record a run to SQLite (-o) and/or an Arrow IPC stream (--arrow)')
  .option('-o, --output <file.sqlite>', 'SQLite trace to write')
  .option('--arrow <file.arrow>', 'Arrow IPC stream to write')
  .addOption(new Option('--compress <codec>', 'Arrow body compression').choices(['zstd']))
  .option('-w, --workload <name|file.json>', `run a seeded guest workload (${['boot', 'random-ws', 'stream', 'fork-exec', 'mmio-driver', 'mix'].join(', ')}) or a workload JSON file`)
  .addOption(new Option('--profile <profile>', 'machine profile for --workload').choices(['power7', 'ppc970']).default('power7'))
  .addOption(new Option('--kernel <version>', 'kernel semantics for --workload (3.3 = seed-1 pinned 16 MiB pages, power7 only)').choices(['3.3', '3.4', '4.20']))
  .option('--vcpus <n>', 'workload: vcpus', intArg('--vcpus', 1))
  .option('--guest-mb <mb>', 'workload: guest RAM', intArg('--guest-mb', 1))
  .option('--host-mb <mb>', 'workload: host physical memory', intArg('--host-mb', 1))
  .option('--pressure <fraction>', 'workload: share of host memory other processes try to take (0..1)', floatArg('--pressure', 0, 1))
  .option('--accesses <n>', 'workload: guest memory accesses', intArg('--accesses', 1))
  .option('-s, --scenario <file.json>', 'run a scenario file (see schemas/scenario.schema.json)')
  .option('--check', 'check the KVM invariants after every operation; exit 4 at the first violation')
  .option('--checkpoint-every <events>', 'write a state-digest checkpoint event every N events (0 = only at the end)', intArg('--checkpoint-every'))
  .option('--no-index', 'do not write the replay checkpoint index (<trace>.hvidx) after recording')
  .option('--synthetic <events>', 'record N synthetic events of the real schema (benchmarks, format tests)', intArg('--synthetic', 1))
  .option('--seed <n>', 'PRNG seed (default 1, or the workload file\'s)', intArg('--seed'))
  .option('-f, --force', 'overwrite existing output files')
  .option('-q, --quiet', 'no progress or summary on stderr')
  .option('--json', 'print a JSON summary on stdout')
  .action(run(async (opts: never) => (await import('./commands/record.js')).recordCommand(opts)));

program
  .command('demo')
  .description('record one workload on power7 (MMU notifiers), ppc970 (pinned) and power7 with Linux 3.3 (seed 1) with the same seed, and compare them')
  .argument('[dir]', 'where to write the traces', 'hvtrace-demo')
  .option('-w, --workload <name>', 'workload', 'mix')
  .option('--seed <n>', 'PRNG seed', intArg('--seed'), 1)
  .option('--accesses <n>', 'guest memory accesses', intArg('--accesses', 1), 50000)
  .option('--pressure <fraction>', 'host memory pressure (0..1)', floatArg('--pressure', 0, 1), 0.85)
  .option('--guest-mb <mb>', 'guest RAM', intArg('--guest-mb', 1), 96)
  .option('--host-mb <mb>', 'host memory', intArg('--host-mb', 1), 128)
  .option('-f, --force', 'overwrite traces left by an earlier demo in <dir>')
  .option('-q, --quiet', 'no progress on stderr')
  .option('--json', 'the summaries as JSON')
  .action(run(async (d: never, o: never) => (await import('./commands/demo.js')).demoCommand(d, o)));

program
  .command('info')
  .description('describe a trace: format, run configuration, completeness, events by kind')
  .argument('<trace>', 'SQLite or Arrow trace')
  .option('--json', 'JSON output')
  .action(run(async (t: never, o: never) => (await import('./commands/info.js')).infoCommand(t, o)));

program
  .command('events')
  .description('print events, decoded: a table, CSV, or JSON with named fields (NDJSON with --json)')
  .argument('<trace>', 'SQLite or Arrow trace')
  .option('-k, --kind <kind...>', 'only these event kinds')
  .option('--from <seq>', 'first seq', intArg('--from'))
  .option('--to <seq>', 'stop before this seq', intArg('--to'))
  .option('-n, --limit <n>', `at most n events (a table shows ${DEFAULT_ROWS} by default and counts the rest)`, intArg('--limit', 1))
  .addOption(new Option('--format <format>', 'output format (json: one array)').choices(['table', 'csv', 'json', 'ndjson']))
  .option('--json', 'one JSON object per line (NDJSON, as --format ndjson)')
  .option('--ndjson', 'one JSON object per line')
  .option('--csv', 'CSV (as --format csv)')
  .action(run(async (t: never, o: never) => (await import('./commands/events.js')).eventsCommand(t, o)));

program
  .command('query')
  .description('run one read-only SQL statement on a trace, SQLite or Arrow (tables events, meta, kinds, kind_fields, enums; views ev_<kind> and ' + Object.keys(CONTRACT_VIEWS).join(', ') + ')')
  .argument('<trace>', 'SQLite or Arrow trace (an Arrow trace is queried through a cached SQLite copy, <trace>.hvq, built on first use)')
  .argument('<sql>', 'one SELECT (WITH … SELECT, VALUES, EXPLAIN, read PRAGMA); an SQL that starts with -- goes after a -- separator')
  .option('--param <name=value>', 'bind @name / :name / $name (repeatable): integers and 0x… as 64-bit INTEGER, else TEXT', (v: string, acc: string[] = []) => [...acc, v])
  .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json', 'ndjson']))
  .option('--json', 'JSON array of row objects (same as --format json)')
  .option('--ndjson', 'one JSON object a line (same as --format ndjson)')
  .option('--csv', 'CSV (same as --format csv)')
  .option('-n, --limit <n>', `stop after n rows (any format); a table shows ${DEFAULT_ROWS} rows by default and counts the rest`, intArg('--limit', 1))
  .option('-q, --quiet', 'no progress bar while an Arrow trace\'s query cache is built')
  .addHelpText('after', () => queryHelp())
  .action(run(async (t: never, s: never, o: never) => (await import('./commands/query.js')).queryCommand(t, s, o)));

/** Output options shared by the row commands (faults, history). */
function rowOptions(c: Command): Command {
  return c
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json', 'ndjson']))
    .option('--json', 'one JSON array of row objects')
    .option('--ndjson', 'one JSON object a line')
    .option('--csv', 'CSV')
    .option('--limit <n>', 'at most n rows (a table shows 1000 by default and counts the rest; 0 = all)', intArg('--limit', 0))
    .option('--rebuild', 'rebuild the derived tables (<trace>.hvd) instead of reusing them')
    .option('-q, --quiet', 'no progress on stderr while the derived tables are built');
}

rowOptions(
  program
    .command('faults')
    .description('every fault with its triage decision, virtual-mode outcome, final HPTE and latency (ticks and µs)')
    .argument('<trace>', 'SQLite or Arrow trace')
    .option('--gfn <gfn>', 'faults on this guest frame', intArg('--gfn'))
    .option('--gpa <gpa>', 'faults on the guest frame of this guest physical address', bigArg('--gpa'))
    .option('--ea <ea>', 'faults at this effective address (its 4 KiB page)', bigArg('--ea'))
    .option('--vcpu <id>', 'only this vcpu', intArg('--vcpu'))
    .option('--lpid <lpid>', 'only this VM', intArg('--lpid'))
    .addOption(new Option('--kind <kind>', 'only this interrupt').choices(['hdsi', 'hisi', 'dsi', 'isi']))
    .addOption(new Option('--decision <decision>', 'only this triage decision').choices(['reflect', 'retry', 'virtual', 'mmio', 'guest']))
    .option('--from <seq>', 'first seq', intArg('--from'))
    .option('--to <seq>', 'stop before this seq', intArg('--to')),
).action(run(async (t: never, o: never) => (await import('./commands/faults.js')).faultsCommand(t, o)));

rowOptions(
  program
    .command('history')
    .description('the life of a guest page (--gfn), an HPTE slot (--hpte) or the slots an EA used (--ea --vcpu), event by event with its guest op and cause chain')
    .argument('<trace>', 'SQLite or Arrow trace')
    .option('--gfn <gfn>', 'a guest frame: HPTEs mapping it, rmap, faults, notifiers, host page events', intArg('--gfn'))
    .option('--hpte <index>', 'an HPTE slot: every write, rmap link, tlbie, fault and hcall on it', intArg('--hpte'))
    .option('--ea <ea>', 'an effective address on --vcpu: its faults and the lives of the slots they used', bigArg('--ea'))
    .option('--vcpu <id>', 'vcpu for --ea', intArg('--vcpu'))
    .option('--lpid <lpid>', 'which VM (default: every VM in the trace)', intArg('--lpid')),
).action(run(async (t: never, o: never) => (await import('./commands/history.js')).historyCommand(t, o)));

program
  .command('stats')
  .description('perf kvm stat-style statistics: exits by trap, hcalls by name, page faults by outcome (samples, %, min/max/avg time), fault decisions, notifier callbacks, host page ops, switches and TLB flushes per core')
  .argument('<trace>', 'SQLite or Arrow trace')
  .addOption(new Option('--by <key>', 'one table per vcpu (lpid, vcpu), lpid or core (default: totals per name; the cores section per core)').choices(['vcpu', 'lpid', 'core']))
  .addOption(new Option('--sort <key>', 'order rows by samples or by total time').choices(['samples', 'time']).default('samples'))
  .option('--lpid <lpid>', 'only events of this VM', intArg('--lpid'))
  .option('--json', 'one JSON array of rows')
  .option('--ndjson', 'one JSON object per row and line')
  .option('--csv', 'CSV')
  .option('-q, --quiet', 'no progress on stderr')
  .action(run(async (t: never, o: never) => (await import('./commands/stats.js')).statsCommand(t, o)));

program
  .command('diff')
  .description('compare two runs (SQLite or Arrow, any combination): configuration, totals side by side with seed-noise marks; exit 0 equivalent, 1 differ, 2 error')
  .argument('<a>', 'trace A')
  .argument('<b>', 'trace B')
  .option('--json', 'one JSON object {a, b, equivalent, sections}')
  .option('--at-op <id>', 'the state difference at this guest operation (guest_op id) in both runs', intArg('--at-op', 0))
  .option('--gfn <gfn>', 'per-page differences of this guest frame only', intArg('--gfn', 0))
  .option('--limit <n>', 'rows of the long lists (operations, pages) to show (default 10)', intArg('--limit', 1))
  .option('-q, --quiet', 'no progress on stderr')
  .action(run(async (a: never, b: never, o: never) => (await import('./commands/diff.js')).diffCommand(a, b, o)));

program
  .command('convert')
  .description('rewrite a trace in the other format (SQLite ↔ Arrow)')
  .argument('<trace>', 'input trace')
  .requiredOption('-o, --output <file>', 'output (.sqlite or .arrow)')
  .addOption(new Option('--compress <codec>', 'Arrow body compression').choices(['zstd']))
  .option('-f, --force', 'overwrite the output')
  .option('-q, --quiet', 'no progress bar or summary line on stderr')
  .action(run(async (t: never, o: never) => (await import('./commands/convert.js')).convertCommand(t, o)));

program
  .command('state')
  .description('machine state at an event, rebuilt from the trace (HPTE, PTEG, rmap chain, guest frame, EA translation, summary)')
  .argument('<trace>', 'SQLite or Arrow trace')
  .option('--at <seq|end|time:T>', "event seq (state after it), 'end', or time:T (after the last event at or before tick T)", 'end')
  .option('--hpte <index>', 'one HPTE: hardware v/r and guest view', intArg('--hpte'))
  .option('--pteg <group>', 'the 8 HPTEs of a PTEG', intArg('--pteg'))
  .option('--rmap <gfn>', 'rmap word and revmap chain of a guest frame', intArg('--rmap'))
  .option('--gfn <gfn>', 'a guest frame: memslot, hva, host page state, rmap chain and the HPTEs mapping it', intArg('--gfn'))
  .option('--ea <ea>', 'translate an effective address on --vcpu (SLB, VA, hash, PTEG, HPTE, real address)')
  .option('--vcpu <id>', 'vcpu for --ea', intArg('--vcpu'))
  .option('--summary', 'per-VM, per-core, host and counter summary (default)')
  .option('--lpid <lpid>', 'which VM when the trace has several', intArg('--lpid'))
  .option('--reindex', 'rebuild the checkpoint index (<trace>.hvidx) instead of reusing it')
  .option('--json', 'JSON output (64-bit words as 0x… strings)')
  .action(run(async (t: never, o: never) => (await import('./commands/state.js')).stateCommand(t, o)));

program
  .command('replay')
  .description('verify a trace: fold it against its checkpoints (--verify) or re-run the emulator and compare event by event (--reexec)')
  .argument('<trace>', 'SQLite or Arrow trace')
  .option('--verify', 'check every checkpoint digest against the folded state')
  .option('--reexec', 're-execute from the recorded configuration and compare')
  .option('-q, --quiet', 'no progress on stderr')
  .option('--json', 'JSON report')
  .action(run(async (t: never, o: never) => (await import('./commands/replay.js')).replayCommand(t, o)));

program
  .command('schema')
  .description('print the trace format documentation (every kind and column)')
  .option('--json', 'the kind table as JSON')
  .option('--write-docs <dir>', 'write events.md, trace.sql, arrow-schema.json, VERSION to <dir>')
  .action(run(async (o: never) => (await import('./commands/schema.js')).schemaCommand(o)));

/** Commander's message (`error: …`, maybe a `(Did you mean …?)` line) as one line. */
function oneLine(message: string): string {
  return message.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}

/**
 * `hvtrace faults --help` (or `help faults`) for a command that does not exist: commander would print
 * the top-level help; make it the unknown-command error by dropping the help flag. No arguments at
 * all is a usage error too. Program options (-V, -h) take no value, so the first operand is argv's
 * first word that does not start with '-'.
 */
function usageArgv(argv: string[]): string[] {
  const args = argv.slice(2);
  const known = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  const operands = args.filter((a) => !a.startsWith('-'));
  if (args.length === 0) throw new CommanderError(2, 'hvtrace.noCommand', 'no command given; see hvtrace --help');
  const first = operands[0] === 'help' ? operands[1] : operands[0];
  if (first !== undefined && !known.has(first) && first !== 'help') {
    return [...argv.slice(0, 2), ...args.filter((a) => a !== '--help' && a !== '-h' && a !== 'help')];
  }
  return sqlOperands(argv);
}

/**
 * `hvtrace query T "-- why\nSELECT …"`: an SQL text that starts with a comment would be read as an
 * unknown option. A word that starts with `--`, holds whitespace and has no `=` before it (so not
 * `--param=x=a b`) cannot be an option: it gets a leading space, which SQL ignores. The `--`
 * separator (`hvtrace query T -- "…"`) works too.
 */
function sqlOperands(argv: string[]): string[] {
  const args = argv.slice(2);
  const k = args.findIndex((a) => !a.startsWith('-'));
  if (args[k] !== 'query') return argv;
  const stop = args.indexOf('--');
  return [...argv.slice(0, 2), ...args.map((a, i) => (i > k && (stop < 0 || i < stop) && /^--[^=\s]*\s/.test(a) ? ` ${a}` : a))];
}

try {
  await program.parseAsync(usageArgv(process.argv));
} catch (e) {
  if (e instanceof CommanderError) {
    // --help, --version and `help` print their text and succeed; every other commander error is a
    // usage error (unknown command or option, missing or invalid argument or option value).
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || (e.code === 'commander.help' && e.exitCode === 0)) {
      process.exitCode = 0;
    } else {
      const hint = e.code === 'commander.unknownCommand' ? '; see hvtrace --help' : '';
      process.stderr.write(`hvtrace: error: ${oneLine(e.message)}${hint}\n`);
      process.exitCode = 2;
    }
  } else if (e instanceof UserError) {
    process.stderr.write(`hvtrace: error: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    const err = e as Error;
    process.stderr.write(`hvtrace: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.HVTRACE_DEBUG) process.stderr.write(`${err?.stack}\n`);
    process.exitCode = 70;
  }
}
