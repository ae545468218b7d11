"""Thin Celery tasks for tracking; the work is in tracking.processing."""

from celery import shared_task

from tracking.processing import events_process_pending, events_process_wake_reset


@shared_task(name="tracking.events_process", ignore_result=True)
def events_process_task() -> int:
    """Resolve every pending event. Woken on commit of ingests (debounced); also run by the beat tick."""
    events_process_wake_reset()
    return events_process_pending().events
