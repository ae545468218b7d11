"""Per-source request rate limits, counted in the shared cache (Redis in production)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def rate_limit_hit(*, key: str, limit_per_second: int | None, cost: int = 1) -> float | None:
    """Count `cost` messages against a one-second window. Returns seconds to wait when over the limit."""
    if not limit_per_second:
        return None
    try:
        return _hit(key, limit_per_second, cost)
    except Exception:
        # The limit protects us from floods; losing the counter must not refuse (or fail) good
        # traffic while the events themselves can still be stored, so it fails open, loudly.
        logger.warning("rate limit counter unavailable; letting the request through", exc_info=True)
        return None


def _hit(key: str, limit_per_second: int, cost: int) -> float | None:
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
