#!/usr/bin/env bash
# A mixed load on the release binary with PostgreSQL and Redis: GraphQL queries (near, text, one
# offer), hot and cold tiles, GeoJSON layers, QR resolutions and a few writes (createOffer), for
# 60 s at 64 connections by default; with PUBLISH=1 each created offer (at a random point of the
# territory) is then published, so the writes invalidate the tiles and layers over them. Prints
# wrk's summary, the error count and the server's resident memory sampled during the run.
# Usage: [PUBLISH=1] bench/mixed.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
secs="${1:-60}"
conns="${2:-64}"
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
port=18995
base="http://127.0.0.1:$port"
db="caph_mixed_$$"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" REDIS_URL="redis://127.0.0.1:6379"
work=$(mktemp -d)
cleanup() { kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"; psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; }
trap cleanup EXIT
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 RATE_LIMIT_STAFF=0 RUST_LOG=warn exec "$bin") 2>"$work/server.log" &
pid=$!
until curl -sf "$base/readyz" >/dev/null; do sleep 0.1; done
token=$(cd "$work" && "$bin" keys create --name load --role editor 2>/dev/null)
(cd "$work" && "$bin" qr generate >/dev/null 2>&1)
codes=$(psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "SELECT code FROM qr_codes LIMIT 20")
python3 - "$work/requests.tsv" "$token" $codes <<'PY'
import json, sys, math
out, token, codes = sys.argv[1], sys.argv[2], sys.argv[3:]
def tile(z, lon, lat):
    n = 2 ** z; la = math.radians(lat)
    return f"{z}/{int((lon + 180) / 360 * n)}/{int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)}"
q = lambda s: json.dumps({"query": s})
reqs = []
for i in range(100):
    if i % 100 == 99:
        body = json.dumps({"query": "mutation($i: OfferInput!) { createOffer(input: $i) { id } }",
                           "variables": {"i": {"kind": "EVENT", "name": {"fr": "Charge"}, "location": {"lat": 50.3836, "lon": 3.4265}}}})
        reqs.append(("POST", "/graphql", body, token))
    elif i % 10 < 3:
        reqs.append(("POST", "/graphql", q("{ offers(filter: { near: { lat: 50.3836, lon: 3.4265, radiusMeters: 20000 } }, first: 20) { edges { node { name distanceMeters commune { name } themes { code } } } } }"), ""))
    elif i % 10 == 3:
        reqs.append(("POST", "/graphql", q('{ offers(filter: { text: "cite minier" }) { totalCount edges { node { name } } } }'), ""))
    elif i % 10 == 4:
        reqs.append(("POST", "/graphql", q('{ offer(slug: "fosse-d-arenberg") { name correlates(first: 10) { name } qrCodes { code } } }'), ""))
    elif i % 10 in (5, 6):
        z = [10, 12, 14][i % 3]
        lon, lat = 3.30 + (i % 7) * 0.04, 50.28 + (i % 5) * 0.05
        reqs.append(("GET", f"/tiles/offers,footprints,routes,communes/{tile(z, lon, lat)}.mvt", "", ""))
    elif i % 10 == 7:
        reqs.append(("GET", ["/layers/offers.geojson", "/layers/routes.geojson?lang=en", "/layers/footprints.geojson?theme=nature"][i % 3], "", ""))
    else:
        reqs.append(("GET", f"/q/{codes[i % len(codes)]}", "", ""))
with open(out, "w") as f:
    for r in reqs:
        f.write("\t".join(r) + "\n")
PY
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' /proc/$pid/status; }
echo "== mixed load: $secs s, $conns connections, PostgreSQL + Redis; RSS at start: $(rss)"
tile_lookups() { # "hits misses" of the tile cache, from the server's own counters
  curl -s "$base/metrics" | awk '/^porte_du_hainaut_cache_requests_total\{.*kind="tile"/ { if ($0 ~ /result="hit"/) h += $NF; else m += $NF } END { printf "%d %d", h, m }'
}
read -r hits0 misses0 <<<"$(tile_lookups)"
MIXED_REQUESTS="$work/requests.tsv" wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/wrk/mixed.lua "$base" >"$work/wrk.txt" &
w=$!
samples=""
for _ in $(seq 1 4); do sleep $((secs / 4)); samples="$samples $(rss);"; done
wait $w
grep -E "requests in|Requests/sec| 50%| 99%|Non-2xx|Socket errors" "$work/wrk.txt"
echo "RSS during the run:$samples"
read -r hits1 misses1 <<<"$(tile_lookups)"
python3 -c "h, m = $hits1 - $hits0, $misses1 - $misses0; print(f'tile cache during the run: {h} hits, {m} misses, hit rate {100 * h / max(h + m, 1):.1f} %')"
# Where the slow requests are: the server's own latency histogram, per route (the upper bound of
# the bucket holding each route's 99th percentile).
curl -s "$base/metrics" | python3 -c '
import re, sys
buckets = {}
for line in sys.stdin:
    m = re.match(r"porte_du_hainaut_http_request_duration_seconds_bucket\{(.*)\} (\S+)", line)
    if m:
        labels = dict(re.findall(r"(\w+)=\"([^\"]*)\"", m.group(1)))
        buckets.setdefault(labels["route"], []).append((float(labels["le"]), float(m.group(2))))
print("p99 by route (server side, bucket upper bound):")
for route, b in sorted(buckets.items()):
    b.sort()
    total = b[-1][1]
    p99 = next((le for le, n in b if n >= 0.99 * total), float("inf"))
    print(f"  {route}: {int(total)} requests, p99 <= {p99 * 1000:g} ms")
'
echo "offers created by the writes: $(psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "SELECT count(*) FROM offers WHERE name->>'fr' = 'Charge'"), published: $(psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "SELECT count(*) FROM offers WHERE name->>'fr' = 'Charge' AND status = 'published'")"
echo "scans counted (after the last flush): $(sleep 6; psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "SELECT COALESCE(SUM(count), 0) FROM qr_scans")"
