-- The Redis limiter's 'learn' script: close_async/_engine/ratelimit/redis.py runs it.
--
-- Share what one answer taught. KEYS[1]: the group's hash. ARGV: the learned interval (us,
-- 0 = nothing new), the window (us) when this answer was the first of a new window (else
-- 0), the max wait (us) when Close answered normally (else 0: lifts a longer pause), the
-- expiry margin (ms). The first answer of a window keeps the earliest time any process saw.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
if interval > 0 then redis.call('HSET', KEYS[1], 'ivl', ARGV[1]) end
local window = tonumber(ARGV[2])
if window > 0 then
  local wbegin = tonumber(redis.call('HGET', KEYS[1], 'wbegin'))
  if not wbegin or now - wbegin >= window / 2 then
    redis.call('HSET', KEYS[1], 'wbegin', string.format('%d', now))
  end
end
local lift = tonumber(ARGV[3])
if lift > 0 then
  local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
  if pause - now > lift then redis.call('HSET', KEYS[1], 'pause', string.format('%d', now)) end
end
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + tonumber(ARGV[4]))
end
return 0
