"""Per-source request rate limits, counted in the shared cache (Redis in production)."""

from __future__ import annotations

import time

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit_per_second: int | None, cost: int = 1) -> float | None:
    """Count `cost` messages against a one-second window. Returns seconds to wait when over the limit."""
    if not limit_per_second:
        return None
    now = time.time()
    window = int(now)
    cache_key = f"ratelimit:{key}:{window}"
    if cache.add(cache_key, cost, timeout=2):
        used = cost
    else:
        try:
            used = cache.incr(cache_key, cost)
        except ValueError:  # expired between add and incr
            cache.add(cache_key, cost, timeout=2)
            used = cost
    if used > limit_per_second:
        return max(0.001, window + 1 - now)
    return None
