"""The partner-webhook beat tick, installed as a django-celery-beat PeriodicTask after migrate.

It lives in the database rather than in config/settings so operators can see and pause it in the
admin ("Periodic tasks"); an existing row is left as the operator set it.
"""

from __future__ import annotations

from typing import Any

TASK_NAME = "partner-deliveries-dispatch"


def periodic_task_install(sender: Any = None, *, using: str = "default", **kwargs: Any) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from channels.partner import conf

    every = max(1, int(conf.tick_seconds()))
    schedule, _ = IntervalSchedule.objects.using(using).get_or_create(
        every=every, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.using(using).get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "partner.deliveries_dispatch",
            "interval": schedule,
            "description": "Sends partner webhook deliveries that are due (retries, missed wake-ups).",
        },
    )
