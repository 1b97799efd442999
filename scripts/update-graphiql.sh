#!/usr/bin/env bash
# Vendors GraphiQL and what it runs on from their npm packages into api/assets/graphiql (production
# builds; GET /graphql serves them from the binary, so no request leaves the server's origin).
# Usage: scripts/update-graphiql.sh   (versions pinned below; change them here and re-run)
set -euo pipefail
cd "$(dirname "$0")/.."
graphiql=4.1.2          # the last major with a UMD build and CodeMirror (no web workers)
explorer=4.0.6          # @graphiql/plugin-explorer for @graphiql/react 0.34 (GraphiQL 4.1)
react=18.3.1            # the last React with UMD builds
out=api/assets/graphiql
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unpack() { (cd "$tmp" && mkdir -p "$2" && npm pack "$1" --silent >/dev/null && tar xzf "$(ls -t ./*.tgz | head -1)" -C "$2" && rm -f ./*.tgz); }
unpack "graphiql@$graphiql" graphiql
unpack "@graphiql/plugin-explorer@$explorer" explorer
unpack "react@$react" react
unpack "react-dom@$react" react-dom
mkdir -p "$out"
# Source map comments would send browsers asking for files we do not ship.
strip() { sed -e 's|//# sourceMappingURL=.*$||' "$1" > "$2"; }
strip "$tmp/graphiql/package/dist/index.umd.js" "$out/graphiql.js"
cp "$tmp/graphiql/package/dist/style.css" "$out/graphiql.css"
strip "$tmp/explorer/package/dist/index.umd.js" "$out/explorer.js"
cp "$tmp/explorer/package/dist/style.css" "$out/explorer.css"
strip "$tmp/react/package/umd/react.production.min.js" "$out/react.js"
strip "$tmp/react-dom/package/umd/react-dom.production.min.js" "$out/react-dom.js"
{
  echo "graphiql $graphiql (MIT)"
  echo "@graphiql/plugin-explorer $explorer (MIT)"
  echo "react $react (MIT)"
  echo "react-dom $react (MIT)"
} > "$out/VERSIONS"
for p in graphiql explorer react react-dom; do
  lic=$(ls "$tmp/$p/package/" | grep -i '^licen[cs]e' | head -1 || true)
  if [ -n "$lic" ]; then cp "$tmp/$p/package/$lic" "$out/LICENSE.$p.txt"; fi
done
echo "vendored into $out:"; cat "$out/VERSIONS"
