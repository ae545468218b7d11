"""Thin Celery task for partner webhooks; the work is in channels.partner.services."""

from celery import shared_task

from channels.partner.services import deliveries_dispatch


@shared_task(name="partner.deliveries_dispatch", ignore_result=True)
def deliveries_dispatch_task() -> int:
    """Deliver everything due. Woken on commit of each publish; the beat tick runs it every few seconds."""
    return deliveries_dispatch()
