#!/usr/bin/env bash
# Native vs XNNPACK native and onnxruntime-node, interleaved in the same minutes: the README's speed table.
# Needs ../shared/peers set up once (its ./setup.sh: libxnnpack-dev, its own npm ci with onnxruntime-node)
# and this package built (npm run build). Each round runs every runtime on every case back to back, so
# load from other VMs hits all of them alike; the table gives the median of the round medians.
# Usage: [CASES="v2:1 v2:2 v1:1"] [SHOW_ROUNDS=1] bench/side-by-side.sh [rounds=5] [runs=100]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
RUNS=${2:-100}
PEERS=${PEERS_DIR:-../shared/peers}
XNN="$PEERS/build/xnn_bench"
if [ ! -x "$XNN" ]; then
  mkdir -p "$PEERS/build"
  g++ -O2 -std=c++17 "$PEERS/native/xnn_bench.cpp" -o "$XNN" -lXNNPACK -lpthreadpool -lpthread
fi
[ -d "$PEERS/node_modules/onnxruntime-node" ] || { echo "run $PEERS/setup.sh first (onnxruntime-node)" >&2; exit 1; }
[ -f dist/cli/index.js ] || { echo "run npm run build first" >&2; exit 1; }
RAW=$(mktemp)
CASES=${CASES:-"v2:1 v2:2 v1:1"}  # e.g. CASES="v2:2" for one row
for round in $(seq 1 "$ROUNDS"); do
  for c in $CASES; do
    what=${c%:*} threads=${c#*:}
    load=$(cut -d' ' -f1 /proc/loadavg)
    xnn=$("$XNN" --what "$what" --threads "$threads" --runs "$RUNS" | sed -n 's/^JSON //p')
    ours=$(node dist/cli/index.js bench --arch "mobilenet_$what" --alpha 1 --resolution 224 --backend native \
      --threads "$threads" --runs "$RUNS" --warmup 10 --json | grep median_ms)
    ort=$( (cd "$PEERS" && node js/bench_ort.js --model "$what" --threads "$threads" --runs "$RUNS") | sed -n 's/^JSON //p')
    echo "$round $what $threads $load $xnn|$ours|$ort" >> "$RAW"
    echo "round $round $what x$threads (load $load) done" >&2
  done
done
node - "$RAW" <<'EOF'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n');
const med = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const cases = new Map();
const loads = [];
for (const line of rows) {
  const [round, what, threads, load, ...rest] = line.split(' ');
  const [xnn, ours, ort] = rest.join(' ').split('|').map((j) => JSON.parse(j).median_ms);
  // SHOW_ROUNDS=1: every round's medians on stderr, to tell a noise burst from a real difference
  if (process.env.SHOW_ROUNDS === '1') console.error(`round ${round} ${what} x${threads} load ${load}: xnnpack ${xnn.toFixed(2)} ours ${ours.toFixed(2)} onnxruntime ${ort.toFixed(2)}`);
  loads.push(Number(load));
  const key = `${what} ${threads}`;
  if (!cases.has(key)) cases.set(key, { what, threads, xnn: [], ours: [], ort: [] });
  const c = cases.get(key);
  c.xnn.push(xnn); c.ours.push(ours); c.ort.push(ort);
}
console.log(`${rows.length / cases.size} interleaved rounds; load average ${Math.min(...loads)}-${Math.max(...loads)}; CPU ${require('os').cpus()[0].model}`);
console.log('');
console.log('| model | threads | XNNPACK native ms | onnxruntime-node ms | mobilenet-simd native ms | ours / XNNPACK | ours / onnxruntime | rounds ours beat both |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const c of cases.values()) {
  const x = med(c.xnn), o = med(c.ort), m = med(c.ours);
  const wins = c.ours.filter((v, i) => v <= c.xnn[i] && v <= c.ort[i]).length;
  const name = c.what === 'v2' ? 'V2 1.0@224' : 'V1 1.0@224';
  console.log(`| ${name} | ${c.threads} | ${x.toFixed(2)} | ${o.toFixed(2)} | ${m.toFixed(2)} | ${(m / x).toFixed(2)} | ${(m / o).toFixed(2)} | ${wins}/${c.ours.length} |`);
}
EOF
rm -f "$RAW"
