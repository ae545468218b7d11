"""Journeys' and reports' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from django.db import connection

from core.health import health_gauge_register

# A run is overdue once its due time has passed by more than a beat tick's slack.
OVERDUE_SLACK = "1 minute"


def _scalar(sql: str) -> float:
    with connection.cursor() as cur:
        cur.execute(sql)
        row = cur.fetchone()
    return float(row[0] or 0) if row else 0.0


def runs_overdue_count() -> float:
    return _scalar(
        "SELECT count(*) FROM journeys_run WHERE status = 'active' "
        f"AND due_at < now() - interval '{OVERDUE_SLACK}'"
    )


def runs_oldest_overdue_seconds() -> float:
    return _scalar(
        "SELECT EXTRACT(EPOCH FROM now() - min(due_at)) FROM journeys_run "
        f"WHERE status = 'active' AND due_at < now() - interval '{OVERDUE_SLACK}'"
    )


def reports_fold_lag_seconds() -> float:
    """Seconds since the rollups last moved forward while rows were waiting to be folded (0 when
    every source is folded up to its newest row)."""
    return _scalar(
        """
        SELECT COALESCE(max(EXTRACT(EPOCH FROM now() - c.updated_at)), 0)
        FROM reports_rollupcursor c
        WHERE (c.source = 'message' AND EXISTS (SELECT 1 FROM channels_message m WHERE m.id > c.position))
           OR (c.source = 'event' AND EXISTS (SELECT 1 FROM channels_messageevent e WHERE e.id > c.position))
           OR (c.source = 'run' AND EXISTS (SELECT 1 FROM journeys_run r WHERE r.id > c.position))
           OR (c.source = 'step' AND EXISTS (SELECT 1 FROM journeys_runstep s WHERE s.id > c.position))
           OR (c.source = 'recipient'
               AND EXISTS (SELECT 1 FROM journeys_broadcastrecipient b WHERE b.id > c.position))
        """
    )


def health_register() -> None:
    health_gauge_register(
        name="voyage_journey_runs_overdue",
        help="Journey runs past their due time",
        read=runs_overdue_count,
        unit="runs",
        warn_above=10_000,
        explain="Journeys are behind: check that workers and the beat clock run.",
    )
    health_gauge_register(
        name="voyage_journey_runs_oldest_overdue_seconds",
        help="How late the most overdue journey run is",
        read=runs_oldest_overdue_seconds,
        unit="s",
        warn_above=600,
        fail_above=3600,
        explain="Journey runs are not advancing: check the beat clock (celery beat) and the workers.",
    )
    health_gauge_register(
        name="voyage_reports_fold_lag_seconds",
        help="Time since campaign reports last caught up with new rows",
        read=reports_fold_lag_seconds,
        unit="s",
        warn_above=900,
        fail_above=3600,
        explain="Report figures are stale (reports still read the newest rows live, more slowly): check the beat clock.",
    )
