// Golden tests in the Perfetto style for the canned queries: a trace recorded from a scenario, a
// command, and the expected CSV, each reviewed by hand once and explained in test/golden/README.md.
// A difference is a change in what the queries say about the scenario: review it, then update the
// file (HVTRACE_UPDATE_GOLDEN=1 rewrites them).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers.js';
import { GOLDEN, hv } from './canned-helpers.js';

const CASES: [scenario: string, args: string[], csv: string][] = [
  ['refault.scenario.json', ['faults'], 'refault.faults.csv'],
  ['refault.scenario.json', ['history', '--gfn', '4660'], 'refault.history-gfn.csv'],
  ['refault.scenario.json', ['history', '--hpte', '107160'], 'refault.history-hpte.csv'],
  ['refault.scenario.json', ['history', '--ea', '0x10006000', '--vcpu', '0'], 'refault.history-ea.csv'],
  ['refault.scenario.json', ['stats'], 'refault.stats.csv'],
];

test('canned-query goldens: scenario trace + command = expected CSV', () => {
  const d = tmpDir();
  const traces = new Map<string, string>();
  for (const [scenario, args, csv] of CASES) {
    let t = traces.get(scenario);
    if (!t) {
      t = join(d, `${scenario}.sqlite`);
      const r = hv('record', '--scenario', join(GOLDEN, scenario), '-o', t, '-q');
      assert.equal(r.code, 0, r.err);
      traces.set(scenario, t);
    }
    const [cmd, ...rest] = args;
    const r = hv(cmd, t, ...rest, '--csv', '-q');
    assert.equal(r.code, 0, r.err);
    const file = join(GOLDEN, csv);
    if (process.env.HVTRACE_UPDATE_GOLDEN) writeFileSync(file, r.out);
    assert.equal(r.out, readFileSync(file, 'utf8'), `${args.join(' ')} on ${scenario} (test/golden/${csv})`);
  }
});
