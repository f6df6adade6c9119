// Shared test helpers.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openTrace } from '../src/trace/reader.js';
import { eventsOf, type TraceEvent } from '../src/trace/event.js';

export function tmpDir(prefix = 'hvtrace-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export async function readAll(path: string): Promise<{ events: TraceEvent[]; complete: boolean | undefined; truncation: string | undefined }> {
  const r = await openTrace(path);
  const events: TraceEvent[] = [];
  for await (const b of r.batches()) for (const e of eventsOf(b)) events.push(e);
  r.close();
  return { events, complete: r.complete, truncation: r.truncation };
}
