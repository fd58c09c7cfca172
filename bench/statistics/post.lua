-- wrk script for bench/statistics.sh: POSTs the GeoJSON in the file $STATS_BODY to the
-- path $STATS_PATH, the same request every time.
local path, body

function init(args)
  path = assert(os.getenv("STATS_PATH"), "STATS_PATH")
  local file = assert(io.open(assert(os.getenv("STATS_BODY"), "STATS_BODY"), "r"))
  body = file:read("*a")
  file:close()
end

function request()
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end
