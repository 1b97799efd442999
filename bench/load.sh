#!/usr/bin/env bash
# Load test of the release binary over loopback with wrk (Debian package `wrk`).
# Usage: bench/load.sh [seconds] [connections]
# Environment: DATABASE_URL and REDIS_URL are passed to the server when set (default: a fresh
# SQLite file and no Redis). Rate limits are off for the run. Prints wrk's summaries.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-20}"
conns="${2:-32}"
cargo build --release -p api >/dev/null
work=$(mktemp -d)
port=18999
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$OLDPWD/target/release/api") &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
base="http://127.0.0.1:$port"
echo "== $(nproc) cores, $secs s per run"
echo "== GraphQL: offers near, 20 nodes with commune and themes, $conns connections"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/wrk/graphql-near.lua "$base/graphql"
echo "== GraphQL: text search, $conns connections"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/wrk/graphql-text.lua "$base/graphql"
echo "== hot composite tiles z12, 64 connections"
wrk -t2 -c64 -d"${secs}s" --latency -s bench/wrk/tiles.lua "$base"
echo "== resident memory of the server: $(grep VmRSS /proc/$pid/status)"
