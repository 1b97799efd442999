#!/usr/bin/env bash
# Whether two builds of the server make the same tiles: every composite tile over the territory
# from z5 to z16, fetched from both (territory data, caches off), compared byte for byte; the
# tiles that differ are then compared feature by feature (bench/tiles-compare.py).
# Usage: bench/tiles-diff.sh OLD_BINARY [NEW_BINARY]   (NEW defaults to this checkout's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: bench/tiles-diff.sh OLD_BINARY [NEW_BINARY]}"
if [ -z "${2:-}" ]; then cargo build --release -p api --bin api 2>&1 | grep -E '^(error|warning)' || true; fi
new="${2:-$PWD/target/release/api}"
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$work" && "$new" seed >/dev/null 2>&1)
for side in "$old 18976" "$new 18977"; do
  set -- $side
  (cd "$work" && BIND=127.0.0.1:$2 CACHE_MB=0 RATE_LIMIT_ANONYMOUS=0 RUST_LOG=warn exec "$1") &
  pids+=($!)
  until curl -sf "http://127.0.0.1:$2/readyz" >/dev/null; do sleep 0.1; done
done
python3 - <<'PY'
import http.client, math
W, S, E, N = 3.28, 50.28, 3.62, 50.52
def tile(lon, lat, z):
    n = 2 ** z; la = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)
a, b = http.client.HTTPConnection("127.0.0.1", 18976), http.client.HTTPConnection("127.0.0.1", 18977)
def get(conn, path):
    conn.request("GET", path); r = conn.getresponse(); return r.status, r.read()
total = differ = 0
for z in range(5, 17):
    (x0, y0), (x1, y1) = tile(W, N, z), tile(E, S, z)
    n = d = size_a = size_b = 0
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            path = f"/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt?outside=true"
            (sa, ba), (sb, bb) = get(a, path), get(b, path)
            n += 1; d += ba != bb or sa != sb; size_a += len(ba); size_b += len(bb)
    total += n; differ += d
    print(f"z{z}: {n} tiles, {d} differ, {size_a:,} -> {size_b:,} bytes")
print(f"{total} tiles, {differ} differ")
PY
if python3 -c "import mapbox_vector_tile, shapely" 2>/dev/null; then
  python3 bench/tiles-compare.py 18976 18977
else
  echo "(install tests/py/requirements.txt to compare the differing tiles feature by feature)"
fi
