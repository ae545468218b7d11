"""Partner-webhook settings, read from Django settings with safe defaults.

Read at call time (not import time) so `override_settings` in tests and per-deployment settings apply.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings

# Seconds to wait after each failed attempt: attempt 1 is immediate, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h; a delivery that fails its 8th attempt is dead. (Svix's published schedule.)
RETRY_SCHEDULE: tuple[int, ...] = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)


def allow_private() -> bool:
    """Allow destinations on private, loopback and link-local addresses (tests, on-premise setups).

    The Django setting wins; without it, the PARTNER_WEBHOOKS_ALLOW_PRIVATE environment variable.
    """
    value = getattr(settings, "PARTNER_WEBHOOKS_ALLOW_PRIVATE", None)
    if value is None:
        value = os.environ.get("PARTNER_WEBHOOKS_ALLOW_PRIVATE", "").strip().lower() in (
            "1",
            "true",
            "yes",
            "on",
        )
    return bool(value)


def disable_after() -> timedelta:
    """An endpoint failing without a single success for this long is disabled."""
    return timedelta(days=float(getattr(settings, "PARTNER_WEBHOOKS_DISABLE_AFTER_DAYS", 5)))


def retry_schedule() -> tuple[int, ...]:
    return tuple(getattr(settings, "PARTNER_WEBHOOKS_RETRY_SCHEDULE", RETRY_SCHEDULE))


def retry_jitter() -> float:
    """Up to this fraction is added to each retry delay, so failing endpoints are not hit in lockstep."""
    return float(getattr(settings, "PARTNER_WEBHOOKS_RETRY_JITTER", 0.1))


def max_retry_after() -> int:
    """A partner's Retry-After is honoured up to this many seconds."""
    return int(getattr(settings, "PARTNER_WEBHOOKS_MAX_RETRY_AFTER", 24 * 3600))


def connect_timeout() -> float:
    return float(getattr(settings, "PARTNER_WEBHOOKS_CONNECT_TIMEOUT", 5.0))


def read_timeout() -> float:
    return float(getattr(settings, "PARTNER_WEBHOOKS_READ_TIMEOUT", 15.0))


def lease() -> timedelta:
    """How long a claimed delivery is reserved for one worker; longer than one send can take."""
    return timedelta(seconds=float(getattr(settings, "PARTNER_WEBHOOKS_LEASE_SECONDS", 120)))


def batch_size() -> int:
    return int(getattr(settings, "PARTNER_WEBHOOKS_BATCH_SIZE", 50))


def rotation_overlap() -> timedelta:
    """After a rotation the previous secret keeps signing (second signature) for this long."""
    return timedelta(hours=float(getattr(settings, "PARTNER_WEBHOOKS_ROTATION_OVERLAP_HOURS", 24)))


def tick_seconds() -> float:
    return float(getattr(settings, "PARTNER_WEBHOOKS_TICK_SECONDS", 5.0))
