"""The periodic fold (installed as a beat PeriodicTask after migrate; see beat.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.rollups_fold", ignore_result=True)
def rollups_fold_task() -> int:
    from journeys.reports.fold import rollups_fold_until_idle

    return rollups_fold_until_idle(max_passes=20).rows
