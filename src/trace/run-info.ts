// What a trace says about the run that produced it: stored in the SQLite `meta` table and in the
// Arrow schema metadata (keys prefixed `hvtrace.`).

import { SCHEMA_VERSION } from './kinds.js';

export interface RunInfo {
  schemaVersion: number;
  /** Machine profile: power7, ppc970, power9-nested, or 'synthetic' for generated benchmark data. */
  profile: string;
  seed: number;
  /** The complete run configuration (scenario or workload), enough to re-execute the run. */
  config: unknown;
  toolVersion: string;
}

export const TOOL_VERSION = '0.1.0';

export function runInfo(profile: string, seed: number, config: unknown): RunInfo {
  return { schemaVersion: SCHEMA_VERSION, profile, seed, config, toolVersion: TOOL_VERSION };
}
