#!/usr/bin/env bash
# Installs the independent clients and validators the tests use, from the package registries:
# npm graphql-http (the GraphQL-over-HTTP audit). Idempotent; quick when already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x tests/js/node_modules/.bin/graphql-http ] && [ ! -d tests/js/node_modules/graphql-http ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
