-- wrk script for bench/lib/wrk.ts (wrk 4, one thread).
--
-- BENCH_REQUESTS: a file of complete raw HTTP/1.1 requests separated by NUL bytes. Requests are
--   sent in turn, so the server sees every distinct subject token (or bearer token) in the file.
-- BENCH_DELAY_MS: when set, each connection waits a random 0.5-1.5 x this many milliseconds after
--   an answer before it sends the next request: evenly paced load at a chosen rate, with no burst
--   at the start of each second and the connections out of step with each other. wrk times each
--   request from its write, so the pause is not counted as latency.
-- done() prints one line "BENCH_RESULT {json}" with the counts and the latency percentiles (us).

local requests = {}
local next_index = 1
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")

local function load_requests()
  local path = os.getenv("BENCH_REQUESTS")
  if not path then error("BENCH_REQUESTS is not set") end
  local file = assert(io.open(path, "rb"))
  local content = file:read("*a")
  file:close()
  for raw in string.gmatch(content, "([^%z]+)") do
    requests[#requests + 1] = raw
  end
  if #requests == 0 then error("BENCH_REQUESTS holds no request") end
end

function init(args)
  load_requests()
  math.randomseed(os.time())
  -- Each thread starts at a different place in the list.
  next_index = math.random(#requests)
end

function request()
  local raw = requests[next_index]
  next_index = next_index % #requests + 1
  return raw
end

if delay_ms then
  function delay()
    -- wrk takes whole milliseconds: round at random so the mean stays delay_ms.
    return math.floor(delay_ms * (0.5 + math.random()) + math.random())
  end
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.2f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
