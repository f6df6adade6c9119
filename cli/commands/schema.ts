// hvtrace schema: print (or write to a folder) the documentation of the trace format.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaDocs } from '../schema-docs.js';
import { KINDS } from '../../src/trace/kinds.js';
import { printJson } from '../output.js';

export function schemaCommand(opts: { json?: boolean; writeDocs?: string }): number {
  if (opts.writeDocs) {
    mkdirSync(opts.writeDocs, { recursive: true });
    for (const [name, text] of Object.entries(schemaDocs())) writeFileSync(join(opts.writeDocs, name), text);
    process.stderr.write(`wrote ${Object.keys(schemaDocs()).join(', ')} to ${opts.writeDocs}\n`);
    return 0;
  }
  if (opts.json) printJson(KINDS);
  else process.stdout.write(schemaDocs()['events.md']);
  return 0;
}
