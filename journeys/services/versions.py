"""Journeys and their versions: create, edit a draft, validate, publish, pause, resume, archive, migrate."""

from __future__ import annotations

import copy
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from journeys.definition import DefinitionInvalid, DefinitionReport, definition_validate, stages_by_key
from journeys.models import Journey, JourneyStatus, JourneyVersion, Run, RunStatus, RunStep


class VersionFrozen(Exception):
    """A published version cannot be edited; create a new draft instead."""


class JourneyStateError(Exception):
    """The action does not fit the journey's current status."""


@transaction.atomic
def journey_create(*, definition: dict, layout: dict | None = None) -> Journey:
    """A new journey with its first draft (the definition need not be valid yet)."""
    slug, name = definition.get("slug"), definition.get("name") or definition.get("slug")
    if not isinstance(slug, str) or not slug:
        raise ValidationError({"slug": "is required"})
    if Journey.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"a journey with slug {slug!r} exists"})
    journey = Journey.objects.create(slug=slug, name=str(name)[:200])
    JourneyVersion.objects.create(journey=journey, number=1, definition=definition, layout=layout or {})
    return journey


def journey_draft(*, journey: Journey) -> JourneyVersion | None:
    return journey.versions.filter(published_at__isnull=True).order_by("-number").first()


@transaction.atomic
def version_update(
    *, version: JourneyVersion, definition: dict, layout: dict | None = None
) -> JourneyVersion:
    """Replace a draft's definition (and, when given, its canvas layout)."""
    version = JourneyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_frozen:
        raise VersionFrozen(f"version {version.number} of {version.journey.slug} is published and frozen")
    if definition.get("slug") not in (None, version.journey.slug):
        raise ValidationError({"slug": "cannot change the slug of an existing journey"})
    version.definition = definition
    fields = ["definition", "updated_at"]
    if layout is not None:
        version.layout = layout
        fields.append("layout")
    version.save(update_fields=fields)
    if definition.get("name"):
        Journey.objects.filter(pk=version.journey_id).update(name=str(definition["name"])[:200])
    return version


@transaction.atomic
def draft_create(
    *, journey: Journey, definition: dict | None = None, layout: dict | None = None
) -> JourneyVersion:
    """A new draft copying the live definition (or the given one) and its layout; one draft at a time."""
    existing = journey_draft(journey=journey)
    if existing is not None:
        if definition is not None:
            return version_update(version=existing, definition=definition, layout=layout)
        return existing
    latest = journey.versions.order_by("-number").first()
    base = definition if definition is not None else copy.deepcopy(latest.definition if latest else {})
    if layout is None:
        layout = copy.deepcopy(latest.layout if latest else {})
    number = (journey.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return JourneyVersion.objects.create(journey=journey, number=number, definition=base, layout=layout)


def version_validate(*, version: JourneyVersion) -> DefinitionReport:
    report = definition_validate(version.definition)
    if version.definition.get("slug") not in (None, version.journey.slug):
        report.error("slug", f"must stay {version.journey.slug!r}")
    return report


@transaction.atomic
def version_publish(
    *,
    version: JourneyVersion,
    migrate: dict[str, str] | None = None,
    now: datetime | None = None,
) -> JourneyVersion:
    """Freeze a valid draft and make it the live version; new entries start on it.

    `migrate` maps stage keys of earlier versions to stages of this one: active runs in a mapped stage
    move to this version (a RunStep records it); runs in unmapped stages stay on their version.
    """
    now = now or timezone.now()
    version = JourneyVersion.objects.select_for_update().select_related("journey").get(pk=version.pk)
    if version.is_frozen:
        raise VersionFrozen(f"version {version.number} is already published")
    report = version_validate(version=version)
    if migrate:
        keys = stages_by_key(version.definition)
        for old, new in migrate.items():
            if new not in keys:
                report.error(f"migrate.{old}", f"unknown stage {new!r} in the new version")
    if not report.ok:
        raise DefinitionInvalid(report)
    version.published_at = now
    version.save(update_fields=["published_at", "updated_at"])
    journey = version.journey
    journey.live_version = version
    journey.name = str(version.definition.get("name", journey.name))[:200]
    if journey.status in (JourneyStatus.DRAFT, JourneyStatus.ARCHIVED):
        journey.status = JourneyStatus.ACTIVE
    journey.save(update_fields=["live_version", "name", "status", "updated_at"])
    if migrate:
        runs_migrate(journey=journey, to_version=version, mapping=migrate, now=now)
    return version


def runs_migrate(
    *, journey: Journey, to_version: JourneyVersion, mapping: dict[str, str], now: datetime
) -> int:
    """Move active runs in mapped stages onto `to_version`, each with a RunStep saying so."""
    runs = list(
        Run.objects.select_for_update()
        .filter(journey=journey, status=RunStatus.ACTIVE, stage_key__in=list(mapping))
        .exclude(version=to_version)
    )
    steps = []
    for run in runs:
        old, old_version = run.stage_key, run.version_id
        run.visits += 1
        run.version = to_version
        run.stage_key = mapping[old]
        run.stage_entered_at = now
        run.due_at = now  # look at it again under the new definition
        steps.append(
            RunStep(
                run=run,
                seq=run.visits,
                stage_key=run.stage_key,
                from_stage=old,
                reason=f"migrated to version {to_version.number}",
                at=now,
                detail={"migrated_from_version": old_version},
            )
        )
    Run.objects.bulk_update(runs, ["visits", "version", "stage_key", "stage_entered_at", "due_at"])
    RunStep.objects.bulk_create(steps)
    return len(runs)


@transaction.atomic
def journey_pause(*, journey: Journey) -> Journey:
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status != JourneyStatus.ACTIVE:
        raise JourneyStateError(f"only an active journey can be paused (it is {journey.status})")
    journey.status = JourneyStatus.PAUSED
    journey.save(update_fields=["status", "updated_at"])
    return journey


@transaction.atomic
def journey_resume(*, journey: Journey) -> Journey:
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.status != JourneyStatus.PAUSED:
        raise JourneyStateError(f"only a paused journey can be resumed (it is {journey.status})")
    journey.status = JourneyStatus.ACTIVE
    journey.save(update_fields=["status", "updated_at"])
    return journey


@transaction.atomic
def journey_archive(*, journey: Journey, now: datetime | None = None) -> int:
    """Stop the journey: no more entries, and every active run exits (recorded). Returns runs ended."""
    now = now or timezone.now()
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    journey.status = JourneyStatus.ARCHIVED
    journey.save(update_fields=["status", "updated_at"])
    return runs_exit(journey=journey, reason="journey archived", now=now)


def runs_exit(*, journey: Journey, reason: str, now: datetime, profile_ids: list[int] | None = None) -> int:
    qs = Run.objects.select_for_update().filter(journey=journey, status=RunStatus.ACTIVE)
    if profile_ids is not None:
        qs = qs.filter(profile_id__in=profile_ids)
    runs = list(qs)
    for run in runs:
        run.status, run.ended_at, run.end_reason, run.due_at = RunStatus.EXITED, now, reason, None
    Run.objects.bulk_update(runs, ["status", "ended_at", "end_reason", "due_at"])
    from journeys import partner_events

    partner_events.publish_many(
        [
            (
                "journey.exited",
                {"journey": journey.slug, "journey_id": journey.pk, "run_id": r.pk, "profile_id": r.profile_id,
                 "status": "exited", "reason": reason, "stage": r.stage_key, "at": now.isoformat()},
                f"{r.pk}:ended",
            )
            for r in runs
        ]
    )  # fmt: skip
    return len(runs)
