#!/usr/bin/env bash
# Import throughput on PostgreSQL, builds compared in alternated runs: N DATAtourisme objects
# (copies of the six real test objects under fictional ids, names and hours, `bench/objects.py`)
# imported into a fresh database holding only the territory, no server running ("fresh"); then
# the export of the next day, the same objects with one in 20 newer ("next day"); then that export
# once more, every object unchanged ("same again"). Each round runs every build once, in the
# order given; prints objects/s per import.
# Usage: bench/import.sh N ROUNDS [BIN ...]   (no BIN: this tree's release build)
# e.g. bench/import.sh 3000 3 /tmp/api-before target/release/api
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-3000}"
rounds="${2:-3}"
shift $(($# < 2 ? $# : 2))
if [ "$#" -eq 0 ]; then
  cargo build --release -p api >/dev/null
  set -- "$PWD/target/release/api"
fi
work=$(mktemp -d)
db="caph_import_$$"
cleanup() { rm -rf "$work"; psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; }
trap cleanup EXIT
python3 bench/objects.py "$work/objects" "$n"
python3 bench/objects.py "$work/next-day" "$n" 20
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
for round in $(seq 1 "$rounds"); do
  for bin in "$@"; do
    bin=$(realpath "$bin")
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    (cd "$work" && RUST_LOG=warn "$bin" seed >/dev/null 2>&1)
    for run in "fresh:objects" "next day:next-day" "same again:next-day"; do
      t0=$(date +%s.%N)
      (cd "$work" && RUST_LOG=warn "$bin" import datatourisme "$work/${run#*:}" >"$work/import.out" 2>&1)
      t1=$(date +%s.%N)
      summary=$(head -1 "$work/import.out")
      python3 -c "print(f'round $round  $bin  ${run%%:*}: {$n / ($t1 - $t0):,.0f} objects/s  ($summary)')"
    done
  done
done
