#!/usr/bin/env bash
# Hot composite z12 tiles (bench/wrk/tiles.lua, 64 connections) against the HTTP ceilings, in
# alternated rounds (this machine's runs vary by a quarter from one to the next): this API's
# release build (and any other builds given, e.g. an older one to compare), then
# api/examples/ceiling.rs answering a fixed 1 KiB body, then the same example replaying the very
# bytes this API sends for each tile of the load (body and headers). Each line gives the
# requests/s and the server's CPU time per request (user and system, from /proc), which varies
# less than the rate. The territory's data, SQLite, rate limits off, logs at warn.
# Usage: bench/hot-tiles.sh [seconds per run] [rounds] [other API binary...]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-6}"
rounds="${2:-3}"
shift $(($# < 2 ? $# : 2))
cargo build --release -p api --bin api --example ceiling 2>&1 | grep -E '^(error|warning)' || true
bins=("$PWD/target/release/api" "$@")
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
names=() ports=()
port=18960
for bin in "${bins[@]}"; do
  mkdir -p "$work/$port"
  (cd "$work/$port" && "$bin" seed >/dev/null 2>&1)
  (cd "$work/$port" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin" >/dev/null 2>&1) &
  pids+=($!) names+=("api ($bin)") ports+=($port)
  port=$((port + 1))
done
for p in "${ports[@]}"; do
  until curl -sf "http://127.0.0.1:$p/readyz" >/dev/null; do sleep 0.1; done
done
record_hot_tiles "$work/recorded" "http://127.0.0.1:${ports[0]}"
target/release/examples/ceiling "127.0.0.1:$port" &
pids+=($!) names+=("ceiling, fixed 1 KiB body") ports+=($port)
target/release/examples/ceiling "127.0.0.1:$((port + 1))" "$work/recorded" &
pids+=($!) names+=("ceiling, this API's bytes replayed") ports+=($((port + 1)))
for p in "${ports[@]}"; do
  until curl -s -o /dev/null "http://127.0.0.1:$p/"; do sleep 0.1; done
  wrk -t2 -c8 -d1s -s bench/wrk/tiles.lua "http://127.0.0.1:$p" >/dev/null
done
echo "== hot composite z12 tiles, 64 connections, $secs s a run, $rounds rounds, commit $(git rev-parse --short HEAD)"
tck=$(getconf CLK_TCK)
for r in $(seq "$rounds"); do
  for i in "${!ports[@]}"; do
    pid=${pids[$i]}
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    out=$(wrk -t2 -c64 -d"${secs}s" -s bench/wrk/tiles.lua "http://127.0.0.1:${ports[$i]}")
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    python3 -c 'import sys; u, s, n, tck = (int(a) for a in sys.argv[1:5]); print(f"   round {sys.argv[5]}  {sys.argv[6]:>10} req/s  CPU per request: user {u / tck / n * 1e6:5.1f} us, system {s / tck / n * 1e6:5.1f} us  {sys.argv[7]}")' \
      $((u1 - u0)) $((s1 - s0)) "$n" "$tck" "$r" "$rate" "${names[$i]}"
  done
done
