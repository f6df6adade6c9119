// Golden queries in the Perfetto style: a small recording + a query + the expected CSV, each expected
// file checked by hand once (test/golden/README.md says how, one line each). Every case is recorded
// here, at test time (recordings are deterministic), to SQLite AND Arrow in one run; each query runs
// through the built CLI on both, and both outputs must equal the expected file byte for byte.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256, tmpDir } from '../helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/hvtrace.js');
const DIR = import.meta.dirname;
const CASES = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as Record<string, string[]>;

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

for (const [name, recordArgs] of Object.entries(CASES)) {
  test(`golden ${name}: every query's CSV on the SQLite and the Arrow recording equals the reviewed file`, () => {
    const d = tmpDir();
    const sq = join(d, `${name}.sqlite`);
    const ar = join(d, `${name}.arrow`);
    const rec = hv('record', ...recordArgs, '-o', sq, '--arrow', ar, '-q', '--no-index');
    assert.equal(rec.code, 0, rec.err);
    const before = [sha256(sq), sha256(ar)];
    const queries = readdirSync(join(DIR, name)).filter((f) => f.endsWith('.sql')).sort();
    assert.ok(queries.length >= 3, `${name}: at least three queries`);
    for (const q of queries) {
      const sql = readFileSync(join(DIR, name, q), 'utf8');
      const expected = readFileSync(join(DIR, name, q.replace(/\.sql$/, '.csv')), 'utf8');
      for (const trace of [sq, ar]) {
        const r = hv('query', trace, '--csv', '-q', '--', sql);
        assert.equal(r.code, 0, `${q} on ${trace}: ${r.err}`);
        assert.equal(r.err, '', `${q} on ${trace}: nothing on stderr`);
        assert.equal(r.out, expected, `${q} on ${trace}`);
      }
    }
    assert.deepEqual([sha256(sq), sha256(ar)], before, 'queries leave both recordings byte-identical');
  });
}
