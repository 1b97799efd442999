#!/usr/bin/env bash
# Time and memory of the GeoJSON layers with N synthetic offers: a fresh release server, its
# resident memory, each layer fetched once with `outside=true` (time and size), then the memory.
# Usage: bench/layers.sh [N]   (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
port=18994
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && "$bin" seed >/dev/null 2>&1 && "$bin" seed synth --offers "$n" >/dev/null 2>&1)
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") &
pid=$!
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status; }
echo "== $n synthetic offers; RSS at start: $(rss)"
for layer in offers footprints routes communes; do
  curl -s -o /dev/null -w "   $layer: %{size_download} bytes in %{time_total} s\n" "http://127.0.0.1:$port/layers/$layer.geojson?outside=true"
done
echo "== RSS after the four layers: $(rss)"
