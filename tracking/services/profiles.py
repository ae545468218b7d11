"""Profile writes: merging two profiles, erasing one, setting consent and contact points."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tracking import signals
from tracking.locality import LOCALITY_FIELDS, locality_from_traits, profile_context_locality
from tracking.models import (
    Consent,
    ConsentChange,
    ConsentStatus,
    ContactPoint,
    Event,
    Identity,
    IdentityConflict,
    IdentityKind,
    Profile,
    ProfileMerge,
)


def trait_time(at: datetime) -> str:
    """The one format trait times are stored in (UTC, microseconds), so they compare as strings."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def traits_merge(
    base: dict[str, Any],
    base_times: dict[str, str],
    incoming: dict[str, Any],
    incoming_times: dict[str, str] | str,
) -> bool:
    """Merge `incoming` traits into `base` in place, newest value per trait wins. Returns whether changed.

    `incoming_times` is either a per-trait map or one ISO time that applies to every incoming trait.
    Ties keep the incoming value, so replaying the same identify is a no-op and merges are deterministic.
    """
    changed = False
    for key, value in incoming.items():
        at = incoming_times if isinstance(incoming_times, str) else incoming_times.get(key, "")
        current_at = base_times.get(key, "")
        if key not in base or at >= current_at:
            if base.get(key) != value or key not in base:
                base[key] = value
                changed = True
            if at > current_at:
                base_times[key] = at
                changed = True
    return changed


@transaction.atomic
def profile_merge(*, survivor: Profile, merged: Profile, reason: str) -> Profile:
    """Fold `merged` into `survivor`: every event, identity, trait, contact point and consent moves."""
    if survivor.pk == merged.pk:
        return survivor
    signals.profile_merged.send(sender=Profile, survivor_id=survivor.pk, merged_id=merged.pk)
    Event.objects.filter(profile_id=merged.pk).update(profile_id=survivor.pk)
    Identity.objects.filter(profile_id=merged.pk).update(profile_id=survivor.pk)
    IdentityConflict.objects.filter(profile_id=merged.pk).update(profile_id=survivor.pk)
    IdentityConflict.objects.filter(other_profile_id=merged.pk).update(other_profile_id=survivor.pk)
    ConsentChange.objects.filter(profile_id=merged.pk).update(profile_id=survivor.pk)
    ProfileMerge.objects.filter(survivor_id=merged.pk).update(survivor_id=survivor.pk)

    survivor_points = list(survivor.contact_points.values_list("channel", "address", "is_primary"))
    existing_points = {(channel, address) for channel, address, _ in survivor_points}
    primary_channels = {channel for channel, _, primary in survivor_points if primary}
    for point in ContactPoint.objects.filter(profile_id=merged.pk).order_by("id"):
        if (point.channel, point.address) not in existing_points:
            point.profile_id = survivor.pk
            # The survivor's primary address on a channel stays the primary one.
            point.is_primary = point.is_primary and point.channel not in primary_channels
            if point.is_primary:
                primary_channels.add(point.channel)
            point.save(update_fields=["profile", "is_primary"])

    survivor_consents = {(c.channel, c.topic): c for c in survivor.consents.all()}
    for consent in Consent.objects.filter(profile_id=merged.pk):
        mine = survivor_consents.get((consent.channel, consent.topic))
        if mine is None:
            consent.profile_id = survivor.pk
            consent.save(update_fields=["profile"])
        elif consent.changed_at > mine.changed_at:
            # The most recent decision stands, whichever profile it was recorded on.
            mine.status, mine.changed_at = consent.status, consent.changed_at
            mine.method, mine.detail = consent.method, consent.detail
            mine.save(update_fields=["status", "changed_at", "method", "detail"])

    traits_merge(survivor.traits, survivor.trait_updated_at, merged.traits, merged.trait_updated_at)
    survivor.tags = sorted(set(survivor.tags) | set(merged.tags))
    # Traits first, else the newest event of either profile that says (events have moved already).
    locality = {
        **profile_context_locality(profile_id=survivor.pk),
        **locality_from_traits(survivor.traits),
    }
    for field in LOCALITY_FIELDS:
        value = locality.get(field) or getattr(survivor, field) or getattr(merged, field)
        setattr(survivor, field, value)
    seen = [d for d in (survivor.first_seen_at, merged.first_seen_at) if d]
    survivor.first_seen_at = min(seen) if seen else None
    seen = [d for d in (survivor.last_seen_at, merged.last_seen_at) if d]
    survivor.last_seen_at = max(seen) if seen else None
    survivor.save()
    ProfileMerge.objects.create(survivor=survivor, merged_profile_id=merged.pk, reason=reason[:200])
    merged.delete()
    return survivor


@transaction.atomic
def profile_erase(*, profile: Profile) -> None:
    """GDPR erasure: the profile and everything about it (events, identities, consent, messages)."""
    signals.profile_erased.send(sender=Profile, profile_id=profile.pk)
    Event.objects.filter(profile_id=profile.pk).delete()
    # Events not yet resolved to the profile (just ingested, or results the channels reported a moment
    # ago) carry the person's ids too: they go by the identities the profile holds.
    ids = Identity.objects.filter(profile_id=profile.pk)
    user_ids = list(ids.filter(kind=IdentityKind.USER_ID).values_list("value", flat=True))
    anonymous_ids = list(ids.filter(kind=IdentityKind.ANONYMOUS_ID).values_list("value", flat=True))
    if user_ids or anonymous_ids:
        Event.objects.filter(profile_id__isnull=True).filter(
            Q(user_id__in=user_ids) | Q(anonymous_id__in=anonymous_ids)
        ).delete()
    ProfileMerge.objects.filter(survivor_id=profile.pk).delete()
    profile.delete()


def profile_resolve(*, profile_id: int) -> Profile | None:
    """A profile by id, following merges, so ids handed out before a merge keep working."""
    resolved = profiles_resolve({profile_id}).get(profile_id)
    return Profile.objects.filter(pk=resolved[0]).first() if resolved else None


def profiles_resolve(profile_ids: Iterable[int], *fields: str) -> dict[int, tuple[Any, ...]]:
    """Requested profile id -> (the id of the profile it is now, *fields of that profile), following
    merges (the newest merge of a merged id) in three queries at most, whatever the number of ids;
    ids with no profile are left out."""
    ids = set(profile_ids)
    found = {row[0]: row for row in Profile.objects.filter(pk__in=ids).values_list("pk", *fields)}
    missing = ids - set(found)
    if missing:
        survivor_of: dict[int, int] = {}
        for merged_id, survivor_id in (
            ProfileMerge.objects.filter(merged_profile_id__in=missing)
            .order_by("merged_profile_id", "-id")
            .values_list("merged_profile_id", "survivor_id")
        ):
            survivor_of.setdefault(merged_id, survivor_id)
        survivors = {
            row[0]: row
            for row in Profile.objects.filter(pk__in=set(survivor_of.values())).values_list("pk", *fields)
        }
        for merged_id, survivor_id in survivor_of.items():
            if survivor_id in survivors:
                found[merged_id] = survivors[survivor_id]
    return found


@transaction.atomic
def consent_set(
    *,
    profile: Profile,
    channel: str,
    topic: str = "marketing",
    granted: bool,
    method: str,
    detail: str = "",
    at: datetime | None = None,
) -> Consent:
    at = at or timezone.now()
    status = ConsentStatus.GRANTED if granted else ConsentStatus.WITHDRAWN
    consent, _ = Consent.objects.update_or_create(
        profile=profile,
        channel=channel,
        topic=topic,
        defaults={"status": status, "changed_at": at, "method": method, "detail": detail[:255]},
    )
    ConsentChange.objects.create(
        profile=profile,
        channel=channel,
        topic=topic,
        status=status,
        changed_at=at,
        method=method,
        detail=detail[:255],
    )
    transaction.on_commit(lambda: signals.profile_changed.send(sender=Profile, profile_ids=[profile.pk]))
    return consent
