// Golden tests of the state tables (Perfetto style): a trace recorded from a scenario in traces/,
// a query (test/golden/<name>.sql) run by `hvtrace query --csv`, and the expected CSV
// (test/golden/<name>.csv), each reviewed by hand once and explained in test/golden/README.md.
// Regenerate one after a deliberate change: node bin/hvtrace.js query T "$(cat X.sql)" --csv > X.csv,
// then review the diff by hand.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/hvtrace.js');
const hv = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { encoding: 'utf8' });

const CASES: { scenario: string; goldens: string[] }[] = [
  { scenario: 'tv11-h-enter', goldens: ['tv11-hpte-at', 'tv11-rmap-at', 'tv11-host-page-at', 'tv11-slb-at'] },
];

for (const c of CASES) {
  test(`golden: state tables on traces/${c.scenario}.scenario.json`, () => {
    const t = join(tmpDir('hvtrace-golden-'), `${c.scenario}.sqlite`);
    const r = hv('record', '-s', join(ROOT, 'traces', `${c.scenario}.scenario.json`), '-o', t, '-q', '--no-index');
    assert.equal(r.status, 0, r.stderr);
    for (const g of c.goldens) {
      const sql = readFileSync(join(import.meta.dirname, `${g}.sql`), 'utf8');
      const q = hv('query', t, sql, '--csv');
      assert.equal(q.status, 0, `${g}: ${q.stderr}`);
      assert.equal(q.stdout, readFileSync(join(import.meta.dirname, `${g}.csv`), 'utf8'), g);
    }
  });
}
