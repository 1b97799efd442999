#!/usr/bin/env bash
# Vendors MapLibre GL JS from the npm package into api/assets/maplibre (the map page is served by
# the binary itself, without a CDN). Usage: scripts/update-maplibre.sh [version]
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-5.24.1}"
tmp=$(mktemp -d)
(cd "$tmp" && npm pack "maplibre-gl@${version}" --silent >/dev/null && tar xzf maplibre-gl-*.tgz)
cp "$tmp"/package/dist/{maplibre-gl.js,maplibre-gl.css,LICENSE.txt} api/assets/maplibre/
echo "$version" > api/assets/maplibre/VERSION
rm -rf "$tmp"
echo "MapLibre GL JS $version vendored"
