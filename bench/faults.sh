#!/usr/bin/env bash
# Fault drills against the release binary on the machine's PostgreSQL and Redis, under load:
#   1. Redis stopped for 10 s during a read load: reads go on (degraded), recover when it returns.
#   2. PostgreSQL restarted during a read load: reads never stop, with or without a key checked
#      before; a write during the restart fails cleanly (503 UNAVAILABLE), a write after it succeeds.
#   3. The process killed (SIGKILL) during a DATAtourisme import: no partial offer afterwards, and
#      the import completes when run again.
# It stops and restarts the local services with the machine's own commands. Prints its findings.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/tools.sh
cargo build --release -p api >/dev/null
bin="$PWD/target/release/api"
port=18997
base="http://127.0.0.1:$port"
db="caph_faults_$$"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" REDIS_URL="redis://127.0.0.1:6379"
work=$(mktemp -d)
cleanup() { kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"; psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; }
trap cleanup EXIT
start_redis() { redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null; }
(cd "$work" && BIND=127.0.0.1:$port RATE_LIMIT_ANONYMOUS=0 CATALOG_POLL_SECONDS=1 RUST_LOG=warn exec "$bin") 2>"$work/server.log" &
pid=$!
until curl -sf "$base/readyz" >/dev/null; do sleep 0.1; done
token=$(cd "$work" && "$bin" keys create --name drill --role editor 2>/dev/null)
curl -sf "$base/graphql" -H 'content-type: application/json' -H "authorization: Bearer $token" \
  -d '{"query":"{ totems { name } }"}' >/dev/null # the key is checked once while the database is up

echo "== 1. Redis stopped for 10 s under load (wrk, 32 connections, 25 s)"
wrk -t2 -c32 -d25s -s bench/wrk/graphql-near.lua "$base/graphql" >"$work/wrk1.txt" &
w=$!; t0=$SECONDS
sleep 5; redis-cli -h 127.0.0.1 shutdown nosave >/dev/null 2>&1 || true; echo "   redis stopped at t=$((SECONDS - t0)) s"
sleep 10; start_redis; echo "   redis started at t=$((SECONDS - t0)) s"
wait $w
grep -E "Requests/sec|requests in|Non-2xx|Socket errors" "$work/wrk1.txt" | sed 's/^/   /'
grep -q "Non-2xx" "$work/wrk1.txt" && echo "   RESULT: some reads failed" || echo "   RESULT: no failed read"
sleep 3
echo "   tiles after Redis came back: $(curl -s -o /dev/null -w '%{http_code}' "$base/tiles/communes/10/521/345.mvt")"

echo "== 2. PostgreSQL restarted under load (wrk, 32 connections, 20 s)"
q='{"query":"{ offer(slug: \"musee-municipal\") { id version } }"}'
wrk -t2 -c32 -d20s -s bench/wrk/graphql-near.lua "$base/graphql" >"$work/wrk2.txt" &
w=$!; t0=$SECONDS
sleep 5
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main stop -m fast
echo "   postgres stopped at t=$((SECONDS - t0)) s"
read -r id version < <(curl -s "$base/graphql" -H 'content-type: application/json' -d "$q" | python3 -c "import json,sys; o=json.load(sys.stdin)['data']['offer']; print(o['id'], o['version'])")
mutation="{\"query\":\"mutation(\$id: ID!, \$v: Int!) { updateOffer(id: \$id, expectedVersion: \$v, input: { labels: [\\\"drill\\\"] }) { version } }\",\"variables\":{\"id\":\"$id\",\"v\":$version}}"
took=$(curl -s -o "$work/write.json" -w '%{http_code} in %{time_total} s' "$base/graphql" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "$mutation")
echo "   a write while it is down: $took, $(python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['errors'][0]; print(e['extensions'], e['message'])" "$work/write.json")"
echo "   a read with the key while it is down: $(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' "$base/graphql" -H 'content-type: application/json' -H "authorization: Bearer $token" -d '{"query":"{ totems { name } }"}')"
sleep 3
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
echo "   postgres started at t=$((SECONDS - t0)) s"
wait $w
grep -E "Requests/sec|requests in|Non-2xx|Socket errors" "$work/wrk2.txt" | sed 's/^/   /'
grep -q "Non-2xx" "$work/wrk2.txt" && echo "   RESULT: some reads failed" || echo "   RESULT: no failed read"
sleep 1
echo "   a write after the restart: $(curl -s "$base/graphql" -H 'content-type: application/json' -H "authorization: Bearer $token" -d "$mutation" | head -c 200)"

echo "== 3. SIGKILL during a DATAtourisme import of 3,000 objects, once its first batch has committed"
mkdir -p "$work/flux"
python3 - "$work/flux" <<'PY'
import json, glob, sys, os
src = sorted(glob.glob("tests/fixtures/datatourisme/*.json"))
for i in range(3000):
    d = json.load(open(src[i % len(src)]))
    d["@id"] = d["@id"] + f"-drill-{i}"
    json.dump(d, open(os.path.join(sys.argv[1], f"{i:04d}.json"), "w"))
PY
(cd "$work" && exec "$bin" import datatourisme "$work/flux" >/dev/null 2>&1) &
imp=$!
imported() { psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "SELECT count(*) FROM offers WHERE source = 'datatourisme'"; }
# Killed while the next batches are being written (two at once on PostgreSQL).
until [ "$(imported)" -gt 0 ] || ! kill -0 $imp 2>/dev/null; do sleep 0.02; done
kill -9 $imp 2>/dev/null || true; wait $imp 2>/dev/null || true
check() {
  psql -h 127.0.0.1 -U postgres -d "$db" -tA -c "
    SELECT count(*),
           count(*) FILTER (WHERE kind = 'event' AND NOT EXISTS (SELECT 1 FROM event_occurrences e WHERE e.offer_id = o.id)),
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM revisions r WHERE r.offer_id = o.id))
    FROM offers o WHERE source = 'datatourisme'"
}
echo "   after the kill: imported|events without occurrences|offers without revision = $(check) (whole batches of 500: $(( $(imported) % 500 == 0 )))"
echo "   import again: $(cd "$work" && "$bin" import datatourisme "$work/flux" 2>/dev/null | head -1)"
echo "   afterwards: $(check)"
