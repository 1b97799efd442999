-- Hot composite tiles around the territory at z12 (the cache answers after the first request).
-- TILE_PATH is the URL of a tile with {x} and {y} (default: this API's composite z12 tile), so
-- the same load runs against another tile server (bench/martin.sh).
local path = os.getenv("TILE_PATH") or "/tiles/offers,footprints,routes,communes/12/{x}/{y}.mvt"
local tiles = {}
for x = 2085, 2088 do
  for y = 1379, 1383 do
    tiles[#tiles + 1] = path:gsub("{x}", tostring(x)):gsub("{y}", tostring(y))
  end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", tiles[(i % #tiles) + 1])
end
