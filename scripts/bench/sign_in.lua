-- Sign-in for wrk: each request signs in the next of this thread's share of the built-in
-- accounts bench-0 … bench-(BENCH_ACCOUNTS - 1). Callsign counts a sign-in attempt as a failure
-- until it has succeeded and throttles an account with several in flight, so the load is spread
-- over more accounts than a thread has connections.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = tonumber(os.getenv("BENCH_THREADS"))
local accounts = tonumber(os.getenv("BENCH_ACCOUNTS"))
local password = os.getenv("BENCH_PASSWORD")
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local account

function request()
  account = ((account or id - threads) + threads) % accounts
  return wrk.format(nil, nil, nil,
    '{"username":"bench-' .. account .. '","password":"' .. password .. '"}')
end
