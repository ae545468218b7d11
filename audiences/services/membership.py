"""Keeping membership materialised: set-based diffs against the compiled rule, with history.

`audience_refresh` compares the rule's answer with the open memberships in two statements run by
the database — insert the profiles that now match and are not members, close the memberships of
profiles that no longer match — restricted to `profile_ids` for incremental re-evaluation.
Entries and exits are announced through `audiences.signals.membership_changed` after commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from audiences import signals
from audiences.compiler import profiles_matching
from audiences.models import Audience, AudienceKind, AudienceMembership
from audiences.rules import Dependencies, rule_dependencies

logger = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    audience_id: int
    entered: list[int] = field(default_factory=list)
    exited: list[int] = field(default_factory=list)
    members: int | None = None
    ms: int = 0


def _announce(audience: Audience, entered: list[int], exited: list[int]) -> None:
    if not entered and not exited:
        return
    audience_id, slug = audience.pk, audience.slug
    transaction.on_commit(
        lambda: signals.membership_changed.send(
            sender=Audience, audience_id=audience_id, slug=slug, entered=entered, exited=exited
        )
    )


@transaction.atomic
def audience_refresh(
    *, audience_id: int, profile_ids: Iterable[int] | None = None, now: datetime | None = None
) -> RefreshResult:
    """Bring one audience's membership up to date (all profiles, or only `profile_ids`)."""
    started = time.monotonic()
    now = now or timezone.now()
    # Refreshes of one audience run one at a time; others wait rather than double-insert.
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    result = RefreshResult(audience_id=audience.pk)
    if audience.kind != AudienceKind.RULE:
        return result
    ids = None if profile_ids is None else sorted(set(profile_ids))
    if ids == []:
        return result
    if ids is None:
        result.entered, result.exited = _diff_all(audience, now)
    else:
        result.entered, result.exited = _diff_some(audience, ids, now)
    result.ms = int((time.monotonic() - started) * 1000)
    fields = []
    if ids is None:
        audience.last_refreshed_at, audience.last_refresh_ms = now, result.ms
        audience.next_refresh_at = audience_next_refresh(audience=audience, now=now)
        audience.refresh_leased_until = None
        fields += ["last_refreshed_at", "last_refresh_ms", "next_refresh_at", "refresh_leased_until"]
    changes: dict = {f: getattr(audience, f) for f in fields}
    if ids is None:
        result.members = AudienceMembership.objects.filter(audience=audience, exited_at__isnull=True).count()
        changes["member_count"] = result.members
    elif result.entered or result.exited:
        # The audience row is locked, so adjusting by the difference stays exact.
        changes["member_count"] = F("member_count") + len(result.entered) - len(result.exited)
    if changes:
        Audience.objects.filter(pk=audience.pk).update(**changes)
    _announce(audience, result.entered, result.exited)
    return result


def _diff_all(audience: Audience, now: datetime) -> tuple[list[int], list[int]]:
    """Full refresh: the rule runs once into a temporary table; two set-based statements diff it."""
    matching = profiles_matching(audience.rule, now=now).order_by().values("id")
    match_sql, match_params = matching.query.sql_with_params()
    table = AudienceMembership._meta.db_table
    tmp = "audiences_refresh_match"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {tmp}")
        cursor.execute(f"CREATE TEMPORARY TABLE {tmp} AS {match_sql}", match_params)
        cursor.execute(f"ANALYZE {tmp}")
        cursor.execute(
            f"INSERT INTO {table} (audience_id, profile_id, entered_at, exited_at) "
            f"SELECT %s, q.id, %s, NULL FROM {tmp} q WHERE NOT EXISTS (SELECT 1 FROM {table} m "
            f"WHERE m.audience_id = %s AND m.profile_id = q.id AND m.exited_at IS NULL) RETURNING profile_id",
            [audience.pk, now, audience.pk],
        )
        entered = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            f"UPDATE {table} SET exited_at = %s WHERE audience_id = %s AND exited_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {tmp} q WHERE q.id = {table}.profile_id) RETURNING profile_id",
            [now, audience.pk],
        )
        exited = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(f"DROP TABLE {tmp}")
    return entered, exited


def _diff_some(audience: Audience, ids: list[int], now: datetime) -> tuple[list[int], list[int]]:
    """Incremental: a bounded set of profiles (one chunk), so their answers come back as ids."""
    # The per-profile plans look costly to the planner, whose JIT compilation then takes
    # longer than the query itself.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
    matched = set(
        profiles_matching(audience.rule, now=now, profile_ids=ids).order_by().values_list("id", flat=True)
    )
    open_ids = set(
        AudienceMembership.objects.filter(
            audience=audience, exited_at__isnull=True, profile_id__in=ids
        ).values_list("profile_id", flat=True)
    )
    entered, exited = sorted(matched - open_ids), sorted(open_ids - matched)
    AudienceMembership.objects.bulk_create(
        [AudienceMembership(audience=audience, profile_id=pid, entered_at=now) for pid in entered]
    )
    if exited:
        AudienceMembership.objects.filter(
            audience=audience, exited_at__isnull=True, profile_id__in=exited
        ).update(exited_at=now)
    return entered, exited


def audience_next_refresh(*, audience: Audience, now: datetime) -> datetime | None:
    """When the next full refresh is due: its own interval, sooner for moving time windows."""
    minutes = [audience.refresh_every_minutes] if audience.refresh_every_minutes else []
    deps = audience_dependencies(audience=audience)
    if deps.time:
        minutes.append(settings.AUDIENCES_WINDOW_REFRESH_MINUTES)
    if deps.static_audiences:
        minutes.append(settings.AUDIENCES_WINDOW_REFRESH_MINUTES)
    return now + timedelta(minutes=min(minutes)) if minutes else None


def _audience_map() -> dict[str, tuple[str, object]]:
    return {slug: (kind, rule) for slug, kind, rule in Audience.objects.values_list("slug", "kind", "rule")}


def audience_dependencies(*, audience: Audience, audiences: dict | None = None) -> Dependencies:
    if audience.kind != AudienceKind.RULE:
        return Dependencies()
    return rule_dependencies(audience.rule, audiences=audiences if audiences is not None else _audience_map())


def audiences_affected(
    *, event_names: set[str] | None = None, traits: bool = False, tags: bool = False, consent: bool = False
) -> list[int]:
    """Ids of the rule audiences whose answer can change after such news about a profile."""
    audiences = _audience_map()
    affected = []
    for audience in Audience.objects.filter(kind=AudienceKind.RULE).only("id", "slug", "kind", "rule"):
        deps = audience_dependencies(audience=audience, audiences=audiences)
        if (
            (event_names and deps.events & event_names)
            or (traits and deps.traits)
            or (tags and deps.tags)
            or (consent and deps.consent)
        ):
            affected.append(audience.pk)
    return affected


def profiles_reevaluate(
    *, profile_ids: list[int], audience_ids: list[int], now: datetime | None = None
) -> int:
    """Incremental re-evaluation of some profiles against some audiences. Returns changes made."""
    changes = 0
    chunk = settings.AUDIENCES_INCREMENTAL_CHUNK
    for audience_id in audience_ids:
        for start in range(0, len(profile_ids), chunk):
            try:
                result = audience_refresh(
                    audience_id=audience_id, profile_ids=profile_ids[start : start + chunk], now=now
                )
            except Audience.DoesNotExist:
                break
            changes += len(result.entered) + len(result.exited)
    return changes


def audiences_refresh_due(*, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Claim audiences whose full refresh is due (skip-locked, with a lease) and return their ids."""
    now = now or timezone.now()
    lease = now + timedelta(minutes=settings.AUDIENCES_REFRESH_LEASE_MINUTES)
    with transaction.atomic():
        due = list(
            Audience.objects.select_for_update(skip_locked=True)
            .filter(kind=AudienceKind.RULE, next_refresh_at__lte=now)
            .filter(Q(refresh_leased_until__isnull=True) | Q(refresh_leased_until__lt=now))
            .order_by("next_refresh_at")
            .values_list("id", flat=True)[:limit]
        )
        Audience.objects.filter(pk__in=due).update(refresh_leased_until=lease)
    return due


@transaction.atomic
def memberships_move_on_merge(*, survivor_id: int, merged_id: int) -> None:
    """Before a merged profile is deleted, its membership history moves to the survivor."""
    now = timezone.now()
    both_open = AudienceMembership.objects.filter(profile_id=survivor_id, exited_at__isnull=True).values_list(
        "audience_id", flat=True
    )
    # Where both were members, the survivor's stay continues; the merged one's is closed.
    AudienceMembership.objects.filter(
        profile_id=merged_id, exited_at__isnull=True, audience_id__in=list(both_open)
    ).update(exited_at=now)
    AudienceMembership.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)


@transaction.atomic
def memberships_erase(*, profile_id: int) -> None:
    """An erased profile leaves every audience; its history goes with it."""
    open_in = list(
        AudienceMembership.objects.filter(profile_id=profile_id, exited_at__isnull=True).values_list(
            "audience_id", "audience__slug"
        )
    )
    AudienceMembership.objects.filter(profile_id=profile_id).delete()
    for audience_id, slug in open_in:
        Audience.objects.filter(pk=audience_id, member_count__gt=0).update(member_count=F("member_count") - 1)
        _announce(Audience(pk=audience_id, slug=slug), [], [profile_id])
