// Shared by `info` and `state`: one stderr line per nonzero anomaly counter of severity warning or
// above; true when one of them is error-level (the caller exits with EXIT_ANOMALY).
import type { AnomalyCounter } from '../../src/replay/handlers/anomalies.js';

export function reportAnomalies(list: readonly AnomalyCounter[]): boolean {
  let error = false;
  for (const a of list) {
    if (a.severity === 'info') continue;
    if (a.severity === 'error') error = true;
    process.stderr.write(`hvtrace: ${a.severity === 'error' ? 'error' : 'warning'}: anomaly ${a.name} (${a.severity}) ×${a.count}, first at seq ${a.first_seq}: ${a.description}\n`);
  }
  return error;
}
