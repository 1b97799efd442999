#!/usr/bin/env bash
# Scale figures of the release binary with N synthetic (fictional) offers added to the territory:
# start-up (migrate + catalog build until /readyz), resident memory, `near` and `text` GraphQL
# throughput and latency (wrk, 32 connections), cold tiles at z8, z12, z16 and the offers layer,
# then the start-up again after a restart, which reads the catalog snapshot back (`CATALOG_SNAPSHOT`).
# Usage: bench/scale.sh N [N ...]   (e.g. bench/scale.sh 0 2000 10000 100000 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
port=18998
base="http://127.0.0.1:$port"
secs="${SECS:-10}"
tile_at() { # z lon lat -> z/x/y
  python3 -c "import math,sys; z=int(sys.argv[1]); lon=float(sys.argv[2]); lat=float(sys.argv[3]); n=2**z; la=math.radians(lat); print(f'{z}/{int((lon+180)/360*n)}/{int((1-math.log(math.tan(la)+1/math.cos(la))/math.pi)/2*n)}')" "$@"
}
# Starts the server on the folder $work; sets pid, and ready to the time /readyz first answers.
start_server() {
  (cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") &
  pid=$!
  until curl -sf "$base/readyz" >/dev/null; do sleep 0.05; done
  ready=$(date +%s.%N)
}
printf '| offers added | start-up (s) | RSS (MiB) | near req/s | near p50 / p99 | text req/s | text p50 / p99 | cold z8 | cold z12 | cold z16 | offers layer | restart from the snapshot (s) | RSS then (MiB) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for n in "$@"; do
  work=$(mktemp -d)
  (cd "$work" && "$bin" seed >/dev/null 2>&1 && if [ "$n" -gt 0 ]; then "$bin" seed synth --offers "$n" >/dev/null 2>&1; fi)
  start=$(date +%s.%N)
  start_server
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status)
  near=$(wrk -t2 -c32 -d"${secs}s" --latency -s bench/wrk/graphql-near.lua "$base/graphql" | awk '/Requests\/sec/ {r=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} END {print r" | "p50" / "p99}')
  text=$(wrk -t2 -c32 -d"${secs}s" --latency -s bench/wrk/graphql-text.lua "$base/graphql" | awk '/Requests\/sec/ {r=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} END {print r" | "p50" / "p99}')
  cold=""
  for z in 8 12 16; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "$base/tiles/offers,footprints,routes,communes/$(tile_at $z 2.85 50.05).mvt?outside=true")
    cold="$cold | $(python3 -c "print(f'{float(\"$t\")*1000:.1f} ms')")"
  done
  layer=$(curl -s -o /dev/null -w '%{time_total} %{size_download}' "$base/layers/offers.geojson?outside=true" | python3 -c "import sys; t,s=sys.stdin.read().split(); print(f'{float(t)*1000:.0f} ms, {int(s)/1e6:.1f} MB')")
  total=$(curl -s "$base/readyz" | python3 -c "import json,sys; print(json.load(sys.stdin)['catalog']['offers'])")
  # Stopped (it writes its snapshot if it has not yet), then started again on the same folder.
  kill $pid; wait $pid 2>/dev/null || true
  first_ready=$ready
  start2=$(date +%s.%N)
  start_server
  rss2=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status)
  printf '| %s (%s in catalog) | %.2f | %s | %s | %s%s | %s | %.2f | %s |\n' "$n" "$total" "$(echo "$first_ready - $start" | bc)" "$rss" "$near" "$text" "$cold" "$layer" "$(echo "$ready - $start2" | bc)" "$rss2"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$work"
done
