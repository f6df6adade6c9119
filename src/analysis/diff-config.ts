// `hvtrace diff A B`, section 1: the run configuration (issue 12). Each trace's RunInfo (the meta
// table of a SQLite trace, the schema metadata of an Arrow stream: src/trace/run-info.ts) is
// flattened to dotted paths — the top-level facts (profile, seed, schema and tool version,
// timebase) under their own names, the recorded configuration (workload parameters or scenario:
// kernel version, vcpus, guest and host memory, pressure, page sizes, HPT order, ...) under
// `config.` — and every path whose value differs, or that only one side has, is listed with both
// values. The file's format (SQLite or Arrow) is not configuration: a trace and its converted copy
// have the same RunInfo.

import { openTrace } from '../trace/reader.js';
import type { RunInfo } from '../trace/run-info.js';
import type { DiffSection } from './diff-section.js';

export interface ConfigDifference {
  /** Dotted path: `profile`, `seed`, `config.workload.pressure`, `config.scenario.machine.host_page_shift`, arrays as `[i]`. */
  key: string;
  /** JSON text of the value in A (null: absent in A). */
  a: string | null;
  b: string | null;
}

/** The RunInfo of a trace (opens and closes it). */
export async function readRunInfo(path: string): Promise<{ info: RunInfo; format: string }> {
  const r = await openTrace(path);
  try {
    return { info: r.info, format: r.format };
  } finally {
    r.close();
  }
}

/** RunInfo as a flat map path → JSON text of a leaf value (objects and arrays are walked). */
export function flattenRunInfo(info: RunInfo): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (prefix: string, v: unknown) => {
    if (Array.isArray(v)) {
      if (v.length === 0) out.set(prefix, '[]');
      v.forEach((x, i) => walk(`${prefix}[${i}]`, x));
    } else if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v as object).sort();
      if (keys.length === 0) out.set(prefix, '{}');
      for (const k of keys) walk(prefix ? `${prefix}.${k}` : k, (v as Record<string, unknown>)[k]);
    } else if (v !== undefined) out.set(prefix, JSON.stringify(v));
  };
  walk('', info);
  return out;
}

/** Every path whose value differs between the two RunInfos, in path order (top-level facts first). */
export function configDifferences(a: RunInfo, b: RunInfo): ConfigDifference[] {
  const fa = flattenRunInfo(a);
  const fb = flattenRunInfo(b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])];
  const rank = (k: string) => (k.startsWith('config.') || k === 'config' ? 1 : 0);
  keys.sort((x, y) => rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0));
  const out: ConfigDifference[] = [];
  for (const key of keys) {
    const va = fa.get(key) ?? null;
    const vb = fb.get(key) ?? null;
    if (va !== vb) out.push({ key, a: va, b: vb });
  }
  return out;
}

/** The kernel version a run modelled: config.kernel, else the profile's default (3.4). */
export function kernelOf(info: RunInfo): string {
  const c = info.config as { kernel?: unknown } | null;
  return typeof c?.kernel === 'string' ? c.kernel : '3.4';
}

/** One line saying which run a trace holds: profile, kernel, seed, workload. */
export function runIdentity(path: string, format: string, info: RunInfo): string {
  const c = info.config as { workload?: { name?: string; accesses?: number }; scenario?: { name?: string } } | null;
  const what = c?.workload?.name !== undefined ? `workload ${c.workload.name}${c.workload.accesses !== undefined ? ` (${c.workload.accesses} accesses)` : ''}` : c?.scenario ? `scenario${c.scenario.name ? ` ${c.scenario.name}` : ''}` : 'no recorded configuration';
  return `${path} (${format}): ${info.profile}, Linux ${kernelOf(info)}, seed ${info.seed}, ${what}`;
}

const shown = (v: string | null) => (v === null ? '(absent)' : v);

/** Section 1 of `hvtrace diff`: the configuration differences of traces `a` and `b`. */
export async function configSection(a: string, b: string): Promise<DiffSection> {
  const [ia, ib] = await Promise.all([readRunInfo(a), readRunInfo(b)]);
  const diffs = configDifferences(ia.info, ib.info);
  const width = Math.max(3, ...diffs.map((d) => d.key.length));
  const wa = Math.max(1, ...diffs.map((d) => shown(d.a).length));
  const lines = diffs.length
    ? [`  ${'key'.padEnd(width)}  ${'A'.padEnd(wa)}  B`, ...diffs.map((d) => `  ${d.key.padEnd(width)}  ${shown(d.a).padEnd(wa)}  ${shown(d.b)}`)]
    : ['  the same configuration (every RunInfo key equal)'];
  // The summary names the keys a reader looks for first, then counts the rest.
  const summary: string[] = [];
  if (diffs.length) {
    const top = diffs.slice(0, 3).map((d) => `${d.key} ${shown(d.a)} → ${shown(d.b)}`);
    summary.push(`${diffs.length} key${diffs.length === 1 ? '' : 's'} differ: ${top.join('; ')}${diffs.length > 3 ? '; …' : ''}`);
  } else summary.push('same configuration');
  return {
    key: 'config',
    title: 'Configuration (RunInfo: profile, seed, kernel, workload or scenario parameters)',
    differs: diffs.length > 0,
    summary,
    lines,
    json: {
      a: { profile: ia.info.profile, seed: ia.info.seed, kernel: kernelOf(ia.info), format: ia.format },
      b: { profile: ib.info.profile, seed: ib.info.seed, kernel: kernelOf(ib.info), format: ib.format },
      differences: diffs.map((d) => ({ key: d.key, a: d.a === null ? null : JSON.parse(d.a), b: d.b === null ? null : JSON.parse(d.b) })),
    },
  };
}
