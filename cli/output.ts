// Printing helpers shared by commands: tables (cli-table3), CSV, JSON with 64-bit words as 0x… strings.

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

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function printCsv(columns: string[], rows: Cell[][]): void {
  process.stdout.write(`${columns.map(csvField).join(',')}\n`);
  for (const r of rows) process.stdout.write(`${r.map((v) => csvField(cellText(v))).join(',')}\n`);
}

export type OutputFormat = 'table' | 'csv' | 'json';

export function outputFormat(opts: { json?: boolean; csv?: boolean }): OutputFormat {
  return opts.json ? 'json' : opts.csv ? 'csv' : 'table';
}

export function printRows(format: OutputFormat, columns: string[], rows: Cell[][]): void {
  if (format === 'json') printJson(rows.map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null]))));
  else if (format === 'csv') printCsv(columns, rows);
  else printTable(columns, rows);
}
