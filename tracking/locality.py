"""A profile's time zone, locale and country: from its traits, failing that from its latest events.

Each field is decided on its own: a trait wins; otherwise the most recent event (by event time)
whose context says something about that field. An event that says nothing about the time zone
does not erase what an earlier event said.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

LOCALITY_FIELDS = ("timezone", "locale", "country")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_timezone(value: Any) -> str | None:
    return value if isinstance(value, str) and value in _zones() else None


def _country_from_locale(locale: str) -> str | None:
    parts = locale.replace("_", "-").split("-")
    return parts[-1].upper() if len(parts) > 1 and len(parts[-1]) == 2 and parts[-1].isalpha() else None


def _country_code(value: Any) -> str | None:
    """ISO 3166-1 alpha-2 only: "Germany"[:2] would be Georgia, so full names are not guessed."""
    if isinstance(value, str) and len(value.strip()) == 2 and value.strip().isalpha():
        return value.strip().upper()
    return None


def locality_from_traits(traits: dict[str, Any] | None) -> dict[str, str]:
    """What traits (identify traits, or context.traits) say about time zone, locale and country."""
    if not isinstance(traits, dict):
        return {}
    found: dict[str, str] = {}
    tz = valid_timezone(traits.get("timezone"))
    if tz:
        found["timezone"] = tz
    locale = traits.get("locale")
    if isinstance(locale, str) and locale.strip():
        found["locale"] = locale.strip()[:35]
    address = traits.get("address")
    country = _country_code(address.get("country")) if isinstance(address, dict) else None
    country = country or _country_code(traits.get("country"))
    if not country and found.get("locale"):
        country = _country_from_locale(found["locale"])
    if country:
        found["country"] = country
    return found


def locality_from_context(context: dict[str, Any] | None) -> dict[str, str]:
    """What one event's context says (its own fields, then the traits analytics.js caches in it)."""
    if not isinstance(context, dict):
        return {}
    found: dict[str, str] = {}
    tz = valid_timezone(context.get("timezone"))
    if tz:
        found["timezone"] = tz
    locale = context.get("locale")
    if isinstance(locale, str) and locale.strip():
        found["locale"] = locale.strip()[:35]
    location = context.get("location")
    country = _country_code(location.get("country")) if isinstance(location, dict) else None
    if not country and found.get("locale"):
        country = _country_from_locale(found["locale"])
    if country:
        found["country"] = country
    return {**found, **locality_from_traits(context.get("traits"))}


def locality_from(traits: dict[str, Any], context: dict[str, Any] | None) -> dict[str, str]:
    """The best timezone/locale/country for these traits and (optionally) one event's context."""
    return {**locality_from_context(context), **locality_from_traits(traits)}


def locality_latest_from_contexts(contexts: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Per field, the first context (newest first) that says something about it."""
    found: dict[str, str] = {}
    for context in contexts:
        for key, value in locality_from_context(context).items():
            found.setdefault(key, value)
        if len(found) == len(LOCALITY_FIELDS):
            break
    return found


def profile_context_locality(*, profile_id: int) -> dict[str, str]:
    """Per field, what the profile's most recent event that mentions it says. Reads newest first."""
    from tracking.models import Event

    contexts = (
        Event.objects.filter(profile_id=profile_id)
        .order_by("-timestamp", "-id")
        .values_list("context", flat=True)
        .iterator(chunk_size=200)
    )
    return locality_latest_from_contexts(contexts)
