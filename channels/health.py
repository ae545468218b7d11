"""Channels' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from core.health import health_backlog_register, health_gauge_register, sql_scalar
from core.setaside import set_aside_queue_register


def _dispatch_wake() -> None:
    from channels.tasks import dispatch_task
    from core.wake import task_wake

    task_wake(task=dispatch_task)


def _deliveries_wake() -> None:
    from channels.partner.tasks import deliveries_dispatch_task
    from core.wake import task_wake

    task_wake(task=deliveries_dispatch_task)


def set_aside_register() -> None:
    """Messages and partner deliveries their workers cannot handle are set aside; the rest go on."""
    from django.utils import timezone

    set_aside_queue_register(
        name="outbox",
        title="Outbox dispatch",
        model="channels.Message",
        # Due now, whatever time it had: the operator retried it on purpose.
        release=lambda label, ids: _release(label, ids, due_at=timezone.now()),
        wake=_dispatch_wake,
    )
    set_aside_queue_register(
        name="partner_deliveries",
        title="Partner webhook deliveries",
        model="partner.Delivery",
        release=lambda label, ids: _release(label, ids, lease_until=None, next_attempt_at=timezone.now()),
        wake=_deliveries_wake,
    )


def _release(label: str, ids: list[int], **columns: object) -> None:
    from django.apps import apps

    apps.get_model(label).objects.filter(pk__in=ids).update(set_aside_at=None, **columns)


def health_register() -> None:
    set_aside_register()
    health_backlog_register(
        name="voyage_outbox_due",
        what="Messages due to be sent now",
        table="channels_message",
        where="status IN ('pending', 'deferred') AND due_at <= now() AND set_aside_at IS NULL",
        since="due_at",
        unit="messages",
        count_warn=100_000,
        age_warn=600,
        age_fail=3600,
        explain="Sending has stopped or is far behind: check dispatch workers, the broker and the provider.",
    )
    health_gauge_register(
        name="voyage_outbox_sending",
        help="Messages leased by a worker (provider call in flight)",
        read=lambda: sql_scalar("SELECT count(*) FROM channels_message WHERE status = 'sending'"),
        unit="messages",
    )
    health_backlog_register(
        name="voyage_partner_deliveries_waiting",
        what="Partner webhook deliveries due now",
        table="partner_delivery",
        where="status = 'pending' AND next_attempt_at <= now() AND set_aside_at IS NULL",
        since="next_attempt_at",
        unit="deliveries",
        count_warn=10_000,
        age_warn=900,
        age_fail=7200,
        explain="Partner deliveries are not going out: check workers and the endpoint's errors.",
    )
