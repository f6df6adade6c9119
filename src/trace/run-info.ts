// What a trace says about the run that produced it: stored in the SQLite `meta` table and in the
// Arrow schema metadata (keys prefixed `hvtrace.`).

import { timebaseHzFor } from '../arch/timing.js';
import { SCHEMA_VERSION } from './kinds.js';

export interface RunInfo {
  schemaVersion: number;
  /** Machine profile: power7, ppc970, power9-nested, or 'synthetic' for generated benchmark data. */
  profile: string;
  seed: number;
  /** The complete run configuration (scenario or workload), enough to re-execute the run. */
  config: unknown;
  toolVersion: string;
  /**
   * Timebase frequency (Hz) the run's `time` column counts in (arch/timing.ts: 512 MHz on POWER7),
   * for converting ticks to seconds; absent for traces without a machine profile (synthetic) and
   * for traces written before the key existed (an added meta key: schema version unchanged).
   */
  timebaseHz?: number;
}

export const TOOL_VERSION = '0.1.0';

export function runInfo(profile: string, seed: number, config: unknown): RunInfo {
  const info: RunInfo = { schemaVersion: SCHEMA_VERSION, profile, seed, config, toolVersion: TOOL_VERSION };
  const hz = timebaseHzFor(profile);
  if (hz !== undefined) info.timebaseHz = hz;
  return info;
}
