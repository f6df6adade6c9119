// Benchmark entry: `npm run bench -- <name> [options] [--json]`. Run compiled (npm run bench builds).
import { benchRead, readChild } from './read.js';
import { benchSinks } from './sinks.js';
import { benchEmulator } from './emulator.js';
import { benchWorkloads } from './workloads.js';
import { benchColumns } from './columns.js';
import { benchCheckpointInterval } from './checkpoint-interval.js';
import { benchReplay, replayChild } from './replay.js';
import { benchPipeline } from './pipeline.js';
import { benchCanned } from './canned.js';
import { benchQuery, queryChild } from './query.js';
import { benchStateTables } from './state-tables.js';
import { benchDiff } from './diff.js';

const benches: Record<string, (argv: string[]) => Promise<void>> = {
  sinks: benchSinks,
  read: benchRead,
  emulator: benchEmulator,
  workloads: benchWorkloads,
  'sqlite-columns': benchColumns,
  'checkpoint-interval': benchCheckpointInterval,
  replay: benchReplay,
  pipeline: benchPipeline,
  canned: benchCanned,
  query: benchQuery,
  'state-tables': benchStateTables,
  diff: benchDiff,
};

const [name, ...rest] = process.argv.slice(2);
if (name === 'read-child') await readChild(rest[0]);
else if (name === 'query-child') await queryChild(rest[0], rest[1], Number(rest[2]), Number(rest[3]));
else if (name === 'replay-child') await replayChild(rest[0], Number(rest[1]), Number(rest[2]), Number(rest[3]));
else if (!name || !(name in benches)) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [--events N] [--runs R] [--json]\n`);
  process.exit(2);
} else await benches[name](rest);
