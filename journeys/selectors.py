"""Read-side queries for the API and the admin."""

from __future__ import annotations

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
    """Per stage: runs there now (active), and runs that ever visited it."""
    now_in = dict(
        Run.objects.filter(journey=journey, status=RunStatus.ACTIVE)
        .values_list("stage_key")
        .annotate(n=Count("id"))
        .values_list("stage_key", "n")
    )
    from journeys.models import RunStep

    visited = dict(
        RunStep.objects.filter(run__journey=journey)
        .values_list("stage_key")
        .annotate(n=Count("run_id", distinct=True))
        .values_list("stage_key", "n")
    )
    keys = set(now_in) | set(visited)
    return {k: {"now": now_in.get(k, 0), "visited": visited.get(k, 0)} for k in keys}
