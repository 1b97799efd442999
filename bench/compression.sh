#!/usr/bin/env bash
# Hot tiles and a hot GeoJSON layer as browsers ask for them (Accept-Encoding), against the
# release binary or BIN: shows what compressing a cached body costs when it is done per request
# rather than once per entry. Usage: [BIN=path] bench/compression.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-10}"
conns="${2:-32}"
if [ -z "${BIN:-}" ]; then
  cargo build --release -p api >/dev/null
  BIN="$PWD/target/release/api"
fi
work=$(mktemp -d)
port=18997
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$BIN") &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port"
echo "== $BIN, $(nproc) cores, $secs s per run, $conns connections"
for enc in "" "gzip" "gzip, deflate, br, zstd"; do
  header=()
  [ -n "$enc" ] && header=(-H "Accept-Encoding: $enc")
  size=$(curl -s ${enc:+-H "Accept-Encoding: $enc"} "$base/tiles/offers,footprints,routes,communes/12/2086/1380.mvt" | wc -c)
  echo "-- hot composite tiles z12, Accept-Encoding: '${enc:-none}' (tile 2086/1380: $size bytes)"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "${header[@]}" -s bench/wrk/tiles.lua "$base" | grep -E "Requests/sec| 99%"
  size=$(curl -s ${enc:+-H "Accept-Encoding: $enc"} "$base/layers/offers.geojson" | wc -c)
  echo "-- hot layer offers.geojson, Accept-Encoding: '${enc:-none}' ($size bytes)"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "${header[@]}" "$base/layers/offers.geojson" | grep -E "Requests/sec| 99%"
done
