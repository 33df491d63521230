-- wrk script: POST a batch of 20 anonymous page-view counters per request.
local events = {}
for i = 0, 19 do
  events[#events + 1] = string.format('{"type":"pageview","path":"/page-%d","referrer_host":"news.example","new_visitor":%s,"new_session":%s}',
    i % 5, tostring(i == 0), tostring(i == 0))
end
local body = '{"site":"demo","events":[' .. table.concat(events, ",") .. ']}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["Origin"] = "http://127.0.0.1:8081"
