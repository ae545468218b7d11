"""What journeys do with news from the floors below: events processed, audience entries and exits,
merged and erased profiles. Entries are created, goals recorded, and waiting runs made due; the engine
does the rest.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from journeys import partner_events
from journeys.engine.core import entry_matches_event, goal_matches, watched_event_names
from journeys.engine.facts import audience_slugs
from journeys.engine.runner import runs_wake
from journeys.models import Journey, JourneyStatus, JourneyVersion, Run, RunStatus, RunStep
from journeys.services.entry import EntryCandidate, runs_enroll
from journeys.versions_cache import definition_of
from tracking.models import Event

logger = logging.getLogger(__name__)


def _live_journeys() -> list[tuple[Journey, dict]]:
    journeys = Journey.objects.filter(status=JourneyStatus.ACTIVE, live_version__isnull=False)
    return [(j, definition_of(j.live_version_id)) for j in journeys]


def _running_versions() -> list[tuple[JourneyVersion, dict]]:
    """Published versions of journeys that still have runs moving (active or paused)."""
    versions = JourneyVersion.objects.filter(
        published_at__isnull=False, journey__status__in=[JourneyStatus.ACTIVE, JourneyStatus.PAUSED]
    ).select_related("journey")
    return [(v, definition_of(v.pk)) for v in versions]


def events_apply(*, event_ids: list[int]) -> dict[str, int]:
    """Entries, goals and wake-ups for freshly processed events."""
    events = list(
        Event.objects.filter(pk__in=event_ids, profile__isnull=False)
        .order_by("timestamp", "id")
        .values("id", "name", "profile_id", "properties", "timestamp")
    )
    counts = {"entered": 0, "converted": 0, "woken": 0}
    if not events:
        return counts
    for journey, definition in _live_journeys():
        candidates = [
            EntryCandidate(e["profile_id"], f"event:{e['id']}", e["timestamp"])
            for e in events
            if entry_matches_event(
                definition, name=e["name"], properties=e["properties"] or {}, at=e["timestamp"]
            )
        ]
        if candidates:
            counts["entered"] += runs_enroll(journey=journey, candidates=candidates, wake=False).created
    counts["converted"] += goals_record(events=events)
    wake_at: dict[int, datetime] = {}
    journey_ids: set[int] = set()
    for version, definition in _running_versions():
        names = watched_event_names(definition)
        for e in events:
            if e["name"] in names:
                journey_ids.add(version.journey_id)
                pid = e["profile_id"]
                wake_at[pid] = min(wake_at.get(pid, e["timestamp"]), e["timestamp"])
    if wake_at:
        counts["woken"] = runs_wake(times_by_profile=wake_at, journey_ids=journey_ids)
    if counts["entered"] or counts["woken"]:
        from journeys.tasks import engine_wake

        engine_wake()
    return counts


@transaction.atomic
def goals_record(*, events: list[dict]) -> int:
    """Attribute goal events to the runs (holdout or not) whose goal window they fall in; first one counts."""
    converted = 0
    announcements = []
    for version, definition in _running_versions():
        if not definition.get("goal"):
            continue
        for e in events:
            if not goal_matches(
                definition, name=e["name"], properties=e["properties"] or {}, at=e["timestamp"]
            ):
                continue
            runs = list(
                Run.objects.select_for_update().filter(
                    version=version,
                    profile_id=e["profile_id"],
                    converted_at__isnull=True,
                    entered_at__lt=e["timestamp"],
                    goal_deadline__gte=e["timestamp"],
                )
            )
            for run in runs:
                run.converted_at, run.conversion_event_id = e["timestamp"], e["id"]
                run.save(update_fields=["converted_at", "conversion_event_id"])
                converted += 1
                announcements.append(
                    (
                        "journey.converted",
                        {
                            "journey": version.journey.slug,
                            "journey_id": version.journey_id,
                            "run_id": run.pk,
                            "profile_id": run.profile_id,
                            "variant": run.variant,
                            "holdout": run.holdout,
                            "event": e["name"],
                            "at": e["timestamp"].isoformat(),
                        },
                        f"{run.pk}:converted",
                    )
                )
    partner_events.publish_many(announcements)
    return converted


def membership_apply(*, audience_id: int, slug: str, entered: list[int], exited: list[int]) -> dict[str, int]:
    """Audience entries start journeys and move waiting runs; exits end runs that exit on them."""
    counts = {"entered": 0, "woken": 0}
    entered_at, exited_at = _membership_times(audience_id, entered, exited)
    if entered:
        for journey, definition in _live_journeys():
            if definition.get("entry", {}).get("audience_entered") == slug:
                candidates = [
                    EntryCandidate(pid, f"audience:{slug}:{key}", at) for pid, (at, key) in entered_at.items()
                ]
                counts["entered"] += runs_enroll(journey=journey, candidates=candidates, wake=False).created
    wake: dict[int, datetime] = {}
    journey_ids: set[int] = set()
    for version, definition in _running_versions():
        if slug in audience_slugs(definition):
            journey_ids.add(version.journey_id)
            for pid, (at, _) in {**entered_at, **exited_at}.items():
                wake[pid] = min(wake.get(pid, at), at)
    if wake:
        counts["woken"] = runs_wake(times_by_profile=wake, journey_ids=journey_ids)
    partner_events.publish_many(
        [
            ("audience.entered", {"audience": slug, "audience_id": audience_id, "profile_id": pid,
                                  "at": at.isoformat()}, f"{audience_id}:{pid}:{key}")
            for pid, (at, key) in entered_at.items()
        ]
        + [
            ("audience.exited", {"audience": slug, "audience_id": audience_id, "profile_id": pid,
                                 "at": at.isoformat()}, f"{audience_id}:{pid}:{key}:exit")
            for pid, (at, key) in exited_at.items()
        ]
    )  # fmt: skip
    if counts["entered"] or counts["woken"]:
        from journeys.tasks import engine_wake

        engine_wake()
    return counts


def _membership_times(
    audience_id: int, entered: list[int], exited: list[int]
) -> tuple[dict[int, tuple[datetime, str]], dict[int, tuple[datetime, str]]]:
    """When each profile entered / left, and a key that names that membership (idempotent entries)."""
    now = timezone.now()
    entered_at = {pid: (now, now.isoformat()) for pid in entered}
    exited_at = {pid: (now, now.isoformat()) for pid in exited}
    try:
        membership = apps.get_model("audiences", "AudienceMembership")
    except LookupError:
        return entered_at, exited_at
    rows = membership.objects.filter(audience_id=audience_id, profile_id__in=[*entered, *exited]).order_by(
        "entered_at"
    )
    for row in rows.values("pk", "profile_id", "entered_at", "exited_at"):
        pid = row["profile_id"]
        if pid in entered_at and row["exited_at"] is None and row["entered_at"]:
            entered_at[pid] = (row["entered_at"], str(row["pk"]))
        if pid in exited_at and row["exited_at"] is not None:
            exited_at[pid] = (row["exited_at"], str(row["pk"]))
    return entered_at, exited_at


def profile_merge_apply(*, survivor_id: int, merged_id: int) -> int:
    """Move the merged profile's runs to the survivor; where both are active in one journey, the merged
    profile's run ends (one active run per journey and profile)."""
    survivor_active = set(
        Run.objects.filter(profile_id=survivor_id, status=RunStatus.ACTIVE).values_list(
            "journey_id", flat=True
        )
    )
    now = timezone.now()
    clash = Run.objects.filter(profile_id=merged_id, status=RunStatus.ACTIVE, journey_id__in=survivor_active)
    for run in clash:
        run.visits += 1
        RunStep.objects.create(
            run=run, seq=run.visits, stage_key=run.stage_key, from_stage=run.stage_key,
            reason="profile merged into one already in this journey", at=now,
        )  # fmt: skip
        run.status, run.ended_at, run.end_reason, run.due_at = RunStatus.EXITED, now, "profile merged", None
        run.save(update_fields=["visits", "status", "ended_at", "end_reason", "due_at"])
    # Entry keys are per (journey, profile): a clash there means both entered on the same trigger.
    mine = set(Run.objects.filter(profile_id=survivor_id).values_list("journey_id", "entry_key"))
    moved = 0
    for run in Run.objects.filter(profile_id=merged_id):
        if (run.journey_id, run.entry_key) in mine:
            run.entry_key = f"{run.entry_key}:merged:{merged_id}"[:200]
        run.profile_id = survivor_id
        run.save(update_fields=["profile", "entry_key"])
        moved += 1
    return moved


def profile_erase_apply(*, profile_id: int) -> int:
    """Runs cascade with the profile; broadcast recipients too. Nothing to keep: the person is gone."""
    return Run.objects.filter(profile_id=profile_id).delete()[0]
