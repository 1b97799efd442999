-- A mixed load: GraphQL queries, tiles, layers, QR resolutions and a few writes (1 in 100).
-- The requests come from the file named by the environment variable MIXED_REQUESTS, one per
-- line: "METHOD<TAB>PATH<TAB>BODY<TAB>AUTH" (BODY and AUTH may be empty).
local reqs = {}
local counter = 0

local function split(line)
  local parts = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do parts[#parts + 1] = field end
  return parts
end

init = function(args)
  for line in io.lines(os.getenv("MIXED_REQUESTS")) do
    local p = split(line)
    local headers = { ["Content-Type"] = "application/json" }
    if p[4] ~= nil and p[4] ~= "" then headers["Authorization"] = "Bearer " .. p[4] end
    local body = nil
    if p[3] ~= nil and p[3] ~= "" then body = p[3] end
    reqs[#reqs + 1] = wrk.format(p[1], p[2], headers, body)
  end
end

request = function()
  counter = counter + 1
  return reqs[(counter % #reqs) + 1]
end
