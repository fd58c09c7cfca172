-- wrk script for bench/tiles.sh: cycles through the request paths (one per line) in the
-- file named by $TILES_PATHS, so every server gets the same tiles in the same order.
-- A line "PATH<TAB>bytes=A-B" sends that Range header (the workerd floor's /objects reads).
local paths = {}
local next_index = 0

function init(args)
  local file = assert(io.open(os.getenv("TILES_PATHS"), "r"))
  for line in file:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. os.getenv("TILES_PATHS"))
end

function request()
  next_index = next_index % #paths + 1
  local path, range = paths[next_index]:match("^([^\t]*)\t(.*)$")
  if path then
    return wrk.format("GET", path, { ["Range"] = range })
  end
  return wrk.format("GET", paths[next_index])
end
