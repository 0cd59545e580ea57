-- signed.lua with a pause: each connection waits `pause` ms between requests (wrk's delay hook).
-- run with: wrk -t1 -cN -dXs -s paced.lua URL -- FILE PAUSE_MS
local sigs, bodies, n, i, pause = {}, {}, 0, 0, 10
init = function(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    n = n + 1; sigs[n] = line:sub(1, tab - 1); bodies[n] = line:sub(tab + 1)
  end
  pause = tonumber(args[2] or "10")
end
delay = function() return pause end
request = function()
  i = i + 1; if i > n then i = 1 end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = sigs[i]}, bodies[i])
end
