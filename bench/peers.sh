#!/usr/bin/env bash
# This API beside its peers, in one run on this machine (the table of issue 18): the release
# binary on SQLite with the territory, PostGraphile 4 + @graphile/postgis and Martin 1.14 on
# PostGIS (loaded from this API's own data by bench/postgis.py), and the HTTP ceiling
# (api/examples/ceiling.rs: axum answering from memory a fixed 1 KiB body, and again the very
# bytes this API sends for each tile of the load). Prints each load's figures and
#   1. GraphQL: a page of 20 offers with their geometry, 32 connections, against PostGraphile's
#      allOffers(first: 20) with geom { geojson } over the same offers;
#   2. hot composite z12 tiles, 64 connections, against both ceilings (and Martin, cache on), in
#      alternated rounds;
#   3. cold composite tiles z10 to z16 (this API with CACHE_MB=0, Martin with --cache-size 0, so
#      each request makes its tile), 32 connections, and one connection once over every tile;
# then the ratios. Needs Martin (cargo install martin --version 1.14.0 --locked
# --no-default-features --features postgres); PostGIS (Debian postgresql-15-postgis-3) and
# PostGraphile (npm, into $PEERS_DIR, default ~/.cache/caph-peers) are installed when missing.
# Usage: bench/peers.sh [seconds per load] [seconds per cold zoom] [rounds of the hot tiles]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-15}"
cold_secs="${2:-5}"
hot_rounds="${3:-3}"
peers="${PEERS_DIR:-$HOME/.cache/caph-peers}"
command -v martin >/dev/null || { echo "martin is missing: cargo install martin --version 1.14.0 --locked --no-default-features --features postgres" >&2; exit 1; }
if [ ! -x "$peers/node_modules/.bin/postgraphile" ]; then
  mkdir -p "$peers" && (cd "$peers" && npm init -y >/dev/null && npm i --no-audit --no-fund postgraphile@4 @graphile/postgis@0.2 >/dev/null)
fi
cargo build --release -p api --bin api --example ceiling 2>&1 | grep -E '^(error|warning)' || true
bin="$PWD/target/release/api"
api=18980 cold=18981 martin_hot=18982 martin_cold=18983 graphile=18984 ceiling=18985 replay=18986
db="caph_peers_$$"
work=$(mktemp -d)
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap cleanup EXIT
wait_for() { # url
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "$1 did not answer" >&2
  exit 1
}

(cd "$work" && "$bin" seed >/dev/null 2>&1)
(cd "$work" && BIND=127.0.0.1:$api RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") &
pids+=($!)
api_pid=$!
(cd "$work" && BIND=127.0.0.1:$cold CACHE_MB=0 RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$bin") &
pids+=($!)
target/release/examples/ceiling "127.0.0.1:$ceiling" &
pids+=($!)
wait_for "http://127.0.0.1:$api/readyz"
wait_for "http://127.0.0.1:$cold/readyz"
wait_for "http://127.0.0.1:$ceiling/"

# The answers of the hot-tile load as this API sends them (no Accept-Encoding, as wrk), for the
# ceiling that replays them.
record_hot_tiles "$work/recorded" "http://127.0.0.1:$api"
target/release/examples/ceiling "127.0.0.1:$replay" "$work/recorded" &
pids+=($!)
wait_for "http://127.0.0.1:$replay/"

echo "== PostGIS loaded from this API's data"
load_postgis_layers "$db" "http://127.0.0.1:$api" "$work"
python3 bench/postgis.py offers "http://127.0.0.1:$api/graphql" >"$work/offer.sql"
psql -q -h 127.0.0.1 -U postgres -d "$db" -f "$work/offer.sql" >/dev/null
echo "   graphile.offer for PostGraphile: $(psql -tA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT count(*) FROM graphile.offer") offers"

url="postgres://postgres@127.0.0.1:5432/$db"
martin --listen-addresses "127.0.0.1:$martin_hot" --cache-size 512 "$url" >"$work/martin-hot.log" 2>&1 &
pids+=($!)
martin_pid=$!
martin --listen-addresses "127.0.0.1:$martin_cold" --cache-size 0 "$url" >"$work/martin-cold.log" 2>&1 &
pids+=($!)
"$peers/node_modules/.bin/postgraphile" -c "$url" --schema graphile --append-plugins @graphile/postgis --host 127.0.0.1 \
  --port "$graphile" --disable-query-log >"$work/postgraphile.log" 2>&1 &
pids+=($!)
graphile_pid=$!
wait_for "http://127.0.0.1:$martin_hot/catalog"
wait_for "http://127.0.0.1:$martin_cold/catalog"
for i in $(seq 1 300); do
  curl -sf -o /dev/null -H 'content-type: application/json' -d '{"query":"{__typename}"}' "http://127.0.0.1:$graphile/graphql" && break
  if [ "$i" = 300 ]; then tail -20 "$work/postgraphile.log" >&2; exit 1; fi
  sleep 0.2
done
echo "   Martin $(martin --version | awk '{print $2}'), PostGraphile $(node -p "require('$peers/node_modules/postgraphile/package.json').version"), $(psql -tA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT 'PostGIS ' || postgis_lib_version()"), $(nproc) cores"

post_script() { # file, query
  printf 'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = %s\n' \
    "$(python3 -c 'import json,sys; print(json.dumps(json.dumps({"query": sys.argv[1]})))' "$2")" >"$1"
}
post_script "$work/api.lua" "{ offers(first: 20) { totalCount edges { node { id name kind geometry } } } }"
post_script "$work/graphile.lua" "{ allOffers(first: 20) { totalCount edges { node { id name kind geom { geojson } } } } }"
# The two pages hold the same kind of content: check both answer 20 offers with a geometry.
for side in "api $api" "graphile $graphile"; do
  set -- $side
  body=$(sed -n 's/^wrk.body = //p' "$work/$1.lua" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read()))')
  curl -sf -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$2/graphql" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
page = d.get("offers") or d.get("allOffers")
nodes = [e["node"] for e in page["edges"]]
geoms = [n.get("geometry") or (n.get("geom") or {}).get("geojson") for n in nodes]
geoms = [json.loads(g) if isinstance(g, str) else g for g in geoms]  # PostGraphile: GeoJSON as a string
assert len(nodes) == 20 and all(g and g["type"] for g in geoms), d
total = page["totalCount"]
print(f"   {sys.argv[1]}: {len(nodes)} offers of {total}, {len(json.dumps(d))} bytes of data")' "$1"
done

rate() { # wrk output -> requests/s
  awk '/Requests\/sec/ {print $2}'
}
run() { # label, wrk arguments...
  local label="$1"
  shift
  local out
  out=$(wrk -t2 --latency "$@")
  printf '   %-44s %10s req/s  p50 %8s  p99 %8s\n' "$label" "$(echo "$out" | rate)" \
    "$(echo "$out" | awk '$1 == "50%" {print $2}')" "$(echo "$out" | awk '$1 == "99%" {print $2}')" >&2
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then echo "$out" | grep -E "Non-2xx|Socket errors" >&2; fi
  echo "$out" | rate
}

echo "== 1. GraphQL page of 20 offers with geometry, 32 connections, $secs s"
g_api=$(run "this API" -c32 -d"${secs}s" -s "$work/api.lua" "http://127.0.0.1:$api/graphql")
g_peer=$(run "PostGraphile" -c32 -d"${secs}s" -s "$work/graphile.lua" "http://127.0.0.1:$graphile/graphql")

# In alternated rounds, each server's figure the mean of its rounds: this machine's speed drifts
# by a tenth or more within a minute, and a single run of each, one after the other, measures
# the drift as much as the servers.
echo "== 2. hot composite tiles z12, 64 connections, $hot_rounds alternated rounds of $secs s"
mean() { python3 -c "import sys; v = [float(a) for a in sys.argv[1:]]; print(f'{sum(v) / len(v):.2f}')" "$@"; }
hot_api=() hot_martin=() hot_ceiling=() hot_replay=()
for r in $(seq "$hot_rounds"); do
  hot_api+=("$(run "round $r this API" -c64 -d"${secs}s" -s bench/wrk/tiles.lua "http://127.0.0.1:$api")")
  hot_martin+=("$(TILE_PATH="/offers,footprints,routes,communes/12/{x}/{y}" run "round $r Martin (cache on)" -c64 -d"${secs}s" -s bench/wrk/tiles.lua "http://127.0.0.1:$martin_hot")")
  hot_ceiling+=("$(run "round $r ceiling (axum, fixed 1 KiB body)" -c64 -d"${secs}s" -s bench/wrk/tiles.lua "http://127.0.0.1:$ceiling")")
  hot_replay+=("$(run "round $r ceiling (axum, this API's bytes replayed)" -c64 -d"${secs}s" -s bench/wrk/tiles.lua "http://127.0.0.1:$replay")")
done
h_api=$(mean "${hot_api[@]}") h_martin=$(mean "${hot_martin[@]}") h_ceiling=$(mean "${hot_ceiling[@]}") h_replay=$(mean "${hot_replay[@]}")
echo "   means: this API $h_api, Martin $h_martin, ceiling $h_ceiling, same bytes $h_replay req/s"

echo "== 3. cold composite tiles (caches off), 32 connections, $cold_secs s per zoom"
declare -A c_api c_martin
for z in 10 11 12 13 14 15 16; do
  c_api[$z]=$(ZOOM=$z run "z$z this API" -c32 -d"${cold_secs}s" -s bench/wrk/sweep.lua "http://127.0.0.1:$cold")
  c_martin[$z]=$(ZOOM=$z TILE_PATH="/offers,footprints,routes,communes/{z}/{x}/{y}" run "z$z Martin" -c32 -d"${cold_secs}s" -s bench/wrk/sweep.lua "http://127.0.0.1:$martin_cold")
done
echo "   and once over every tile, one connection, one tile after another:"
python3 - "http://127.0.0.1:$cold/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt?outside=true" \
  "http://127.0.0.1:$martin_cold/offers,footprints,routes,communes/{z}/{x}/{y}" <<'PY'
import http.client, math, sys, time, urllib.parse
W, S, E, N = 3.28, 50.28, 3.62, 50.52
def tile(lon, lat, z):
    n = 2 ** z; la = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)
def sweep(template, z):
    (x0, y0), (x1, y1) = tile(W, N, z), tile(E, S, z)
    u = urllib.parse.urlsplit(template)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    start, n = time.perf_counter(), 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            path = u.path.format(z=z, x=x, y=y) + ("?" + u.query if u.query else "")
            conn.request("GET", path); r = conn.getresponse(); r.read()
            assert r.status in (200, 204), (path, r.status)
            n += 1
    return n, (time.perf_counter() - start) * 1000
for z in range(10, 17):
    (n, a), (_, m) = sweep(sys.argv[1], z), sweep(sys.argv[2], z)
    print(f"   z{z}: {n} tiles, this API {a:.0f} ms, Martin {m:.0f} ms, {m / a:.1f}x")
PY

echo "== resident memory: this API $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$api_pid/status), Martin $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$martin_pid/status), PostGraphile $(awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$graphile_pid/status) (PostgreSQL apart)"
echo "== ratios (goals of issue 18 in brackets), commit $(git rev-parse --short HEAD)"
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
echo "   GraphQL page / PostGraphile: $(ratio "$g_api" "$g_peer")x  (>= 5x)"
echo "   hot tiles / ceiling: $(ratio "$h_api" "$h_ceiling")x  (>= 0.8x); / ceiling with the same bytes: $(ratio "$h_api" "$h_replay")x; / Martin: $(ratio "$h_api" "$h_martin")x"
line="   cold tiles / Martin, under load:"
for z in 10 11 12 13 14 15 16; do line+=" z$z $(ratio "${c_api[$z]}" "${c_martin[$z]}")x"; done
echo "$line  (>= 5x at every zoom)"
