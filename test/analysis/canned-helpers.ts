// Helpers for the canned-query tests (faults, history): record a scenario (with host actions that
// scenarios cannot express, such as a swap-out, injected between its ops), run the queries
// in-process, and run the built CLI.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { faultRows, FAULT_COLUMNS, historyRows, HISTORY_COLUMNS, type FaultFilter, type HistorySelector } from '../../src/analysis/canned.js';
import { openDerived } from '../../src/analysis/derived-cache.js';
import { eventLookup } from '../../src/analysis/event-lookup.js';
import { loadScenario, type Scenario, scenarioToJson } from '../../src/guest/scenario.js';
import { recordScenarioRun } from '../../src/machine/record.js';
import type { ScenarioRunner } from '../../src/machine/scenario-runner.js';
import { openTrace } from '../../src/trace/reader.js';
import { Recorder } from '../../src/trace/recorder.js';
import { runInfo } from '../../src/trace/run-info.js';
import { SqliteSink } from '../../src/trace/sqlite-sink.js';

export const ROOT = join(import.meta.dirname, '../..');
export const GOLDEN = join(ROOT, 'test/golden');
export const REFAULT = join(GOLDEN, 'refault.scenario.json');
/** The page of the refault scenario: hva, gfn, HPTE slot, EA. */
export const HVA = 0x3fff81234000;
export const GFN = 0x1234;
export const SLOT = 0x1a298;
export const EA = 0x10005000n;

export function loadRefault(): Scenario {
  return loadScenario(REFAULT);
}

/** Record `sc` to a new SQLite trace at `path`; `afterOp(runner, i)` runs after op i. */
export function recordScenario(sc: Scenario, path: string, afterOp?: (r: ScenarioRunner, i: number) => void): void {
  const rec = new Recorder([new SqliteSink(path)], runInfo(sc.machine.profile, sc.seed, { scenario: scenarioToJson(sc) }));
  const res = recordScenarioRun(sc, rec, { afterOp });
  if (res.failures.length) throw new Error(`scenario expectations failed: ${JSON.stringify(res.failures)}`);
}

export type Row = Record<string, unknown>;

function toObjects(columns: readonly { name: string }[], rows: Iterable<unknown[]>): Row[] {
  return [...rows].map((r) => Object.fromEntries(columns.map((c, i) => [c.name, r[i]])));
}

export async function faultsOf(path: string, f: FaultFilter = {}): Promise<Row[]> {
  const reader = await openTrace(path);
  const cache = await openDerived(reader);
  try {
    return toObjects(FAULT_COLUMNS, faultRows(cache, f));
  } finally {
    cache.close();
    reader.close();
  }
}

export async function historyOf(path: string, sel: HistorySelector): Promise<Row[]> {
  const reader = await openTrace(path);
  const cache = await openDerived(reader);
  const lookup = eventLookup(reader);
  try {
    return toObjects(HISTORY_COLUMNS, historyRows(cache, lookup, sel));
  } finally {
    lookup.close();
    cache.close();
    reader.close();
  }
}

const BIN = join(ROOT, 'bin/hvtrace.js');
export function hv(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
