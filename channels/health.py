"""Channels' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from django.db import connection

from core.health import health_gauge_register


def _scalar(sql: str) -> float:
    with connection.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
    return float(row[0] or 0) if row else 0.0


def outbox_due_count() -> float:
    return _scalar(
        "SELECT count(*) FROM channels_message WHERE status IN ('pending', 'deferred') AND due_at <= now()"
    )


def outbox_sending_count() -> float:
    return _scalar("SELECT count(*) FROM channels_message WHERE status = 'sending'")


def outbox_oldest_due_seconds() -> float:
    return _scalar(
        "SELECT EXTRACT(EPOCH FROM now() - min(due_at)) FROM channels_message "
        "WHERE status IN ('pending', 'deferred') AND due_at <= now()"
    )


def partner_deliveries_waiting_count() -> float:
    return _scalar(
        "SELECT count(*) FROM partner_delivery WHERE status = 'pending' AND next_attempt_at <= now()"
    )


def partner_oldest_waiting_seconds() -> float:
    return _scalar(
        "SELECT EXTRACT(EPOCH FROM now() - min(next_attempt_at)) FROM partner_delivery "
        "WHERE status = 'pending' AND next_attempt_at <= now()"
    )


def health_register() -> None:
    health_gauge_register(
        name="voyage_outbox_due",
        help="Messages due to be sent now",
        read=outbox_due_count,
        unit="messages",
        warn_above=100_000,
        explain="The outbox is backing up: check dispatch workers and provider rate limits.",
    )
    health_gauge_register(
        name="voyage_outbox_sending",
        help="Messages leased by a worker (provider call in flight)",
        read=outbox_sending_count,
        unit="messages",
    )
    health_gauge_register(
        name="voyage_outbox_oldest_due_seconds",
        help="How long the oldest due message has waited",
        read=outbox_oldest_due_seconds,
        unit="s",
        warn_above=600,
        fail_above=3600,
        explain="Sending has stopped or is far behind: check dispatch workers, the broker and the provider.",
    )
    health_gauge_register(
        name="voyage_partner_deliveries_waiting",
        help="Partner webhook deliveries due now",
        read=partner_deliveries_waiting_count,
        unit="deliveries",
        warn_above=10_000,
        explain="Partner webhooks are backing up: check workers and whether an endpoint is slow.",
    )
    health_gauge_register(
        name="voyage_partner_oldest_waiting_seconds",
        help="How long the oldest due partner delivery has waited",
        read=partner_oldest_waiting_seconds,
        unit="s",
        warn_above=900,
        fail_above=7200,
        explain="Partner deliveries are not going out: check workers and the endpoint's errors.",
    )
