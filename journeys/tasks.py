"""Thin Celery tasks for journeys: they take ids and call services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from core.wake import task_wake


@shared_task(name="journeys.advance", ignore_result=True)
def runs_advance_task() -> int:
    """Advance every due run (woken by news; also the beat tick's sweep)."""
    from journeys.engine.runner import runs_advance_due

    return runs_advance_due().transitions


@shared_task(name="journeys.tick", ignore_result=True)
def tick_task() -> None:
    """The periodic tick: scheduled entries, broadcasts, then due runs."""
    from django.utils import timezone

    from journeys.services.clock import due_work_run

    due_work_run(now=timezone.now())


@shared_task(name="journeys.broadcast_send", ignore_result=True)
def broadcast_send_task(broadcast_id: int) -> int:
    """ "Send now" from the admin: this broadcast's due occurrence, without waiting for the tick."""
    from journeys.services.broadcasts import broadcast_send_due

    return broadcast_send_due(broadcast_id=broadcast_id)


@shared_task(name="journeys.events", ignore_result=True)
def events_task(event_ids: list[int]) -> None:
    from journeys.services.news import events_apply

    events_apply(event_ids=event_ids)


@shared_task(name="journeys.membership", ignore_result=True)
def membership_task(audience_id: int, slug: str, entered: list[int], exited: list[int]) -> None:
    from journeys.services.news import membership_apply

    membership_apply(audience_id=audience_id, slug=slug, entered=entered, exited=exited)


def engine_wake() -> None:
    """Ask a worker to advance due runs once the current transaction commits."""
    if getattr(settings, "JOURNEYS_WAKE_ON_COMMIT", True):
        fanout = max(1, getattr(settings, "JOURNEYS_ADVANCE_FANOUT", 1))
        # Robust: the runs are committed; a broker that is down loses only the shortcut (beat sweeps).
        transaction.on_commit(lambda: [task_wake(task=runs_advance_task) for _ in range(fanout)])
