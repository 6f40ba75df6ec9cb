-- wrk script for bench/served.py: one route, one connection, every answer checked.
--
-- wrk URL -s bench/wrk.lua -- MODE METHOD PATH [STATUS VERSION CSRF] -- then header pairs
--   MODE "get":  the same request every time.
--   MODE "json": PATCH {"status", "version"}; the next version is read from the answer (ItemOut,
--                or the 409's `current`), the status cycles todo → doing → done so every write
--                changes something.
--   MODE "form": the page route's form (csrf_token, version, status) with the same cycle; the
--                version is read from the returned row (`name="version" value="N"`).
-- Header pairs follow the fixed arguments: NAME VALUE NAME VALUE ...
-- done() prints one line "WRK {json}" that bench/served.py reads: 2xx answers, 409s and other
-- statuses are counted here, so a write that conflicted or failed is never taken as throughput.

local cycle = { todo = "doing", doing = "done", done = "todo", na = "doing" }
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  mode, method, path = args[1], args[2], args[3]
  local first = 4
  if mode ~= "get" then
    status, version, csrf = args[4], tonumber(args[5]), args[6]
    first = 7
  end
  for i = first, #args - 1, 2 do
    wrk.headers[args[i]] = args[i + 1]
  end
  ok, conflicts, others = 0, 0, 0
  if mode == "get" then
    fixed = wrk.format(method, path)
  end
end

function request()
  if mode == "get" then
    return fixed
  end
  local next_status = cycle[status]
  local body
  if mode == "json" then
    body = string.format('{"status":"%s","version":%d}', next_status, version)
  else
    body = string.format("csrf_token=%s&version=%d&status=%s", csrf, version, next_status)
  end
  pending = next_status
  return wrk.format(method, path, nil, body)
end

function response(code, headers, body)
  if code >= 200 and code < 300 then
    ok = ok + 1
  elseif code == 409 then
    conflicts = conflicts + 1
  else
    others = others + 1
  end
  if mode ~= "get" then
    local v = body:match('"version":%s*(%d+)') or body:match('name="version" value="(%d+)"')
    if v then
      version = tonumber(v)
    end
    if code >= 200 and code < 300 then
      status = pending
    end
  end
end

function done(summary, latency, requests)
  local t_ok, t_conflicts, t_others = 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_conflicts = t_conflicts + thread:get("conflicts")
    t_others = t_others + thread:get("others")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"duration_us":%d,"ok":%d,"conflicts":%d,"other_status":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, t_ok, t_conflicts, t_others,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
