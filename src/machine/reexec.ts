// Re-execution: run the emulator again from a trace's recorded configuration (scenario or workload
// and seed) into a new trace, for `hvtrace replay --reexec`.

import { parseScenario } from '../guest/scenario.js';
import { UserError } from '../trace/errors.js';
import type { EventSink } from '../trace/recorder.js';
import { Recorder } from '../trace/recorder.js';
import type { RunInfo } from '../trace/run-info.js';
import { recordScenarioRun } from './record.js';
import { parseWorkload } from '../guest/workloads.js';
import { recordWorkloadRun, type WorkloadKernel } from './workload-run.js';

export interface RecordedConfig {
  scenario?: unknown;
  checkpointEvery?: number;
  workload?: unknown;
  kernel?: WorkloadKernel;
}

export function reexecute(info: RunInfo, sink: EventSink): void {
  const cfg = (info.config ?? {}) as RecordedConfig;
  const rec = new Recorder([sink], info);
  if (cfg.scenario !== undefined) {
    const s = parseScenario(cfg.scenario, 'recorded scenario');
    recordScenarioRun(s, rec, { checkpointEvery: cfg.checkpointEvery });
    return;
  }
  if (cfg.workload !== undefined) {
    const wl = parseWorkload(cfg.workload, 'recorded workload');
    const profile = info.profile === 'ppc970' ? 'ppc970' : 'power7';
    recordWorkloadRun(wl, profile, rec, { checkpointEvery: cfg.checkpointEvery, kernel: cfg.kernel });
    return;
  }
  rec.close(false);
  throw new UserError(`this trace cannot be re-executed: its configuration names no scenario or workload (profile '${info.profile}')`);
}
