"""Read-side queries for the API and the admin."""

from __future__ import annotations

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Q

from journeys.models import Journey, Run, RunStatus


def journey_counts(*, journey: Journey) -> dict[str, int]:
    row = Run.objects.filter(journey=journey).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=RunStatus.ACTIVE)),
        completed=Count("id", filter=Q(status=RunStatus.COMPLETED)),
        exited=Count("id", filter=Q(status=RunStatus.EXITED)),
        converted=Count("id", filter=Q(converted_at__isnull=False)),
        holdout=Count("id", filter=Q(holdout=True)),
    )
    return row


def stage_counts(*, journey: Journey) -> dict[str, dict[str, int]]:
    """Per stage: runs there now (active), runs that ever visited it, and how many of those converted."""
    now_in = dict(
        Run.objects.filter(journey=journey, status=RunStatus.ACTIVE)
        .values_list("stage_key")
        .annotate(n=Count("id"))
        .values_list("stage_key", "n")
    )
    from journeys.models import RunStep

    visits = (
        RunStep.objects.filter(run__journey=journey)
        .values("stage_key")
        .annotate(
            visited=Count("run_id", distinct=True),
            converted=Count("run_id", distinct=True, filter=Q(run__converted_at__isnull=False)),
        )
    )
    by_stage = {row["stage_key"]: row for row in visits}
    keys = set(now_in) | set(by_stage)
    return {
        k: {
            "now": now_in.get(k, 0),
            "visited": by_stage.get(k, {}).get("visited", 0),
            "converted": by_stage.get(k, {}).get("converted", 0),
        }
        for k in keys
    }


def active_runs_by_stage(*, journey: Journey, exclude_version_id: int | None = None) -> list[dict]:
    """Stages of earlier versions where runs wait now: what a new version may map (publish form)."""
    rows = (
        Run.objects.filter(journey=journey, status=RunStatus.ACTIVE)
        .exclude(version_id=exclude_version_id)
        .exclude(stage_key="")
        .values("stage_key")
        .annotate(runs=Count("id"), versions=ArrayAgg("version__number", distinct=True))
        .order_by("stage_key")
    )
    return [{"stage_key": r["stage_key"], "runs": r["runs"], "versions": sorted(r["versions"])} for r in rows]
