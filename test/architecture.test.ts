// The layering (.dependency-cruiser.cjs, ARCHITECTURE.md) holds: no module imports a layer above
// its own, and there is no import cycle. The rule set is also run on small injected trees to show
// that it catches an upward import and a cycle (a checker that accepts everything proves nothing).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(cwd: string, dirs: string[]): Violation[] {
  const r = spawnSync(process.execPath, [DEPCRUISE, ...dirs, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(r.stdout, `depcruise printed nothing (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** A scratch tree with the project's rules and tsconfig and the given files. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hvtrace-arch-'));
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

test('src, cli and bench import one way, with no cycle', () => {
  const v = cruise(ROOT, ['src', 'cli', 'bench']);
  assert.deepEqual(
    v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`),
    [],
  );
});

test('the rules catch an injected upward import (arch → kvm) and a cycle inside a layer', () => {
  const dir = tree({
    'src/arch/bits.ts': "import { hpt } from '../kvm/hpt.js';\nexport const bits = hpt + 1;\n",
    'src/kvm/hpt.ts': 'export const hpt = 1;\n',
    'src/trace/a.ts': "import { b } from './b.js';\nexport const a = 1;\nexport const ab = () => b;\n",
    'src/trace/b.ts': "import { a } from './a.js';\nexport const b = a + 1;\n",
  });
  try {
    const names = cruise(dir, ['src']).map((x) => `${x.rule.name}: ${x.from} → ${x.to}`);
    assert.ok(names.includes('no-upward-from-arch: src/arch/bits.ts → src/kvm/hpt.ts'), names.join('\n'));
    assert.ok(names.some((n) => n.startsWith('no-circular: src/trace/')), names.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the rules accept a downward import and reject a folder outside the layers', () => {
  const dir = tree({
    'src/kvm/hpt.ts': "import { bits } from '../arch/bits.js';\nexport const hpt = bits;\n",
    'src/arch/bits.ts': 'export const bits = 1;\n',
    'src/misc/x.ts': "import { bits } from '../arch/bits.js';\nexport const x = bits;\n",
  });
  try {
    const names = cruise(dir, ['src']).map((x) => `${x.rule.name}: ${x.from} → ${x.to}`);
    assert.deepEqual(names, ['no-unknown-src-folder: src/misc/x.ts → src/arch/bits.ts']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
