"""Scheduled behaviour work (beat entry in config/settings/tracking.py). Tasks take no objects."""

from __future__ import annotations

import time

from celery import shared_task

# One tick folds dirty days until none are left or this much time has passed (the next tick goes on).
FOLD_BUDGET_SECONDS = 50


@shared_task(name="analytics.behaviour_rollups_fold")
def behaviour_rollups_fold() -> int:
    from tracking.analytics.behaviour.rollups import rollup_fold_dirty

    folded, started = 0, time.monotonic()
    while time.monotonic() - started < FOLD_BUDGET_SECONDS:
        n = rollup_fold_dirty(limit=20)
        folded += n
        if not n:
            break
    return folded
