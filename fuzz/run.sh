#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 300) with libFuzzer through cargo fuzz, seeding the
# corpora from the project's real data. This machine has only a stable toolchain: RUSTC_BOOTSTRAP
# lets cargo fuzz pass its -Z flags, and `-s none` skips AddressSanitizer (not shipped for stable).
# An input that runs over 10 s is a finding too (libFuzzer writes it as a timeout artifact).
# Usage: fuzz/run.sh [seconds] [target ...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(graphql_request graphql_websocket geojson_geometry tile_request opening_hours datatourisme_object)
mkdir -p corpus/geojson_geometry corpus/tile_request corpus/opening_hours corpus/datatourisme_object \
  corpus/graphql_request corpus/graphql_websocket
python3 - <<'PY'
import json, glob, os
n = 0
for f in sorted(glob.glob("../seed/data/caph-unesco-*.geojson"))[:4]:
    for feat in json.load(open(f))["features"][:5]:
        open(f"corpus/geojson_geometry/seed{n}.json", "w").write(json.dumps(feat["geometry"])); n += 1
for i, f in enumerate(sorted(glob.glob("../tests/fixtures/datatourisme/*.json"))):
    open(f"corpus/datatourisme_object/fixture{i}.json", "w").write(open(f).read())
for i, s in enumerate(["Mo-Fr 10:00-18:00; Sa 10:00-12:00", "24/7", "2024 Jul 01-2024 Aug 31 Fr 16:30-18:00", "PH off", "sunrise-sunset"]):
    open(f"corpus/opening_hours/h{i}", "w").write(s)
for i, s in enumerate(["offers,footprints/14/8347/5529.mvt", "communes/0/0/0", "3.4,50.3,3.5,50.4"]):
    open(f"corpus/tile_request/t{i}", "w").write(s)
PY
logs="${FUZZ_LOGS:-$(mktemp -d)}"
mkdir -p "$logs"
# Inputs that once crashed or hung a target stay in its corpus.
for d in regressions/*/; do cp "$d"* "corpus/$(basename "$d")/"; done
# The GraphQL targets take structured input (arbitrary): large documents need room to grow.
max_len() { case "$1" in graphql_*) echo "-max_len=16384" ;; *) echo "" ;; esac; }
failed=()
for t in "${targets[@]}"; do
  echo "== $t: build (log: $logs/$t.build.log)"
  # The build first, on its own: a build that fails is not a finding, but the run fails.
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz build "$t" -s none >"$logs/$t.build.log" 2>&1; then
    echo "   the build failed: see $logs/$t.build.log"; failed+=("$t (build)"); continue
  fi
  echo "== $t for ${secs} s (whole log: $logs/$t.log)"
  # shellcheck disable=SC2046
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -s none -- -max_total_time="$secs" -rss_limit_mb=4096 -timeout=10 $(max_len "$t") \
    -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    echo "   the run stopped on a finding"; failed+=("$t (finding)")
  fi
  grep -E "^#[0-9]+.*(DONE|pulse)|Done [0-9]+ runs|SUMMARY|panicked|crash-|ERROR|stat::number_of_executed_units|stat::peak_rss" \
    "$logs/$t.log" | tail -6 || true
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"; exit 1
fi
