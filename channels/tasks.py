"""Thin Celery tasks for channels; the work is in channels.dispatch."""

from celery import shared_task

from channels.dispatch import leases_sweep, messages_dispatch


@shared_task(name="channels.dispatch", ignore_result=True)
def dispatch_task() -> int:
    """Send everything due. Woken on commit of each enqueue; also run by the beat tick."""
    return messages_dispatch().claimed


@shared_task(name="channels.lease_sweep", ignore_result=True)
def lease_sweep_task() -> int:
    return leases_sweep()
