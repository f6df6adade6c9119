#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm test` and `npm run demo`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('hvtrace: not built yet; run `npm run build` in the hvtrace checkout first\n');
  process.exit(2);
}
await import(entry);
