"""Journeys' and reports' figures for System health and Prometheus (registered in core.health)."""

from __future__ import annotations

from django.db import transaction

from core.health import health_backlog_register, health_gauge_register, sql_scalar
from core.setaside import set_aside_queue_register

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


def _advance_wake() -> None:
    from core.wake import task_wake
    from journeys.tasks import runs_advance_task

    task_wake(task=runs_advance_task)


def _fold_wake() -> None:
    from core.wake import task_wake
    from journeys.reports.tasks import rollups_fold_task

    task_wake(task=rollups_fold_task)


def _fold_mark(label: str, ids: list[int]) -> None:
    from journeys.reports.fold import fold_rows_set_aside

    fold_rows_set_aside(label=label, ids=ids)


def _fold_release(label: str, ids: list[int]) -> None:
    from journeys.reports.fold import fold_rows_release

    fold_rows_release(label=label, ids=ids)


def set_aside_register() -> None:
    """Runs the engine cannot advance, and rows the report fold cannot fold, are set aside."""
    set_aside_queue_register(
        name="journey_runs",
        title="Journey runs",
        model="journeys.Run",
        release_also={"lease_until": None, "lease_owner": ""},
        wake=_advance_wake,
    )
    set_aside_queue_register(
        name="report_folds",
        title="Report folds",
        model="channels.Message",
        mark=_fold_mark,
        release=_fold_release,
        wake=_fold_wake,
    )
    set_aside_queue_register(
        name="onsite_submissions",
        title="On-site form submissions",
        model="onsite.Submission",
        wake=_submissions_wake,
    )


def _submissions_wake() -> None:
    from journeys.onsite.services import submissions_apply

    transaction.on_commit(submissions_apply)


def health_register() -> None:
    set_aside_register()
    health_backlog_register(
        name="voyage_journey_runs_overdue",
        what="Journey runs past their due time",
        table="journeys_run",
        where=f"status = 'active' AND due_at < now() - interval '{OVERDUE_SLACK}' AND set_aside_at IS NULL",
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
