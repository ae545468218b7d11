"""Journeys' and reports' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from core.health import health_backlog_register, health_gauge_register, sql_scalar

# A run is overdue once its due time has passed by more than a beat tick's slack.
OVERDUE_SLACK = "1 minute"


def reports_fold_lag_seconds() -> float:
    """Seconds since the rollups last moved forward while rows were waiting to be folded (0 when
    every source is folded up to its newest row)."""
    return sql_scalar(
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
    health_backlog_register(
        name="voyage_journey_runs_overdue",
        what="Journey runs past their due time",
        table="journeys_run",
        where=f"status = 'active' AND due_at < now() - interval '{OVERDUE_SLACK}'",
        since="due_at",
        unit="runs",
        count_warn=10_000,
        age_warn=600,
        age_fail=3600,
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
