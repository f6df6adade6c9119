// Shared helpers for benchmarks: argument parsing, medians, printing.

export interface BenchArgs {
  events: number;
  runs: number;
  json: boolean;
  [k: string]: number | boolean | string;
}

export function parseBenchArgs(argv: string[], defaults: { events: number; runs: number }): BenchArgs {
  const out: BenchArgs = { ...defaults, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a.startsWith('--') && i + 1 < argv.length && /^\d+$/.test(argv[i + 1])) out[a.slice(2)] = Number(argv[++i]);
    else if (a.startsWith('--') && i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else {
      process.stderr.write(`bench: unknown argument '${a}'\n`);
      process.exit(2);
    }
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));

export function printFigures(name: string, fig: Record<string, number>, args: BenchArgs, runs?: Record<string, number[]>): void {
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ bench: name, runs: args.runs, ...fig })}\n`);
    return;
  }
  process.stdout.write(`bench ${name} (medians of ${args.runs} runs)\n`);
  const w = Math.max(...Object.keys(fig).map((k) => k.length));
  for (const [k, v] of Object.entries(fig)) {
    const all = runs?.[k];
    process.stdout.write(`  ${k.padEnd(w)}  ${fmt(v).padStart(14)}${all && all.length > 1 ? `   [${all.map(fmt).join(', ')}]` : ''}\n`);
  }
}
