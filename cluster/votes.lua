-- wrk script for `make cluster`: every request is a vote by the next account's
-- X-Session-Token (a thread never shares an account with another). It keeps the
-- receipts of the 201s (written to $CLUSTER_RECEIPTS) and, per second, how many answers
-- were 503, so the run can tell acknowledged votes and seconds of unavailability.
--   wrk ... -s cluster/votes.lua <url> -- <tokens file> <threads> <option id>

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  statuses, receipts, unavailable_seconds = {}, {}, {}
  local tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  local stride, option = tonumber(args[2]), args[3]
  local index, path = id + 1, wrk.path
  request = function()
    local token = tokens[index]
    index = index + stride
    if index > #tokens then index = id + 1 end
    return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Session-Token"] = token,
    }, '{"choices":[' .. option .. ']}')
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 then
    local receipt = string.match(body, '"receipt"%s*:%s*"([^"]+)"')
    if receipt then receipts[#receipts + 1] = receipt end
  elseif status == 503 then
    unavailable_seconds[os.time()] = true
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("CLUSTER_RECEIPTS"), "w")
  local totals, seconds = {}, {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
    for _, receipt in ipairs(thread:get("receipts")) do out:write(receipt, "\n") end
    for second, _ in pairs(thread:get("unavailable_seconds")) do seconds[second] = true end
  end
  out:close()
  local parts, count = {}, 0
  for status, n in pairs(totals) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  for _ in pairs(seconds) do count = count + 1 end
  io.write(string.format('CLUSTER_JSON {"statuses":{%s},"seconds_503":%d,"socket_errors":%d}\n',
    table.concat(parts, ","), count,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
