#!/usr/bin/env bash
# Side by side: run one benchmark alternately with this tree's build and another built checkout's
# (A = this tree, B = the other; the order flips every round), and print one JSON object per figure
# with the median of each side over the rounds and the ratio A/B. For benchmarks without --against.
#   bash bench/ab.sh ../old 5 emulator --runs 1        (both trees built: npm run build)
set -euo pipefail
a=$(cd "$(dirname "$0")/.." && pwd); b=$(cd "$1" && pwd); rounds=$2; shift 2
out=$(mktemp -d)
for ((r = 0; r < rounds; r++)); do
  if ((r % 2 == 0)); then order="A B"; else order="B A"; fi
  for side in $order; do
    tree=$a; [[ $side == B ]] && tree=$b
    # Each side keeps its own bench cache (the replay bench caches its trace and index in TMPDIR).
    mkdir -p "$out/tmp-$side"
    TMPDIR="$out/tmp-$side" node "$tree/dist/bench/run.js" "$@" --json | tail -1 >> "$out/$side.ndjson"
    echo "round $((r + 1))/$rounds $side done" >&2
  done
done
node --input-type=module - "$out" "$*" <<'JS'
import { readFileSync } from 'node:fs';
const [dir, what] = process.argv.slice(2);
const load = (s) => readFileSync(`${dir}/${s}.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const A = load('A'), B = load('B');
const med = (v) => { const s = [...v].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const k of Object.keys(A[0])) {
  if (typeof A[0][k] !== 'number' || k === 'runs') continue;
  const a = A.map((o) => o[k]), b = B.map((o) => o[k]);
  const ratios = a.map((x, i) => x / b[i]);
  console.log(JSON.stringify({ bench: what, figure: k, a_median: med(a), b_median: med(b), ratio_of_medians: med(a) / med(b), median_of_round_ratios: med(ratios), a, b }));
}
JS
rm -rf "$out"
