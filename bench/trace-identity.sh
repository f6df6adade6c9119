#!/usr/bin/env bash
# Byte-identity of recorded traces: records the demo's three Arrow files, every scenario in traces/,
# a zstd synthetic trace and a few workloads with the built CLI of a checkout, and prints one
# "sha256  name" line each. Run it on two checkouts and diff the outputs:
#   bash bench/trace-identity.sh . /tmp/a > a.txt; bash bench/trace-identity.sh ../old /tmp/b > b.txt; diff a.txt b.txt
set -euo pipefail
tree=$(cd "${1:-.}" && pwd); out=${2:-$(mktemp -d)}
cli="node $tree/dist/cli/main.js"
mkdir -p "$out"; rm -rf "${out:?}"/*
$cli demo "$out/demo" --force --quiet >/dev/null
for f in "$tree"/traces/*.scenario.json; do
  n=$(basename "$f" .scenario.json)
  $cli record --scenario "$f" --arrow "$out/$n.arrow" --force --quiet >/dev/null 2>&1 || true
done
$cli record --synthetic 200000 --seed 3 --arrow "$out/synthetic-zstd.arrow" --compress zstd --force --quiet >/dev/null
for spec in "mix power7 3.4" "fork-exec ppc970 3.4" "mmio-driver power7 4.20" "random-ws power7 3.3"; do
  set -- $spec
  $cli record --workload "$1" --profile "$2" --kernel "$3" --seed 11 --accesses 20000 --pressure 0.8 --arrow "$out/wl-$1-$2-$3.arrow" --force --quiet >/dev/null
done
(cd "$out" && find . -name '*.arrow' | sort | xargs sha256sum)
