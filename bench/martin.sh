#!/usr/bin/env bash
# Side by side with Martin on PostGIS. The same four layers (offers, footprints, routes, communes)
# are served by this API (release binary, SQLite) and by Martin from PostGIS tables loaded with
# this API's own GeoJSON layers (same features and properties, WGS84 with a GiST index, as
# Martin's table sources expect). With SYNTH offers added (default 0: the territory alone).
#   1. cold: every composite tile over the territory at z10 to z16 requested once, in one
#      connection, by both servers fresh (Martin's tile cache off, so each tile is made by PostGIS);
#   2. hot: composite z12 tiles with wrk, 64 connections, each server with its cache on.
# Needs Martin (cargo install martin --version 1.14.0 --locked --no-default-features --features
# postgres) and PostGIS (Debian postgresql-15-postgis-3, installed when run as root).
# Usage: bench/martin.sh [seconds of the hot run] [synthetic offers]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-15}"
synth="${2:-0}"
command -v martin >/dev/null || { echo "martin is missing: cargo install martin --version 1.14.0 --locked --no-default-features --features postgres" >&2; exit 1; }
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
api_port=18996 martin_port=18995
db="caph_martin_$$"
work=$(mktemp -d)
cleanup() {
  kill "${api_pid:-0}" "${martin_pid:-0}" 2>/dev/null || true
  rm -rf "$work"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT
(cd "$work" && "$bin" seed >/dev/null 2>&1 && if [ "$synth" -gt 0 ]; then "$bin" seed synth --offers "$synth" >/dev/null 2>&1; fi)
(cd "$work" && BIND=127.0.0.1:$api_port RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") &
api_pid=$!
until curl -sf "http://127.0.0.1:$api_port/readyz" >/dev/null; do sleep 0.1; done

echo "== loading PostGIS from the API's layers"
load_postgis_layers "$db" "http://127.0.0.1:$api_port" "$work"

start_martin() { # cache size in MB
  martin --listen-addresses "127.0.0.1:$martin_port" --cache-size "$1" "postgres://postgres@127.0.0.1:5432/$db" >"$work/martin.log" 2>&1 &
  martin_pid=$!
  until curl -sf "http://127.0.0.1:$martin_port/catalog" >/dev/null; do sleep 0.1; done
}
start_martin 0
echo "   martin $(martin --version | awk '{print $2}') serves: $(curl -s "http://127.0.0.1:$martin_port/catalog" | python3 -c "import json,sys; print(', '.join(sorted(json.load(sys.stdin)['tiles'])))")"

echo "== 1. cold: every composite tile of the territory at z10-z16, once, one connection"
python3 - "http://127.0.0.1:$api_port/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt?outside=true" \
  "http://127.0.0.1:$martin_port/offers,footprints,routes,communes/{z}/{x}/{y}" <<'PY'
import http.client, math, sys, time, urllib.parse
W, S, E, N = 3.28, 50.28, 3.62, 50.52  # the territory's bounding box
def tile(lon, lat, z):
    n = 2 ** z; la = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)
def sweep(template, z):
    (x0, y0), (x1, y1) = tile(W, N, z), tile(E, S, z)
    u = urllib.parse.urlsplit(template)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    times, size, empty = [], 0, 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            path = u.path.format(z=z, x=x, y=y) + ("?" + u.query if u.query else "")
            t = time.perf_counter(); conn.request("GET", path); r = conn.getresponse(); body = r.read()
            times.append((time.perf_counter() - t) * 1000)
            assert r.status in (200, 204), (path, r.status, body[:200])
            size += len(body); empty += len(body) == 0
    times.sort()
    return len(times), sum(times), times[len(times) // 2], times[int(len(times) * 0.99)], size, empty
print("| zoom | tiles | API total / p50 / p99 | Martin total / p50 / p99 | API bytes | Martin bytes |")
print("|---|---|---|---|---|---|")
for z in range(10, 17):
    a = sweep(sys.argv[1], z); m = sweep(sys.argv[2], z)
    print(f"| {z} | {a[0]} | {a[1]:.0f} ms / {a[2]:.2f} / {a[3]:.2f} ms | {m[1]:.0f} ms / {m[2]:.2f} / {m[3]:.2f} ms | {a[4]:,} | {m[4]:,} |")
PY

echo "== 2. hot: composite z12 tiles, wrk, 64 connections, $secs s (caches on)"
kill "$martin_pid"; wait "$martin_pid" 2>/dev/null || true
start_martin 512
echo "-- this API"
wrk -t2 -c64 -d"${secs}s" --latency -s bench/wrk/tiles.lua "http://127.0.0.1:$api_port" | grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors"
echo "-- Martin"
TILE_PATH="/offers,footprints,routes,communes/12/{x}/{y}" wrk -t2 -c64 -d"${secs}s" --latency -s bench/wrk/tiles.lua "http://127.0.0.1:$martin_port" | grep -E "Requests/sec| 50%| 99%|Non-2xx|Socket errors"
echo "== resident memory: API $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$api_pid/status), Martin $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$martin_pid/status) (PostgreSQL apart)"
