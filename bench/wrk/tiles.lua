-- Hot composite tiles around the territory at z12 (the cache answers after the first request).
local tiles = {}
for x = 2085, 2088 do
  for y = 1379, 1383 do
    tiles[#tiles + 1] = "/tiles/offers,footprints,routes,communes/12/" .. x .. "/" .. y .. ".mvt"
  end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", tiles[(i % #tiles) + 1])
end
