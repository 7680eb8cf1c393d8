-- wrk script for `make soak` (cluster/soak.py): mixed fan traffic. Of every ten
-- requests of a thread, four are votes (by the next account's X-Session-Token, in a
-- poll that allows 20 a day), two read the poll (API), one the poll's HTML page, two
-- the live results, one looks up a receipt this thread was given (results when it has
-- none yet). Prints one SOAK_JSON line: statuses and latency percentiles (ms).
--   wrk ... -s cluster/soak.lua http://127.0.0.1:<port> -- <tokens file> <threads> <slug> <option id>

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  local tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  local stride, slug, option = tonumber(args[2]), args[3], args[4]
  local index, turn, receipts = id + 1, 0, {}
  local poll_api = "/api/v1/polls/" .. slug .. "/"
  local poll_page = "/polls/" .. slug .. "/"
  local results = poll_api .. "results/"
  local vote = poll_api .. "votes/"
  local body = '{"choices":[' .. option .. ']}'
  keep_receipt = function(receipt)
    receipts[(#receipts % 200) + 1] = receipt
  end
  request = function()
    turn = turn % 10 + 1
    if turn <= 4 then
      local token = tokens[index]
      index = index + stride
      if index > #tokens then index = id + 1 end
      return wrk.format("POST", vote, {
        ["Content-Type"] = "application/json",
        ["X-Session-Token"] = token,
      }, body)
    elseif turn <= 6 then
      return wrk.format("GET", poll_api)
    elseif turn == 7 then
      return wrk.format("GET", poll_page)
    elseif turn <= 9 or #receipts == 0 then
      return wrk.format("GET", results)
    end
    return wrk.format("GET", "/api/v1/receipts/" .. receipts[math.random(#receipts)] .. "/")
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local receipt = string.match(body, '"receipt"%s*:%s*"([^"]+)"')
    if receipt then keep_receipt(receipt) end
  end
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local parts = {}
  for status, n in pairs(totals) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  local errors = summary.errors
  io.write(string.format(
    'SOAK_JSON {"requests":%d,"seconds":%.3f,"statuses":{%s},"socket_errors":%d,' ..
    '"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    summary.requests, summary.duration / 1e6, table.concat(parts, ","),
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
