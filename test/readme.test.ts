// README.md's own examples run as written. The rule: every line of a ```sh code block that starts
// with `npx hvtrace ` is a command; a trailing `# comment` is dropped; they run in README order, in
// one temporary directory that has the repository's traces/ beside it (the examples name
// traces/*.json), as `node bin/hvtrace.js …` with a shell splitting the words. Each must exit 0.
// No line is excluded: EXCLUDED stays empty unless an example cannot run here, and then says why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/hvtrace.js');
/** Lines (after `npx hvtrace `, comment dropped) that are not run, each with its reason. */
const EXCLUDED: Record<string, string> = {};

export function readmeCommands(markdown: string): string[] {
  const out: string[] = [];
  let inSh = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) {
      inSh = !inSh && /^```sh\s*$/.test(line);
      continue;
    }
    if (!inSh || !line.startsWith('npx hvtrace ')) continue;
    // The comment starts at the first ` # ` outside double quotes.
    let cmd = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') quoted = !quoted;
      if (!quoted && line[i] === '#' && line[i - 1] === ' ') break;
      cmd += line[i];
    }
    out.push(cmd.slice('npx hvtrace '.length).trim());
  }
  return out;
}

test('README extraction rule: sh blocks only, comments dropped, quotes kept', () => {
  const md = ['```sh', 'npx hvtrace a "x # y" --z   # note', 'npm test', '```', '```', 'npx hvtrace not-sh', '```', '```sh', 'npx hvtrace b', '```'].join('\n');
  assert.deepEqual(readmeCommands(md), ['a "x # y" --z', 'b']);
});

test('every npx hvtrace command in README.md runs as written (exit 0)', { timeout: 600_000 }, () => {
  const cmds = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(cmds.length >= 15, `found ${cmds.length} commands`);
  for (const c of cmds) assert.doesNotMatch(c, /\[|\]|<|>|\.\.\./, `optional or placeholder syntax in a runnable line: ${c}`);
  const dir = tmpDir('hvtrace-readme-');
  symlinkSync(join(ROOT, 'traces'), join(dir, 'traces'));
  for (const c of cmds) {
    if (c in EXCLUDED) continue;
    const r = spawnSync('sh', ['-c', `"$NODE" "$BIN" ${c}`], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE: process.execPath, BIN } });
    assert.equal(r.status, 0, `hvtrace ${c}\n${r.stderr}`);
  }
});
