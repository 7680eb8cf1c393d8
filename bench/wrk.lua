-- wrk script for bench/run.py: counts answers by status and, in "vote" mode, POSTs a
-- vote with the next account's X-Session-Token, so each request is a different fan.
--
--   wrk ... -s bench/wrk.lua <url> -- get
--   wrk ... -s bench/wrk.lua <url> -- post      (an empty JSON object, for the baselines)
--   wrk ... -s bench/wrk.lua <url> -- vote <tokens file> <threads> <option id>[,<option id>...]
--
-- With one option id every vote goes to that option (vote_hot); with several, each
-- thread takes them in turn (vote_spread).
--
-- Each thread has its own Lua state (see wrk's SCRIPTING): setup() runs in the main
-- state and keeps a table of the threads, init() and request()/response() run in each
-- thread, and done() (main state again) reads every thread's counters with thread:get
-- and prints one line "BENCH_JSON {...}" for run.py. In vote mode the receipts of the
-- 201 answers are written, one a line, to the file named by $BENCH_RECEIPTS.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1] or "get"
  statuses = {}
  receipts = {}
  sent = 0
  if mode == "post" then
    local body = wrk.format("POST", wrk.path, {
      ["Content-Type"] = "application/json",
      ["User-Agent"] = "encore-bench (wrk)",
    }, "{}")
    request = function()
      return body
    end
    return
  end
  if mode ~= "vote" then
    return
  end
  local tokens = {}
  for line in io.lines(args[2]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  local stride = tonumber(args[3])
  local options = {}
  for option in string.gmatch(args[4], "%d+") do
    options[#options + 1] = option
  end
  -- Thread k takes tokens k+1, k+1+stride, ...: no two threads share an account.
  -- Past the end of the file the tokens start over, and those second votes are
  -- refused (409 already_voted). Before the run wrk calls request() once on the
  -- first thread to check the request it makes; that call is not sent, so it neither
  -- counts as sent nor uses up its token.
  local index = id + 1
  local checking = id == 0
  local path = wrk.path
  request = function()
    local token = tokens[index]
    local option = options[(sent % #options) + 1]
    if checking then
      checking = false
    else
      index = index + stride
      if index > #tokens then
        index = id + 1
      end
      sent = sent + 1
    end
    return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["User-Agent"] = "encore-bench (wrk)",
      ["X-Session-Token"] = token,
    }, '{"choices":[' .. option .. "]}")
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 201 and mode == "vote" then
    local receipt = string.match(body, '"receipt"%s*:%s*"([^"]+)"')
    if receipt then
      receipts[#receipts + 1] = receipt
    end
  end
end

function done(summary, latency, requests)
  local statuses_total = {}
  local sent_total = 0
  local receipt_count = 0
  local out = nil
  local receipts_path = os.getenv("BENCH_RECEIPTS")
  if receipts_path and #receipts_path > 0 then
    out = io.open(receipts_path, "w")
  end
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      statuses_total[status] = (statuses_total[status] or 0) + count
    end
    sent_total = sent_total + thread:get("sent")
    for _, receipt in ipairs(thread:get("receipts")) do
      receipt_count = receipt_count + 1
      if out then
        out:write(receipt, "\n")
      end
    end
  end
  if out then
    out:close()
  end
  local parts = {}
  for status, count in pairs(statuses_total) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local e = summary.errors
  io.write(
    string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
        .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
        .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d},'
        .. '"statuses":{%s},"sent":%d,"receipts":%d}\n',
      summary.requests,
      summary.duration,
      summary.bytes,
      e.connect,
      e.read,
      e.write,
      e.status,
      e.timeout,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(99),
      latency.mean,
      latency.max,
      table.concat(parts, ","),
      sent_total,
      receipt_count
    )
  )
end
