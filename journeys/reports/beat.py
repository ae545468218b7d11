"""The reports fold tick, installed as a django-celery-beat PeriodicTask after migrate.

It lives in the database so operators can see and pause it in the admin ("Periodic tasks"); an
existing row is left as the operator set it. Reports read rows not folded yet live, so a paused
fold makes reports slower, never wrong.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.beat import periodic_task_ensure

TASK_NAME = "reports-rollups-fold"


def periodic_task_install(sender: Any = None, *, using: str = "default", **kwargs: Any) -> None:
    periodic_task_ensure(
        using=using,
        name=TASK_NAME,
        task="reports.rollups_fold",
        every_seconds=max(5, int(getattr(settings, "REPORTS_FOLD_SECONDS", 30))),
        description="Folds new message results, runs and conversions into the campaign report rollups.",
    )
