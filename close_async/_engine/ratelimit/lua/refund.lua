-- The Redis limiter's 'refund' script: close_async/_engine/ratelimit/redis.py runs it.
--
-- Give back a reserved slot whose acquire was cancelled, but only when no later reservation
-- was stacked on it (otherwise its slot stays unused: a little slower, never faster).
local v = redis.call('HGET', KEYS[1], 'tat')
if v and v == ARGV[1] then
  redis.call('HSET', KEYS[1], 'tat', string.format('%d', tonumber(v) - tonumber(ARGV[2])))
  return 1
end
return 0
