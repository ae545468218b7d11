"""Tracking's figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from django.db import connection

from core.health import health_gauge_register


def _scalar(sql: str) -> float:
    with connection.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
    return float(row[0] or 0) if row else 0.0


def events_pending_count() -> float:
    return _scalar("SELECT count(*) FROM tracking_event WHERE processed_at IS NULL")


def events_pending_oldest_seconds() -> float:
    # Oldest by id, on the partial pending index: one index probe however long the backlog is.
    return _scalar(
        "SELECT EXTRACT(EPOCH FROM now() - received_at) FROM tracking_event "
        "WHERE processed_at IS NULL ORDER BY id LIMIT 1"
    )


def health_register() -> None:
    health_gauge_register(
        name="voyage_events_pending",
        help="Events received and not yet resolved to profiles",
        read=events_pending_count,
        unit="events",
        warn_above=50_000,
        fail_above=1_000_000,
        explain="Ingestion is ahead of processing: check that workers run (celery worker) and are not failing.",
    )
    health_gauge_register(
        name="voyage_events_pending_oldest_seconds",
        help="Age of the oldest event not yet processed",
        read=events_pending_oldest_seconds,
        unit="s",
        warn_above=300,
        fail_above=1800,
        explain="Processing has stopped or is far behind: look at the worker logs and set-aside events.",
    )
