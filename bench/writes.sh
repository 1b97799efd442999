#!/usr/bin/env bash
# Write latency and import throughput at scale, on PostgreSQL and Redis (the production setup).
# For each N: a fresh database with the territory and N synthetic (fictional) offers
# (`api seed synth`, its throughput printed; then `VACUUM (ANALYZE)`), the release server started (start-up time and
# resident memory), then 200 successive `updateOffer` calls on one published offer from one client
# with a kept-alive connection (p50, p99, max), and an import of 10,000 DATAtourisme objects (copies
# of the six real test objects under fictional ids, names and hours, `bench/objects.py`, written to
# a temporary folder, never kept) into that catalog, with its throughput and the server's catch-up;
# then the export of the next day (the same objects, one in 20 newer) with its throughput.
# Usage: bench/writes.sh N [N ...]   (e.g. bench/writes.sh 0 100000 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
port=18997
base="http://127.0.0.1:$port"
export REDIS_URL="redis://127.0.0.1:6379"
printf '| offers added | synth objects/s | start-up (s) | RSS (MiB) | updateOffer p50 | p99 | max | import 10,000 objects/s | server caught up after | next day export objects/s |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for n in "$@"; do
  db="caph_writes_$$_$n"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
  work=$(mktemp -d)
  cleanup() { kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"; psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; }
  trap cleanup EXIT
  (cd "$work" && "$bin" seed >/dev/null 2>&1)
  synth="-"
  if [ "$n" -gt 0 ]; then
    t0=$(date +%s.%N)
    (cd "$work" && "$bin" seed synth --offers "$n" >/dev/null 2>&1)
    synth=$(python3 -c "print(f'{$n / ($(date +%s.%N) - $t0):,.0f}')")
    # A catalog of this size is not minutes old in production: vacuumed and analysed, as
    # autovacuum would leave it, rather than measured while autovacuum works through it.
    psql -q -h 127.0.0.1 -U postgres -d "$db" -c "VACUUM (ANALYZE)"
  fi
  start=$(date +%s.%N)
  (cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_STAFF=0 RATE_LIMIT_ANONYMOUS=0 CATALOG_POLL_SECONDS=1 RUST_LOG=warn exec "$bin") 2>"$work/server.log" &
  pid=$!
  until curl -sf "$base/readyz" >/dev/null; do sleep 0.05; done
  ready=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
  rss=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status)
  token=$(cd "$work" && "$bin" keys create --name bench --role editor 2>/dev/null)
  latency=$(python3 - "$port" "$token" <<'PY'
import http.client, json, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port)
def call(query, variables):
    conn.request("POST", "/graphql", json.dumps({"query": query, "variables": variables}),
                 {"content-type": "application/json", "authorization": f"Bearer {token}"})
    body = json.loads(conn.getresponse().read())
    if "errors" in body:
        raise SystemExit(f"error: {body}")
    return body["data"]
o = call('{ offer(slug: "fosse-d-arenberg") { id version } }', {})["offer"]
v, times = o["version"], []
update = "mutation($id: ID!, $v: Int!, $t: String!) { updateOffer(id: $id, expectedVersion: $v, input: { openingHoursText: $t }) { version } }"
for i in range(200):
    t = time.perf_counter()
    v = call(update, {"id": o["id"], "v": v, "t": f"Visites guidées, essai de charge {i}"})["updateOffer"]["version"]
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[99]:.1f} ms | {times[197]:.1f} ms | {times[-1]:.1f} ms")
PY
)
  objects="$work/objects"
  python3 bench/objects.py "$objects" 10000
  before=$(curl -s "$base/readyz" | python3 -c "import json,sys; print(json.load(sys.stdin)['catalog']['offers'])")
  t0=$(date +%s.%N)
  (cd "$work" && "$bin" import datatourisme "$objects" >"$work/import.out" 2>&1)
  t1=$(date +%s.%N)
  rate=$(python3 -c "print(f'{10000 / ($t1 - $t0):,.0f}')")
  # The running server learns of the import through Redis and its poll, and applies it as deltas.
  caught="-"
  for _ in $(seq 1 600); do
    now=$(curl -s "$base/readyz" | python3 -c "import json,sys; print(json.load(sys.stdin)['catalog']['offers'])")
    if [ "$now" -ge $((before + 10000)) ]; then caught=$(python3 -c "print(f'{$(date +%s.%N) - $t1:.2f} s')"); break; fi
    sleep 0.1
  done
  python3 bench/objects.py "$work/next-day" 10000 20
  t0=$(date +%s.%N)
  (cd "$work" && "$bin" import datatourisme "$work/next-day" >"$work/next-day.out" 2>&1)
  next=$(python3 -c "print(f'{10000 / ($(date +%s.%N) - $t0):,.0f}')")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$synth" "$ready" "$rss" "$latency" "$rate" "$caught" "$next"
  kill $pid; wait $pid 2>/dev/null || true
  cleanup
  trap - EXIT
done
