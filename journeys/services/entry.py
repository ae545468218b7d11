"""Entering journeys: the re-entry policy, the entry rule, holdout, and idempotent run creation.

Entries are set-based (one query per check, one INSERT … ON CONFLICT DO NOTHING RETURNING per
chunk of 5,000), so a million-profile audience enrolls in minutes. A run is created "before its first
stage" and due at once: the engine carries out the first stage's actions, so entering and advancing
share one code path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.bulk import ANY_UNIQUE, records_insert
from journeys.engine.core import goal_deadline, is_holdout
from journeys.models import Journey, JourneyStatus, Run, RunStatus
from journeys.versions_cache import definition_of
from tracking.models import Profile

ENROLL_CHUNK = 5000


@dataclass(frozen=True)
class EntryCandidate:
    profile_id: int
    entry_key: str
    at: datetime


@dataclass
class EnrollResult:
    created: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    run_ids: list[int] = field(default_factory=list)

    def refuse(self, reason: str, n: int = 1) -> None:
        if n:
            self.refused[reason] = self.refused.get(reason, 0) + n


class JourneyNotLive(Exception):
    pass


def runs_enroll(
    *,
    journey: Journey,
    candidates: Iterable[EntryCandidate],
    check_rule: bool = True,
    wake: bool = True,
) -> EnrollResult:
    """Create runs for the candidates the journey's policy admits; repeats of an entry key are no-ops."""
    if journey.status != JourneyStatus.ACTIVE or journey.live_version_id is None:
        raise JourneyNotLive(f"journey {journey.slug} is {journey.status}; only active journeys take entries")
    definition = definition_of(journey.live_version_id)
    result = EnrollResult()
    chunk: list[EntryCandidate] = []
    for candidate in candidates:
        chunk.append(candidate)
        if len(chunk) >= ENROLL_CHUNK:
            _enroll_chunk(journey, definition, chunk, check_rule, result)
            chunk = []
    if chunk:
        _enroll_chunk(journey, definition, chunk, check_rule, result)
    if wake and result.created:
        from journeys.tasks import engine_wake

        engine_wake()
    return result


@transaction.atomic
def _enroll_chunk(
    journey: Journey, definition: dict, chunk: list[EntryCandidate], check_rule: bool, result: EnrollResult
) -> None:
    # One entry per profile per call: the earliest trigger wins, later ones wait for re-entry.
    first: dict[int, EntryCandidate] = {}
    for c in sorted(chunk, key=lambda c: c.at):
        if c.profile_id in first:
            result.refuse("already entering")
        else:
            first[c.profile_id] = c
    profile_ids = list(first)

    already = set(
        Run.objects.filter(journey=journey, profile_id__in=profile_ids, entry_key__in=[c.entry_key for c in first.values()])
        .values_list("profile_id", "entry_key")
    )  # fmt: skip
    blocked = _blocked_by_policy(journey, definition, first)
    admitted: list[EntryCandidate] = []
    for pid, c in first.items():
        if (pid, c.entry_key) in already:
            result.refuse("duplicate entry")
        elif pid in blocked:
            result.refuse(blocked[pid])
        else:
            admitted.append(c)
    if admitted and check_rule and definition.get("entry_rule"):
        from audiences.compiler import profiles_matching

        matching = set(
            profiles_matching(
                definition["entry_rule"], profile_ids=[c.profile_id for c in admitted]
            ).values_list("pk", flat=True)
        )
        result.refuse("entry_rule not met", sum(1 for c in admitted if c.profile_id not in matching))
        admitted = [c for c in admitted if c.profile_id in matching]
    if not admitted:
        return
    existing_profiles = set(
        Profile.objects.filter(pk__in=[c.profile_id for c in admitted]).values_list("pk", flat=True)
    )
    holdout_percent = definition.get("holdout_percent", 0)
    now = timezone.now()
    runs = [
        {
            "journey_id": journey.pk,
            "version_id": journey.live_version_id,
            "profile_id": c.profile_id,
            "entry_key": c.entry_key[:200],
            "entered_at": c.at,
            "due_at": c.at,
            "holdout": is_holdout(journey_id=journey.pk, profile_id=c.profile_id, percent=holdout_percent),
            "goal_deadline": goal_deadline(definition, c.at),
            "created_at": now,
        }
        for c in admitted
        if c.profile_id in existing_profiles
    ]
    result.refuse("unknown profile", len(admitted) - len(runs))
    # One statement; a run another transaction just created (same entry key, or the profile already
    # active in the journey) is left out and not returned, so the ids are exactly the new runs.
    ids = [row[0] for row in records_insert(Run, runs, returning=("id",), conflict_ignore=ANY_UNIQUE)]
    result.created += len(ids)
    result.refuse("already in the journey", len(runs) - len(ids))
    result.run_ids += ids


def _blocked_by_policy(
    journey: Journey, definition: dict, first: dict[int, EntryCandidate]
) -> dict[int, str]:
    policy = definition.get("reentry", "never")
    blocked: dict[int, str] = {}
    rows = (
        Run.objects.filter(journey=journey, profile_id__in=list(first))
        .values("profile_id")
        .annotate(last_entered=Max("entered_at"))
    )
    active = set(
        Run.objects.filter(journey=journey, profile_id__in=list(first), status=RunStatus.ACTIVE).values_list(
            "profile_id", flat=True
        )
    )
    for row in rows:
        pid = row["profile_id"]
        if pid in active:
            blocked[pid] = "already in the journey"
        elif policy == "never":
            blocked[pid] = "re-entry not allowed"
        elif isinstance(policy, dict):
            cooldown = timedelta(days=policy["cooldown_days"])
            if first[pid].at < row["last_entered"] + cooldown:
                blocked[pid] = "re-entry cooldown"
    return blocked


def run_enroll_profile(
    *, journey: Journey, profile_id: int, key: str = "", at: datetime | None = None
) -> EnrollResult:
    """Enroll one profile by hand (API, admin); `key` makes the call idempotent."""
    at = at or timezone.now()
    entry_key = f"manual:{key}" if key else f"manual:{at.isoformat()}"
    return runs_enroll(journey=journey, candidates=[EntryCandidate(profile_id, entry_key, at)])
