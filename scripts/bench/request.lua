-- One fixed request for wrk, from the environment (signed ahead by scripts/bench/sign.py;
-- Callsign accepts a signed request again within its 15-minute date window).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
  wrk.headers["x-ms-date"] = os.getenv("BENCH_DATE")
  wrk.headers["x-ms-content-sha256"] = os.getenv("BENCH_HASH")
end
