"""Periodic tasks that live in the database (django-celery-beat), installed after migrate.

An app whose tick operators should see and pause in the admin ("Periodic tasks") installs it here;
an existing row is left as the operator set it.
"""

from __future__ import annotations


def periodic_task_ensure(*, using: str, name: str, task: str, every_seconds: int, description: str) -> None:
    from django.db import connections
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # `migrate <one app>` on a fresh database runs post_migrate before django-celery-beat has its
    # tables; the full migrate that follows installs the task.
    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return
    schedule, _ = IntervalSchedule.objects.using(using).get_or_create(
        every=every_seconds, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.using(using).get_or_create(
        name=name, defaults={"task": task, "interval": schedule, "description": description}
    )
