#!/usr/bin/env bash
# Byte-identity of recorded traces: records the demo's three Arrow files, every scenario in traces/,
# a zstd synthetic trace and a few workloads (Arrow and SQLite) with the built CLI of a checkout, and
# prints per Arrow file the SHA-256 of the whole file and of everything after the schema message
# (so a change of schema metadata alone shows as such), and per SQLite file the SHA-256 of its
# events and meta rows. Run it on two checkouts and diff the outputs:
#   bash bench/trace-identity.sh . /tmp/a > a.txt; bash bench/trace-identity.sh ../old /tmp/b > b.txt; diff a.txt b.txt
set -euo pipefail
tree=$(cd "${1:-.}" && pwd); out=${2:-$(mktemp -d)}
cli="node $tree/dist/cli/main.js"
mkdir -p "$out"; rm -rf "${out:?}"/*
$cli demo "$out/demo" --force --quiet >/dev/null
for f in "$tree"/traces/*.scenario.json; do
  n=$(basename "$f" .scenario.json)
  $cli record --scenario "$f" -o "$out/$n.sqlite" --arrow "$out/$n.arrow" --force --quiet --no-index >/dev/null 2>&1 || true
done
$cli record --synthetic 200000 --seed 3 --arrow "$out/synthetic-zstd.arrow" --compress zstd --force --quiet >/dev/null
for spec in "mix power7 3.4" "fork-exec ppc970 3.4" "mmio-driver power7 4.20" "random-ws power7 3.3"; do
  set -- $spec
  $cli record --workload "$1" --profile "$2" --kernel "$3" --seed 11 --accesses 20000 --pressure 0.8 \
    -o "$out/wl-$1-$2-$3.sqlite" --arrow "$out/wl-$1-$2-$3.arrow" --force --quiet --no-index >/dev/null
done
cd "$out"
node --input-type=module - "$tree" <<'JS'
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';
const tree = process.argv[2];
const Database = createRequire(tree + '/package.json')('better-sqlite3');
const sha = (b) => createHash('sha256').update(b).digest('hex');
const files = execSync("find . -name '*.arrow' -o -name '*.sqlite'").toString().trim().split('\n').sort();
for (const f of files) {
  if (f.endsWith('.arrow')) {
    const b = readFileSync(f);
    const body = b.subarray(8 + b.readInt32LE(4)); // continuation marker, metadata length, schema message
    console.log(`${sha(b)} ${sha(body)} ${f}`);
  } else {
    const db = new Database(f, { readonly: true });
    db.defaultSafeIntegers(true);
    const h = createHash('sha256');
    for (const r of db.prepare('SELECT * FROM events ORDER BY seq').raw().iterate()) h.update(r.join(',') + '\n');
    for (const r of db.prepare("SELECT * FROM meta WHERE key NOT IN ('kinds') ORDER BY 1").raw().iterate()) h.update(r.join(',') + '\n');
    console.log(`${h.digest('hex')} events+meta ${f}`);
    db.close();
  }
}
JS
