#!/usr/bin/env bash
# Where the release binary spends its time under load: `perf record` on the server while wrk
# runs (1) a GraphQL page of 20 offers with their geometry and (2) hot composite tiles at z12,
# then the symbols that took the most samples (self time, all threads). The territory's data,
# SQLite, no Redis, rate limits off. Needs `perf` (Debian's linux-perf).
# Usage: bench/profile.sh [seconds] [connections]   (BIN=path profiles another build of the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-15}"
conns="${2:-32}"
if [ -z "${BIN:-}" ]; then cargo build --release -p api >/dev/null; fi
bin="${BIN:-$PWD/target/release/api}"
port=18994
base="http://127.0.0.1:$port"
work=$(mktemp -d)
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "$base/readyz" >/dev/null; do sleep 0.1; done
cat >"$work/page.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"query":"{ offers(first: 20) { totalCount edges { node { id name kind geometry } } } }"}'
LUA
profile() { # title, wrk arguments...
  local title="$1"
  shift
  echo "== $title: $secs s, $conns connections"
  perf record -q -F 499 -g -p "$pid" -o "$work/perf.data" -- sleep "$secs" 2>/dev/null &
  local rec=$!
  wrk -t2 -c"$conns" -d"${secs}s" "$@" | grep -E "Requests/sec|Latency"
  wait $rec || true
  perf report -i "$work/perf.data" --no-children --sort sym --percent-limit 1 --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | sed -E 's/ +\[[.k]\] / /' | cut -c1-140 | head -30
}
profile "GraphQL: offers(first: 20) with geometry" -s "$work/page.lua" "$base/graphql"
profile "hot composite tiles z12" -s bench/wrk/tiles.lua "$base"
