-- The Redis limiter's 'reserve' script: close_async/_engine/ratelimit/redis.py runs it.
--
-- Reserve the next slot. KEYS[1]: the group's hash; KEYS[2] (optional): the organization's.
-- ARGV: interval (us; 0 = not known here), burst, expiry margin (ms), max wait (us),
-- the organization's interval and burst, the spacing of probes while no process knows the
-- limit (us). Probes keep their own spacing (``ptat``) and take no slot of the learned pace,
-- so a probe reserved far ahead does not hold back the processes that learned the limit.
-- Returns {wait_us, token, org_token, interval_us, shared_us, pause_left_us}: how long until
-- the slot, the new tats, the group's spacing used (for a refund), the one learned by any
-- process and how long the group is still paused by Close; or
-- {-1, pause_left_us} when the group is paused for longer than max wait (nothing reserved).
-- A pause moves tat to pause + tolerance, so the first slot after it is at the pause and the
-- following ones are spaced one interval apart: no burst fires the moment it ends. Two
-- budgets: the slot is the later of the two GCRA slots, and each tat moves on from it.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local margin = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause', 'ivl', 'ptat')
local tat = tonumber(v[1]) or now
local pause = tonumber(v[2]) or 0
if pause - now > tonumber(ARGV[4]) then return {-1, math.floor(pause - now)} end
local interval = tonumber(ARGV[1])
local shared = tonumber(v[3]) or 0
if shared > interval then interval = shared end
local probe = interval <= 0
if probe then interval = 0 end
local tau = (tonumber(ARGV[2]) - 1) * interval
if tat < now then tat = now end
if pause + tau > tat then tat = pause + tau end
local go = tat - tau
if go < now then go = now end
local otat = 0
local ointerval = 0
if #KEYS > 1 then
  ointerval = tonumber(ARGV[5])
  otat = tonumber(redis.call('HGET', KEYS[2], 'tat')) or now
  if otat < now then otat = now end
  local ogo = otat - (tonumber(ARGV[6]) - 1) * ointerval
  if ogo > go then go = ogo end
end
local horizon = 0
if probe then
  local ptat = tonumber(v[4]) or now
  if ptat > go then go = ptat end
  horizon = go + tonumber(ARGV[7])
  redis.call('HSET', KEYS[1], 'ptat', string.format('%d', horizon))
end
if go > tat then tat = go end
local new_tat = tat + interval
local token = string.format('%d', new_tat)
redis.call('HSET', KEYS[1], 'tat', token)
if new_tat > horizon then horizon = new_tat end
if pause > horizon then horizon = pause end
redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now) / 1000) + margin)
local otoken = ''
if #KEYS > 1 then
  if go > otat then otat = go end
  otat = otat + ointerval
  otoken = string.format('%d', otat)
  redis.call('HSET', KEYS[2], 'tat', otoken)
  redis.call('PEXPIRE', KEYS[2], math.floor((otat - now) / 1000) + margin)
end
return {math.floor(go - now), token, otoken, interval, shared, math.floor(pause - now)}
