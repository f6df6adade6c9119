// Benchmark entry: `npm run bench -- <name> [options] [--json]`.
import { benchSinks } from './sinks.js';

const benches: Record<string, (argv: string[]) => Promise<void>> = {
  sinks: benchSinks,
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in benches)) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--json]\n`);
  process.exit(2);
}
await benches[name](rest);
