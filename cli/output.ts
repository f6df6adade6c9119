// Printing helpers for the small fixed tables of info/state/demo (cli-table3) and JSON with 64-bit
// words as 0x… strings. Rows of any size go through cli/format.ts (RowWriter).

import Table from 'cli-table3';
import { hex64 } from '../src/arch/word.js';

export type Cell = string | number | bigint | null | undefined | boolean;

export function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? hex64(v) : v;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
}

function cellText(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'bigint') return hex64(v);
  return String(v);
}

export function printTable(columns: string[], rows: Cell[][]): void {
  const t = new Table({ head: columns, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r.map(cellText));
  process.stdout.write(`${t.toString()}\n`);
}
