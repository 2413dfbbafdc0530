-- The Redis limiter's 'pause' script: close_async/_engine/ratelimit/redis.py runs it.
--
-- Pause the group for ARGV[1] us from now, keeping the later of this and any pause already set (a
-- short reset must not cut a longer pause another process learned). ARGV[3]: the window (us) when
-- Close's waits are whole seconds, rounded up (else 0): then a wait within one window (a longer one
-- is some other limit's, and stands) ends no later than the shared window start plus the window (the
-- rule of ``_limiter.sharper_reset``, here so that every process reads the same start), and no
-- earlier than ARGV[4] (us). Early in a window (under half of it gone) no paced client has spent it
-- yet: the answer is one from the window before, which overtook the first answer of this one, and
-- says nothing about this window. Past the window's end (but within the next one) the answer spoke
-- of a window already over: no pause, since at worst the next request meets one 429, which costs
-- less than everyone waiting a rounded-up second.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'wbegin')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
local wait = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
local wbegin = tonumber(v[3])
if window > 0 and wait <= window and wbegin and now - wbegin < 2 * window then
  if now - wbegin < window / 2 then
    wait = 0
  elseif wbegin + window - now < wait then
    wait = math.max(0, wbegin + window - now)
  end
end
if wait < tonumber(ARGV[4]) then wait = tonumber(ARGV[4]) end
local wanted = now + wait
if wanted > pause then
  pause = wanted
  redis.call('HSET', KEYS[1], 'pause', string.format('%d', pause))
end
local horizon = pause
if tat > horizon then horizon = tat end
if horizon > now then
  redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now) / 1000) + tonumber(ARGV[2]))
end
return math.floor(pause - now)
