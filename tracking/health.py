"""Tracking's figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from core.health import health_backlog_register
from core.setaside import set_aside_queue_register


def _events_wake() -> None:
    from tracking.processing import events_process_wake

    events_process_wake()


def health_register() -> None:
    # Events processing cannot resolve on its own are set aside (tracking.processing), the rest go on.
    set_aside_queue_register(
        name="events", title="Event processing", model="tracking.Event", wake=_events_wake
    )
    health_backlog_register(
        name="voyage_events_pending",
        what="Events received and not yet resolved to profiles",
        table="tracking_event",
        where="processed_at IS NULL AND set_aside_at IS NULL",
        since="received_at",
        order="id",  # the partial pending index is on id
        unit="events",
        count_warn=50_000,
        count_fail=1_000_000,
        age_warn=300,
        age_fail=1800,
        explain="Processing has stopped or is far behind: look at the worker logs and set-aside events.",
    )
