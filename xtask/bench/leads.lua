-- wrk script: POST a distinct lead per request, as the widget sends it (text/plain JSON).
-- The request is built once per thread with the submission id left out, so each request costs
-- the generator one string join instead of wrk.format's header table and a dozen joins (CPU the
-- generator takes from the server under test: the two share the machine).
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
-- Built on the first request: everything before the id, between its two uses, and after.
local id_prefix, head, middle, tail
local function build()
  id_prefix = string.format("%s-%d-", prefix, tid)
  local before = '{"site":"demo","campaign":"welcome","email":"'
  middle = '@example.com","name":"Bench","submission_id":"'
  tail = '","consent":{"granted":true,"text":"I agree to receive emails.","version":"1"},' ..
    '"page_url":"http://127.0.0.1:8081/","signals":{"visits":2,"page_views":3,"engaged_seconds":90,' ..
    '"max_scroll_percent":60,"paths":["/","/pricing"]}}'
  -- Ids are of one length (the counter has ten digits), so the body's length is known.
  local id_length = #id_prefix + 10
  local length = #before + id_length + #middle + id_length + #tail
  head = "POST /v1/leads HTTP/1.1\r\n" ..
    "Host: " .. wrk.headers["Host"] .. "\r\n" ..
    "Content-Type: text/plain;charset=UTF-8\r\n" ..
    "Origin: http://127.0.0.1:8081\r\n" ..
    "Content-Length: " .. length .. "\r\n\r\n" .. before
end
function request()
  if not head then
    build()
  end
  n = n + 1
  local id = id_prefix .. string.format("%010d", n)
  return head .. id .. middle .. id .. tail
end
