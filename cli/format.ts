// Streaming row output shared by every command that prints rows (query, events, faults, history,
// stats): one column type decides how a value prints, the same in every format and command.
//
//   hex   a 64-bit word or address: 0x… (lower case, no padding) in table, CSV and JSON
//   int   a number: decimal; JSON number (a string only beyond 2^53)
//   real  a decimal number with up to 3 fractional digits in table/CSV, a JSON number
//   text  as is
//   null type (an expression whose type no view declares): by its SQLite value, integers decimal
//
// NULL prints as an empty cell in table/CSV and null in JSON. Rows go out as they are produced:
// CSV, JSON (one array) and NDJSON (one object a line) stream with flat memory; a table buffers
// at most its row limit (default 1000) to align the columns, counts the rows beyond it without
// keeping them, and ends with a line saying how many were left out.

export type ColumnType = 'hex' | 'int' | 'real' | 'text' | null;
export interface Column {
  name: string;
  type: ColumnType;
}
export type Cell = string | number | bigint | boolean | null | undefined;
export type RowFormat = 'table' | 'csv' | 'json' | 'ndjson';
export const ROW_FORMATS: readonly RowFormat[] = ['table', 'csv', 'json', 'ndjson'];
export const DEFAULT_TABLE_ROWS = 1000;

/** The row-output options every row-printing command takes. */
export interface RowOutputOptions {
  format?: string;
  json?: boolean;
  ndjson?: boolean;
  csv?: boolean;
  limit?: number;
  quiet?: boolean;
}

/** Parse `--format` with the `--json`/`--ndjson`/`--csv` shorthands; the default is a table. */
export function rowFormat(opts: Pick<RowOutputOptions, 'format' | 'json' | 'ndjson' | 'csv'>): RowFormat {
  if (opts.json) return 'json';
  if (opts.ndjson) return 'ndjson';
  if (opts.csv) return 'csv';
  return (opts.format as RowFormat | undefined) ?? 'table';
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The JSON value of one cell. */
export function jsonCell(v: Cell, type: ColumnType): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'hex' && (typeof v === 'bigint' || typeof v === 'number')) return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
  if (type === 'real' && typeof v === 'number') return Number.isInteger(v) ? v : Math.round(v * 1e6) / 1e6;
  return v;
}

/** The table / CSV text of one cell. */
export function textCell(v: Cell, type: ColumnType): string {
  if (v === null || v === undefined) return '';
  if (type === 'hex' && (typeof v === 'bigint' || typeof v === 'number')) return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
  if (type === 'real' && typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return String(v);
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export interface RowSink {
  write(s: string): boolean;
  once(ev: 'drain', cb: () => void): unknown;
}

export interface RowWriterOptions {
  format: RowFormat;
  /** Table only: rows shown before the rest are counted and left out (0 = no limit). */
  tableRows?: number;
  out?: RowSink;
}

/**
 * Writes rows as they come. `push` returns a promise only when the output asked to wait (a pipe
 * that is full), so a producer loops `const p = w.push(r); if (p) await p;` at no cost otherwise.
 */
export class RowWriter {
  readonly format: RowFormat;
  private readonly out: RowSink;
  private readonly tableRows: number;
  private buf = '';
  private rows = 0;
  private omitted = 0;
  private readonly table: string[][] = [];

  constructor(
    readonly columns: readonly Column[],
    opts: RowWriterOptions,
  ) {
    this.format = opts.format;
    this.out = opts.out ?? process.stdout;
    this.tableRows = opts.tableRows ?? DEFAULT_TABLE_ROWS;
    if (this.format === 'csv') this.buf = `${columns.map((c) => csvField(c.name)).join(',')}\n`;
    else if (this.format === 'json') this.buf = '[';
  }

  /** Rows pushed so far (including rows a table left out). */
  get count(): number {
    return this.rows;
  }

  push(cells: readonly Cell[]): Promise<void> | undefined {
    const cols = this.columns;
    const n = this.rows++;
    switch (this.format) {
      case 'table':
        if (this.tableRows > 0 && n >= this.tableRows) {
          this.omitted++;
          return undefined;
        }
        this.table.push(cols.map((c, i) => textCell(cells[i], c.type)));
        return undefined;
      case 'csv':
        this.buf += `${cols.map((c, i) => csvField(textCell(cells[i], c.type))).join(',')}\n`;
        break;
      case 'json':
      case 'ndjson': {
        const o: Record<string, unknown> = {};
        for (let i = 0; i < cols.length; i++) o[cols[i].name] = jsonCell(cells[i], cols[i].type);
        const s = JSON.stringify(o);
        this.buf += this.format === 'json' ? `${n ? ',' : ''}\n${s}` : `${s}\n`;
        break;
      }
    }
    return this.buf.length >= 65536 ? this.flush() : undefined;
  }

  /**
   * JSON and NDJSON only: one row whose keys vary from row to row (events of several kinds, each
   * with its own fields), its values already JSON values (jsonCell's rules applied by the caller).
   */
  pushObject(o: Record<string, unknown>): Promise<void> | undefined {
    if (this.format !== 'json' && this.format !== 'ndjson') throw new Error(`pushObject needs a JSON format, not ${this.format}`);
    const n = this.rows++;
    const s = JSON.stringify(o);
    this.buf += this.format === 'json' ? `${n ? ',' : ''}\n${s}` : `${s}\n`;
    return this.buf.length >= 65536 ? this.flush() : undefined;
  }

  /**
   * Table only, past its row limit: count n more rows it leaves out without producing them (a
   * producer that can count what remains, e.g. with one SQL count, instead of reading it).
   */
  skip(n: number): void {
    if (this.format !== 'table' || this.tableRows <= 0 || this.rows < this.tableRows) throw new Error('skip: only past a table\'s row limit');
    this.rows += n;
    this.omitted += n;
  }

  /** Push every row of a (sync or async) iterable, honouring backpressure. */
  async pushAll(rows: Iterable<readonly Cell[]> | AsyncIterable<readonly Cell[]>): Promise<void> {
    for await (const r of rows) {
      const p = this.push(r);
      if (p) await p;
    }
  }

  private flush(): Promise<void> | undefined {
    const s = this.buf;
    this.buf = '';
    if (!s || this.out.write(s)) return undefined;
    return new Promise((resolve) => this.out.once('drain', resolve));
  }

  /** Finish the output: the table itself, the closing bracket of a JSON array. */
  async end(): Promise<{ rows: number; omitted: number }> {
    if (this.format === 'json') this.buf += this.rows ? '\n]\n' : ']\n';
    else if (this.format === 'table') this.buf += renderTable(this.columns, this.table, this.omitted);
    const p = this.flush();
    if (p) await p;
    return { rows: this.rows, omitted: this.omitted };
  }
}

/** An aligned table: numbers (hex, int, real) right-aligned, text left-aligned. */
function renderTable(columns: readonly Column[], rows: string[][], omitted: number): string {
  const width = columns.map((c) => c.name.length);
  for (const r of rows) for (let i = 0; i < r.length; i++) if (r[i].length > width[i]) width[i] = r[i].length;
  const right = columns.map((c) => c.type === 'int' || c.type === 'real' || c.type === 'hex');
  const line = (cells: string[]) =>
    cells
      .map((s, i) => (i === cells.length - 1 && !right[i] ? s : right[i] ? s.padStart(width[i]) : s.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  const parts = [line(columns.map((c) => c.name)), line(width.map((w) => '-'.repeat(w)))];
  for (const r of rows) parts.push(line(r));
  if (omitted) parts.push(`… ${omitted} more row${omitted === 1 ? '' : 's'} not shown (--limit N to show more, or --format csv|json|ndjson for all)`);
  else if (!rows.length) parts.push('(no rows)');
  return `${parts.join('\n')}\n`;
}
