"""Scheduled acquisition work (beat entries in config/settings/tracking.py). Tasks take no objects."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

# A crashed receiver loses touches only until this sweep: it re-reads the last two days' events
# (inserts are idempotent per event).
SWEEP = timedelta(days=2)


@shared_task(name="analytics.acquisition_refresh")
def acquisition_refresh() -> dict:
    from tracking.analytics.acquisition.attribution import attribution_refresh
    from tracking.analytics.acquisition.touches import touches_extract

    now = timezone.now()
    counts = touches_extract(since=now - SWEEP, until=now + timedelta(minutes=5))
    counts["credits"] = attribution_refresh()
    # The acquisition page's rollup, from the credits just computed (it adds the raw tail after them).
    from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild

    counts["rollup_seconds"] = acquisition_rollup_rebuild().seconds
    return counts


@shared_task(name="analytics.clv_refresh")
def clv_refresh() -> int:
    from tracking.analytics.clv.service import clv_fit

    return clv_fit().pk


@shared_task(name="analytics.acquisition_refold")
def acquisition_refold() -> int:
    """Refold the rollup's days marked dirty (new rates, merges, erasures) — woken after their commit."""
    from tracking.analytics.acquisition.rollup import acquisition_rollup_refold

    return len(acquisition_rollup_refold())
