-- Requests signed ahead for many identities (scripts/bench/phases.py), sent in turn, each wrk
-- thread starting at its own place. BENCH_REQUESTS names a file of lines
-- "path<TAB>Authorization<TAB>x-ms-date<TAB>x-ms-content-sha256"; BENCH_BODY is every body.
local requests = {}
local next_request = 1
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
end

-- In init, not at load: wrk sets the Host header (which the signatures cover) just before.
function init(args)
  local body = os.getenv("BENCH_BODY")
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, auth, date, hash = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["Authorization"] = auth,
      ["x-ms-date"] = date,
      ["x-ms-content-sha256"] = hash,
    }, body)
  end
  next_request = (offset * 97) % #requests + 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end
