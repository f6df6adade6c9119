import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Cell, type Column, type RowFormat, RowWriter } from '../../cli/format.js';

async function render(format: RowFormat, columns: Column[], rows: Cell[][], tableRows?: number): Promise<string> {
  let s = '';
  const out = { write: (x: string) => ((s += x), true), once: () => undefined };
  const w = new RowWriter(columns, { format, out, tableRows });
  await w.pushAll(rows);
  await w.end();
  return s;
}

const cols: Column[] = [
  { name: 'seq', type: 'int' },
  { name: 'ea', type: 'hex' },
  { name: 'name', type: 'text' },
];
const rows: Cell[][] = [
  [1n, 0xc000000000001000n, 'H_ENTER'],
  [22n, -1n, null],
];

test('one value prints one way in every format: hex words 0x…, integers decimal, NULL empty/null', async () => {
  assert.equal(await render('csv', cols, rows), 'seq,ea,name\n1,0xc000000000001000,H_ENTER\n22,0xffffffffffffffff,\n');
  assert.equal(await render('ndjson', cols, rows), '{"seq":1,"ea":"0xc000000000001000","name":"H_ENTER"}\n{"seq":22,"ea":"0xffffffffffffffff","name":null}\n');
  assert.deepEqual(JSON.parse(await render('json', cols, rows)), [
    { seq: 1, ea: '0xc000000000001000', name: 'H_ENTER' },
    { seq: 22, ea: '0xffffffffffffffff', name: null },
  ]);
  assert.equal(await render('json', cols, []), '[]\n');
  // An untyped expression column (SELECT 42 AS ea) is a plain number.
  assert.equal(await render('csv', [{ name: 'ea', type: null }], [[42n]]), 'ea\n42\n');
  assert.equal(await render('csv', [{ name: 's', type: 'text' }], [['a,"b"']]), 's\n"a,""b"""\n');
});

test('a table aligns its columns, keeps at most its row limit and says how many rows it left out', async () => {
  const t = await render('table', cols, rows);
  assert.equal(t, ['seq                  ea  name', '---  ------------------  -------', '  1  0xc000000000001000  H_ENTER', ' 22  0xffffffffffffffff', ''].join('\n'));
  const many: Cell[][] = Array.from({ length: 25 }, (_, i) => [BigInt(i), BigInt(i), 'x']);
  const lines = (await render('table', cols, many, 10)).trimEnd().split('\n');
  assert.equal(lines.length, 2 + 10 + 1);
  assert.match(lines.at(-1) ?? '', /^… 15 more rows not shown/);
  assert.equal((await render('table', cols, many, 0)).trimEnd().split('\n').length, 2 + 25);
  assert.match(await render('table', cols, []), /\(no rows\)/);
});
