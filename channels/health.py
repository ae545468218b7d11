"""Channels' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from core.health import health_backlog_register, health_gauge_register, sql_scalar


def health_register() -> None:
    health_backlog_register(
        name="voyage_outbox_due",
        what="Messages due to be sent now",
        table="channels_message",
        where="status IN ('pending', 'deferred') AND due_at <= now()",
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
        where="status = 'pending' AND next_attempt_at <= now()",
        since="next_attempt_at",
        unit="deliveries",
        count_warn=10_000,
        age_warn=900,
        age_fail=7200,
        explain="Partner deliveries are not going out: check workers and the endpoint's errors.",
    )
