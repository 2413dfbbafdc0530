"""An event-driven worker service for Close: verified webhooks -> Redis Streams -> workers.

Pieces (each a module, ``python -m examples.webhook_worker --help`` runs them):

- ``receiver``: an aiohttp app that verifies each delivery's signature, appends the event to a
  Redis stream (``XADD``, durable once Redis has it) and only then answers 2xx; Close retries
  anything else.
- ``worker``: a consumer in a Redis Streams consumer group (``XREADGROUP``); it acknowledges
  (``XACK``, with ``XDEL``) an entry only after the job's effects, and claims the entries of a
  worker that died (``XPENDING`` then ``XCLAIM`` of entries idle past a threshold), so a
  SIGKILLed worker loses nothing.
- ``store``: the Redis client every piece uses and how they ride out a Redis restart or
  failover (redis-py's ``Retry`` per command, tenacity per step of a worker's loop); the
  receiver answers 503 while Redis is down so Close delivers again.
- ``job``: the effects of one ``activity.call.created`` event, exactly once (see there).
- ``catchup``: walks the event log (``/event/``) back to the last event it fed and appends the
  missing ones to the same stream; the job's dedup by event id absorbs the overlap.

Why Redis Streams rather than arq: no dependency beyond the ``redis`` client already in
close-async's ``[redis]`` extra (the one the shared ``RedisRateLimiter`` uses), and
redelivery of un-acknowledged entries (the pending-entries list plus ``XCLAIM``) is built
into Redis, where arq would need its own job-retry settings to get the same.

Every worker paces through one ``RedisRateLimiter`` (one budget for the API key, whatever the
number of processes).
"""
