-- wrk script for bench/voting.py: each request casts one ballot with the next unused
-- credential. Bodies come one JSON per line from the file given as the first argument;
-- wrk thread t of T sends lines t, t+T, t+2T, ... so no credential is sent twice.
-- Each voter comes from an address of their own, as a load balancer in front of the city's
-- servers reports it in X-Forwarded-For (the benchmark trusts one proxy), so the per-address
-- throttle sees one cast per address, as it would in a real election.
-- An optional third argument is a voter's pause between ballots in milliseconds (drawn
-- uniformly from half to one and a half times it, so connections do not fall into step):
-- each connection is then a client that casts, pauses and casts again, which offers about
-- connections / (pause + latency) ballots a second instead of as many as the server takes.
-- After the run, prints one JSON line the benchmark parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  step = tonumber(args[2])
  pause = tonumber(args[3] or "0")
  math.randomseed(tid + 1)
  nxt = tid + 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[nxt]
  if body == nil then
    body = bodies[1] -- out of credentials: a used one, answered 403 and counted as an error
  end
  wrk.headers["X-Forwarded-For"] = string.format(
    "10.%d.%d.%d", math.floor(nxt / 65536) % 256, math.floor(nxt / 256) % 256, nxt % 256)
  nxt = nxt + step
  return wrk.format(nil, nil, nil, body)
end

function delay()
  if pause <= 0 then
    return 0
  end
  return math.floor(pause * (0.5 + math.random()))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
