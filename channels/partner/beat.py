"""The partner-webhook beat tick, installed as a django-celery-beat PeriodicTask after migrate.

It lives in the database rather than in config/settings so operators can see and pause it in the
admin ("Periodic tasks"); an existing row is left as the operator set it.
"""

from __future__ import annotations

from typing import Any

from config.beat import periodic_task_ensure

TASK_NAME = "partner-deliveries-dispatch"


def periodic_task_install(sender: Any = None, *, using: str = "default", **kwargs: Any) -> None:
    from channels.partner import conf

    periodic_task_ensure(
        using=using,
        name=TASK_NAME,
        task="partner.deliveries_dispatch",
        every_seconds=max(1, int(conf.tick_seconds())),
        description="Sends partner webhook deliveries that are due (retries, missed wake-ups).",
    )
