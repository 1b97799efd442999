# Sourced by the bench scripts: installs the load generator (Debian's wrk) when it is missing.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: apt-get install wrk" >&2
    exit 1
  fi
fi

# Creates the PostGIS database $1 holding the four layers of the API at $2 (base URL), loaded
# from its GeoJSON layers by bench/postgis.py, as Martin's table sources expect; $3 is a scratch
# folder. Needs Debian's postgresql-15-postgis-3 (installed when run as root).
load_postgis_layers() {
  local db="$1" api="$2" work="$3"
  if [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
  fi
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "CREATE EXTENSION postgis"
  for layer in offers footprints routes communes; do
    curl -sf "$api/layers/$layer.geojson?outside=true" -o "$work/$layer.geojson"
    python3 bench/postgis.py layer "$layer" "$work/$layer.geojson" >"$work/$layer.sql"
    psql -q -h 127.0.0.1 -U postgres -d "$db" -f "$work/$layer.sql" >/dev/null
    echo "   $layer: $(psql -tA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT count(*) FROM \"$layer\"") features"
  done
}

# Records into folder $1 the answers of the API at $2 (base URL) to the tiles of
# bench/wrk/tiles.lua, as api/examples/ceiling.rs replays them (no Accept-Encoding, as wrk).
record_hot_tiles() {
  mkdir -p "$1"
  for x in 2085 2086 2087 2088; do
    for y in 1379 1380 1381 1382 1383; do
      local path="/tiles/offers,footprints,routes,communes/12/$x/$y.mvt"
      curl -s -o "$1/$x-$y.body" -D "$1/$x-$y.head" "$2$path"
      printf '%s\t%s\t%s\n' "$path" "$x-$y.body" "$x-$y.head" >>"$1/index.tsv"
    done
  done
}
