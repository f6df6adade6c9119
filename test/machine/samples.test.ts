// Every sample scenario in traces/ records cleanly with the invariant checker on, and its `expect`
// clauses (derived by hand in each file's description) hold.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadScenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { ArrowStreamSink } from '../../src/trace/arrow-sink.js';
import { tmpDir } from '../helpers.js';

const dir = join(import.meta.dirname, '../../traces');
for (const f of readdirSync(dir).filter((x) => x.endsWith('.scenario.json'))) {
  test(`traces/${f}: records with --check, expectations hold`, () => {
    const s = loadScenario(join(dir, f));
    const rec = new Recorder([new ArrowStreamSink(join(tmpDir(), 'x.arrow'))], runInfo(s.machine.profile, s.seed, { scenario: scenarioToJson(s) }));
    const r = recordScenarioRun(s, rec, { check: true });
    assert.deepEqual(r.failures, []);
    assert.equal(r.violation, null);
    assert.equal(r.runner.machine.staleTlb, 0);
  });
}
