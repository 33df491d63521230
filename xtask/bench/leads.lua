-- wrk script: POST a distinct lead per request, as the widget sends it (text/plain JSON).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
-- `wrk ... -- PREFIX`: a prefix per run keeps every submission id new (no cheap 200 retries).
local prefix = "wrk"
function init(args)
  prefix = args[1] or prefix
end
local n = 0
function request()
  n = n + 1
  local id = string.format("%s-%d-%010d", prefix, tid, n)
  local body = '{"site":"demo","campaign":"welcome","email":"' .. id .. '@example.com","name":"Bench",' ..
    '"submission_id":"' .. id .. '","consent":{"granted":true,"text":"I agree to receive emails.","version":"1"},' ..
    '"page_url":"http://127.0.0.1:8081/","signals":{"visits":2,"page_views":3,"engaged_seconds":90,' ..
    '"max_scroll_percent":60,"paths":["/","/pricing"]}}'
  return wrk.format("POST", "/v1/leads", { ["Content-Type"] = "text/plain;charset=UTF-8", ["Origin"] = "http://127.0.0.1:8081" }, body)
end
