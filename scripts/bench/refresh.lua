-- Refresh-token rotation for wrk. Every refresh spends its token and answers the next one, so a
-- fixed request cannot do it: each thread keeps a queue of unspent tokens, every request takes
-- one and every response puts its successor back. A connection has one request in flight, so a
-- thread with a token for each of its connections never runs dry.
--
-- BENCH_TOKENS names a file of refresh tokens, one a line, of distinct sessions; thread n of
-- BENCH_THREADS takes every BENCH_THREADS-th line from line n.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = tonumber(os.getenv("BENCH_THREADS"))
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local queue, first, last = {}, 1, 0

function init(args)
  local line = 0
  for token in io.lines(os.getenv("BENCH_TOKENS")) do
    if line % threads == id then
      last = last + 1
      queue[last] = token
    end
    line = line + 1
  end
end

function request()
  -- With the queue empty (a failed refresh lost its token), a token no session has: answered 401
  -- and counted among the failed requests.
  local token = "csr_none"
  if first <= last then
    token = queue[first]
    queue[first] = nil
    first = first + 1
  end
  return wrk.format(nil, nil, nil, '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refreshToken":"(csr_[^"]+)"')
  if token then
    last = last + 1
    queue[last] = token
  end
end
