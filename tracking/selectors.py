"""Reads for the management API and the admin: profile look-ups, event lists, the GDPR export."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL

from tracking.identity_keys import normalize_email, normalize_phone
from tracking.models import (
    Consent,
    ConsentChange,
    ContactPoint,
    Event,
    Identity,
    IdentityConflict,
    IdentityKind,
    Profile,
    ProfileMerge,
    Source,
)
from tracking.services.profiles import profile_resolve

# Upper floors (channels: messages; journeys: runs) add what they hold about a person to the GDPR
# export without tracking importing them: they register a section name and a function of the profile id.
ExportSection = Callable[[int], Any]
_EXPORT_SECTIONS: dict[str, ExportSection] = {}


def profile_export_section_register(name: str, section: ExportSection) -> None:
    _EXPORT_SECTIONS[name] = section


@dataclass(frozen=True)
class ResolvedProfile:
    profile: Profile
    # The id that was asked for when it had been merged into `profile`; None when it is the same.
    requested_id: int | None = None


def profiles_lookup(
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    namespace: str | None = None,
) -> QuerySet[Profile]:
    """Profiles holding every identity given (AND), keys normalised the way ingestion stores them.

    Raises ValidationError naming the parameter when a value cannot be an identity (a bad email or phone).
    """
    wanted: list[tuple[str, str | None, str]] = []  # (kind, namespace or None for any, value)
    errors: dict[str, list[str]] = {}
    if user_id:
        wanted.append((IdentityKind.USER_ID, "", user_id))
    if anonymous_id:
        wanted.append((IdentityKind.ANONYMOUS_ID, "", anonymous_id))
    if email:
        normalized = normalize_email(email)
        if normalized is None:
            errors["email"] = [f"{email!r} is not a valid email address"]
        else:
            wanted.append((IdentityKind.EMAIL, "", normalized))
    if phone:
        normalized = normalize_phone(phone)
        if normalized is None:
            errors["phone"] = [f"{phone!r} is not a possible phone number; use E.164, e.g. +14155550100"]
        else:
            wanted.append((IdentityKind.PHONE, "", normalized))
    if namespace and not external_id:
        errors["namespace"] = ["namespace only applies together with external_id"]
    if external_id:
        wanted.append((IdentityKind.EXTERNAL, namespace or None, external_id))
    if errors:
        raise ValidationError(errors)

    profiles = Profile.objects.all()
    for kind, ns, value in wanted:
        identities = Identity.objects.filter(kind=kind, value=value)
        if ns is not None:
            identities = identities.filter(namespace=ns)
        profiles = profiles.filter(pk__in=identities.values("profile_id"))
    return profiles.prefetch_related("identities").order_by("-id")


def profile_get(*, profile_id: int) -> ResolvedProfile | None:
    """A profile by id, following merges: an id merged away gives its survivor."""
    profile = profile_resolve(profile_id=profile_id)
    if profile is None:
        return None
    return ResolvedProfile(profile=profile, requested_id=profile_id if profile.pk != profile_id else None)


def profile_detail_queryset() -> QuerySet[Profile]:
    return Profile.objects.prefetch_related(
        "identities",
        "contact_points",
        "consents",
        Prefetch("consent_changes", queryset=ConsentChange.objects.order_by("-changed_at", "-id")),
    )


def profile_merged_ids(*, profile_id: int) -> list[int]:
    return sorted(
        ProfileMerge.objects.filter(survivor_id=profile_id).values_list("merged_profile_id", flat=True)
    )


def _events_filter(
    events: QuerySet[Event],
    *,
    type: str | None,
    name: str | None,
    since: datetime | None,
    until: datetime | None,
) -> QuerySet[Event]:
    if type:
        events = events.filter(type=type)
    if name:
        events = events.filter(name=name)
    if since:
        events = events.filter(timestamp__gte=since)
    if until:
        events = events.filter(timestamp__lt=until)
    return events


def profile_events(
    *,
    profile_id: int,
    type: str | None = None,
    name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    """A profile's events, newest first (the (profile, timestamp) index serves this)."""
    events = Event.objects.filter(profile_id=profile_id).select_related("source")
    events = _events_filter(events, type=type, name=name, since=since, until=until)
    return events.order_by("-timestamp", "-id")


def events_list(
    *,
    source: str | None = None,
    type: str | None = None,
    name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Event]:
    """All events, newest first. `source` is a source id or name."""
    events = Event.objects.select_related("source")
    if source:
        by = Q(name=source) | Q(pk=int(source)) if source.isdigit() else Q(name=source)
        source_ids = list(Source.objects.filter(by).values_list("pk", flat=True))
        if not source_ids:
            raise ValidationError({"source": [f"no source with id or name {source!r}"]})
        events = events.filter(source_id__in=source_ids)
    events = _events_filter(events, type=type, name=name, since=since, until=until)
    return events.order_by("-timestamp", "-id")


def event_as_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "message_id": event.message_id,
        "source": event.source.name,
        "type": event.type,
        "name": event.name,
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "group_id": event.group_id,
        "previous_id": event.previous_id,
        "profile_id": event.profile_id,
        "properties": event.properties,
        "traits": event.traits,
        "context": event.context,
        "original_timestamp": _iso(event.original_timestamp),
        "sent_at": _iso(event.sent_at),
        "received_at": _iso(event.received_at),
        "timestamp": _iso(event.timestamp),
        "processed_at": _iso(event.processed_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def profile_export(*, profile: Profile) -> dict[str, Any]:
    """Everything stored about one person (GDPR right of access), as JSON-ready data."""
    pid = profile.pk
    data: dict[str, Any] = {
        "profile": {
            "id": pid,
            "created_at": _iso(profile.created_at),
            "updated_at": _iso(profile.updated_at),
            "first_seen_at": _iso(profile.first_seen_at),
            "last_seen_at": _iso(profile.last_seen_at),
            "traits": profile.traits,
            "trait_updated_at": profile.trait_updated_at,
            "tags": profile.tags,
            "timezone": profile.timezone,
            "locale": profile.locale,
            "country": profile.country,
            "merged_profile_ids": profile_merged_ids(profile_id=pid),
        },
        "identities": list(
            Identity.objects.filter(profile_id=pid)
            .order_by("id")
            .values("kind", "namespace", "value", "created_at")
        ),
        "contact_points": list(
            ContactPoint.objects.filter(profile_id=pid)
            .order_by("id")
            .values("channel", "address", "is_primary", "active", "created_at")
        ),
        "consent": list(
            Consent.objects.filter(profile_id=pid)
            .order_by("channel", "topic")
            .values("channel", "topic", "status", "changed_at", "method", "detail")
        ),
        "consent_history": list(
            ConsentChange.objects.filter(profile_id=pid)
            .order_by("changed_at", "id")
            .values("channel", "topic", "status", "changed_at", "method", "detail")
        ),
        "identity_conflicts": list(
            IdentityConflict.objects.filter(profile_id=pid)
            .order_by("id")
            .values("kind", "value", "detail", "created_at")
        ),
        "events": [
            event_as_dict(e)
            for e in Event.objects.filter(profile_id=pid)
            .select_related("source")
            .order_by("timestamp", "id")
            .iterator(chunk_size=2000)
        ],
    }
    for name, section in sorted(_EXPORT_SECTIONS.items()):
        data[name] = section(pid)
    return data


# The admin's people search: what a person's name is made of. The migration that adds the trigram
# index (0005_profile_search_trigram) indexes exactly this expression, so keep the two the same.
PROFILE_NAME_SQL = (
    "upper(coalesce(traits->>'firstName', '') || ' ' || coalesce(traits->>'lastName', '') || ' ' || "
    "coalesce(traits->>'first_name', '') || ' ' || coalesce(traits->>'last_name', '') || ' ' || "
    "coalesce(traits->>'name', ''))"
)


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.upper()}%"


def profiles_search(*, term: str) -> Q:
    """Profiles whose name, email, phone, user id or other identity contains `term` (any case), or
    whose id it is. Substring matches use trigram indexes (upper(identity value), the name expression
    above), so they stay fast on millions of profiles; terms under three characters match exactly."""
    term = " ".join(term.split())
    if not term:
        return Q()
    exact = {term, term.lower()}
    email = normalize_email(term)
    digits = "".join(ch for ch in term if ch.isdigit())
    phone = normalize_phone(term) or (normalize_phone(f"+{digits}") if digits and len(digits) >= 6 else None)
    exact |= {v for v in (email, phone) if v}
    matches = Q(pk__in=Identity.objects.filter(value__in=exact).values("profile_id"))
    if term.isdigit():
        matches |= Q(pk=int(term))
    if len(term) >= 3:
        patterns = [_like_pattern(term)]
        # "0151 234-56" finds +4915123456…: phones are stored in E.164 (digits, no trunk prefix 0).
        if len(digits) >= 5 and re.fullmatch(r"\+?[\d\s().-]+", term):
            patterns.append(_like_pattern(digits.lstrip("0")))
        for pattern in patterns:
            matches |= Q(
                pk__in=RawSQL(
                    "SELECT profile_id FROM tracking_identity WHERE upper(value) LIKE %s ESCAPE '\\'",
                    [pattern],
                )
            )
        matches |= Q(
            pk__in=RawSQL(
                f"SELECT id FROM tracking_profile WHERE {PROFILE_NAME_SQL} LIKE %s ESCAPE '\\'", [patterns[0]]
            )
        )
    return matches
