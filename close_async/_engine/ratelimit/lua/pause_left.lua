-- The Redis limiter's 'pause_left' script: close_async/_engine/ratelimit/redis.py runs it.
--
-- How long the group is still paused (us, 0 when not). KEYS[1]: the group's hash.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
if pause > now then return math.floor(pause - now) end
return 0
