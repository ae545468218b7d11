"""Scheduled entries: {"schedule": CRON, "audience": SLUG, "timezone": "recipient" | TZ}.

Each tick enrolls the audience's members for every fire time in (last checked, now]. With "recipient"
the cron is read in each member's own zone, so "0 10 * * 1" means 10:00 on Monday wherever they are.
The entry key is the fire instant, so a tick that runs twice enrolls nobody twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from journeys.models import Journey, JourneyStatus
from journeys.schedule import cron_occurrences, cron_parse, zone_for
from journeys.services.entry import EntryCandidate, runs_enroll
from journeys.versions_cache import definition_of
from tracking.models import Profile


def schedules_tick(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    enrolled = 0
    ids = Journey.objects.filter(status=JourneyStatus.ACTIVE, live_version__isnull=False).values_list(
        "pk", flat=True
    )
    for journey_id in ids:
        enrolled += _journey_tick(journey_id, now)
    return enrolled


@transaction.atomic
def _journey_tick(journey_id: int, now: datetime) -> int:
    journey = Journey.objects.select_for_update(skip_locked=True).filter(pk=journey_id).first()
    if journey is None:
        return 0  # another tick has it
    definition = definition_of(journey.live_version_id)
    entry = definition.get("entry", {})
    if "schedule" not in entry:
        return 0
    start = journey.schedule_checked_until or journey.live_version.published_at
    if start >= now:
        return 0
    spec = cron_parse(entry["schedule"])
    members = _audience_members(entry["audience"])
    by_zone: dict[str, list[int]] = defaultdict(list)
    if entry.get("timezone", "recipient") == "recipient":
        for pid, tz in Profile.objects.filter(pk__in=members).values_list("pk", "timezone"):
            by_zone[zone_for(tz).key].append(pid)
    else:
        by_zone[entry["timezone"]] = list(members)
    candidates = []
    for zone_name, pids in by_zone.items():
        for fire in cron_occurrences(spec, zone=zone_for(zone_name), after=start, until=now):
            candidates += [EntryCandidate(pid, f"schedule:{fire.isoformat()}", fire) for pid in pids]
    journey.schedule_checked_until = now
    journey.save(update_fields=["schedule_checked_until"])
    if not candidates:
        return 0
    return runs_enroll(journey=journey, candidates=candidates).created


def _audience_members(slug: str) -> list[int]:
    try:
        membership = apps.get_model("audiences", "AudienceMembership")
    except LookupError:
        return []
    return list(
        membership.objects.filter(audience__slug=slug, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )
