#!/usr/bin/env bash
# The whole test suite: installs the independent checkers it uses, then runs every test.
# PostgreSQL and Redis tests use TEST_POSTGRES_URL / TEST_REDIS_URL (default: the local services)
# and skip with a message when those are unreachable, unless CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-tools.sh
cargo test --workspace "$@"
