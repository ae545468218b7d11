"""One rate limiter: a token bucket per key, in Redis (one Lua script, atomic across processes), or in
process memory when there is no Redis.

A bucket holds up to `burst` tokens and refills at `rate` tokens per second. A caller takes what it
wants: all of it or nothing (`partial=False`, an API request that is answered 429) or as many as are
there (`partial=True`, a batch of sends that postpones the rest), and learns how long the rest must
wait.

What happens when the counter itself is unreachable is the caller's decision, made explicit with
`fail_open`: True lets everything through (a limit that protects us must not refuse good traffic
that can still be stored), False grants nothing and asks to wait a second (a limit that protects a
partner or a provider's contract must not be exceeded because our Redis blinked). Both are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# ARGV: rate, burst, wanted, now ("" = the Redis server's clock), partial (1/0)
LUA_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.min(wanted, math.floor(tokens))
if ARGV[5] == '0' and granted < wanted then
  granted = 0
end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
local wait = 0
if granted < wanted then
  wait = (math.min(wanted - granted, burst) - tokens) / rate
end
return {granted, tostring(wait)}
"""

# When the counter is unreachable and the caller fails closed: try again after this long.
CLOSED_WAIT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    wait: float  # seconds until what was not granted could be (0 when everything was)


_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


@lru_cache(maxsize=4)
def _script(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).register_script(LUA_TAKE)


def rate_take(
    *,
    key: str,
    wanted: int,
    rate: float | None,
    fail_open: bool,
    burst: float | None = None,
    partial: bool = True,
    now: float | None = None,
) -> Grant:
    """Take up to `wanted` tokens from the bucket `key` (no `rate`: no limit, everything granted).

    `now` (epoch seconds) is the caller's clock, for callers that schedule with a clock of their own;
    by default the Redis server's clock, one for every worker."""
    if not rate or rate <= 0 or wanted <= 0:
        return Grant(wanted, 0.0)
    burst = max(1.0, float(burst or rate))
    try:
        if settings.REDIS_URL:
            granted, wait = _script(settings.REDIS_URL)(
                keys=[f"voyage:ratelimit:{key}"],
                args=[rate, burst, wanted, "" if now is None else repr(now), int(partial)],
            )
            return Grant(int(granted), float(wait))
        return _local_take(key, wanted, rate, burst, partial, time.monotonic() if now is None else now)
    except Exception:
        if fail_open:
            logger.warning("rate limit %s: counter unavailable, letting it through", key, exc_info=True)
            return Grant(wanted, 0.0)
        logger.warning("rate limit %s: counter unavailable, holding back", key, exc_info=True)
        return Grant(0, CLOSED_WAIT_SECONDS)


def _local_take(key: str, wanted: int, rate: float, burst: float, partial: bool, now: float) -> Grant:
    """The same bucket in this process's memory (no Redis: one process is all there is)."""
    with _local_lock:
        tokens, ts = _local.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        granted = min(wanted, int(tokens))
        if not partial and granted < wanted:
            granted = 0
        tokens -= granted
        _local[key] = (tokens, max(now, ts))
        wait = 0.0 if granted == wanted else (min(wanted - granted, burst) - tokens) / rate
        return Grant(granted, wait)
