-- Every tile over the territory's bounding box at one zoom (ZOOM), in turn, each connection
-- starting at its own place. Against servers whose caches are off (bench/peers.sh), every
-- request makes its tile. TILE_PATH is the URL of a tile with {z}, {x} and {y}.
local path = os.getenv("TILE_PATH") or "/tiles/offers,footprints,routes,communes/{z}/{x}/{y}.mvt?outside=true"
local z = tonumber(os.getenv("ZOOM") or "12")
local W, S, E, N = 3.28, 50.28, 3.62, 50.52
local function tile(lon, lat)
  local n = 2 ^ z
  local la = math.rad(lat)
  return math.floor((lon + 180) / 360 * n), math.floor((1 - math.log(math.tan(la) + 1 / math.cos(la)) / math.pi) / 2 * n)
end
local x0, y0 = tile(W, N)
local x1, y1 = tile(E, S)
local tiles = {}
for x = x0, x1 do
  for y = y0, y1 do
    tiles[#tiles + 1] = path:gsub("{z}", tostring(z)):gsub("{x}", tostring(x)):gsub("{y}", tostring(y))
  end
end
local i = math.random(#tiles)
request = function()
  i = i + 1
  return wrk.format("GET", tiles[(i % #tiles) + 1])
end
