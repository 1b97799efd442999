-- A mixed load: GraphQL queries, tiles, layers, QR resolutions and a few writes (1 in 100).
-- The requests come from the file named by the environment variable MIXED_REQUESTS, one per
-- line: "METHOD<TAB>PATH<TAB>BODY<TAB>AUTH" (BODY and AUTH may be empty); the line with an AUTH
-- is the write (`createOffer`, a draft). With PUBLISH=1 each write puts its offer at a random
-- point of the territory and the connection's next request publishes it (`publishOffer`), so
-- the writes change the public catalog and the maps over them, as an editor's work does.
local reqs = {}
local counter = 0
local token = nil
local write_at = nil
local pending = nil
local publish = os.getenv("PUBLISH") == "1"
local json = { ["Content-Type"] = "application/json" }

local function split(line)
  local parts = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do parts[#parts + 1] = field end
  return parts
end

init = function(args)
  for line in io.lines(os.getenv("MIXED_REQUESTS")) do
    local p = split(line)
    local headers = { ["Content-Type"] = "application/json" }
    if p[4] ~= nil and p[4] ~= "" then
      headers["Authorization"] = "Bearer " .. p[4]
      token = p[4]
      write_at = #reqs + 1
    end
    local body = nil
    if p[3] ~= nil and p[3] ~= "" then body = p[3] end
    reqs[#reqs + 1] = wrk.format(p[1], p[2], headers, body)
  end
  json["Authorization"] = "Bearer " .. (token or "")
  math.randomseed(os.time() + (args and #args or 0))
end

request = function()
  if pending ~= nil then
    local id = pending
    pending = nil
    local body = '{"query":"mutation($id: ID!) { publishOffer(id: $id, expectedVersion: 1) { id } }","variables":{"id":"' .. id .. '"}}'
    return wrk.format("POST", "/graphql", json, body)
  end
  counter = counter + 1
  local i = (counter % #reqs) + 1
  if publish and i == write_at then
    local lon = 3.25 + math.random() * 0.35
    local lat = 50.25 + math.random() * 0.25
    local body = '{"query":"mutation($i: OfferInput!) { createOffer(input: $i) { id } }","variables":{"i":{"kind":"EVENT","name":{"fr":"Charge"},"location":{"lat":' .. lat .. ',"lon":' .. lon .. '}}}}'
    return wrk.format("POST", "/graphql", json, body)
  end
  return reqs[i]
end

-- Defined only when publishing: with a response function wrk hands every body to Lua, which
-- costs the client (on the server's cores) much of its time.
if publish then
  response = function(status, headers, body)
    local id = body:match('"createOffer":{"id":"([%w%-]+)"')
    if id ~= nil then pending = id end
  end
end
