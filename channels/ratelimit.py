"""Per-provider send rates: a token bucket in Redis (one Lua script, atomic across workers), or in
process memory when there is no Redis (the demo). A bucket holds up to `burst` tokens and refills
at `rate` tokens per second; a batch takes what is there, and learns how long the rest must wait.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings

LUA_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
local wait = 0
if granted < wanted then
  wait = (math.min(wanted - granted, burst) - tokens) / rate
end
return {granted, tostring(wait)}
"""

_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


@lru_cache(maxsize=1)
def _script() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL).register_script(LUA_TAKE)


def tokens_take(
    *, key: str, wanted: int, rate: float | None, burst: float | None = None
) -> tuple[int, float]:
    """Take up to `wanted` tokens. Returns (granted, seconds until the rest could be granted)."""
    if not rate or rate <= 0 or wanted <= 0:
        return wanted, 0.0
    burst = max(1.0, float(burst or rate))
    if settings.REDIS_URL:
        granted, wait = _script()(keys=[f"voyage:channels:bucket:{key}"], args=[rate, burst, wanted])
        return int(granted), float(wait)
    with _local_lock:
        now = time.monotonic()
        tokens, ts = _local.get(key, (burst, now))
        tokens = min(burst, tokens + (now - ts) * rate)
        granted = min(wanted, int(tokens))
        tokens -= granted
        _local[key] = (tokens, now)
        wait = 0.0 if granted == wanted else (min(wanted - granted, burst) - tokens) / rate
        return granted, wait
