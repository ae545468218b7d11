"""A profile's time zone, locale and country: from its traits, failing that from its latest events."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_timezone(value: Any) -> str | None:
    return value if isinstance(value, str) and value in _zones() else None


def _country_from_locale(locale: str) -> str | None:
    parts = locale.replace("_", "-").split("-")
    return parts[-1].upper() if len(parts) > 1 and len(parts[-1]) == 2 else None


def locality_from(traits: dict[str, Any], context: dict[str, Any] | None) -> dict[str, str]:
    """The best timezone/locale/country for these traits and (optionally) the latest event context."""
    context = context or {}
    found: dict[str, str] = {}
    tz = valid_timezone(traits.get("timezone")) or valid_timezone(context.get("timezone"))
    if tz:
        found["timezone"] = tz
    locale = traits.get("locale") or context.get("locale")
    if isinstance(locale, str) and locale:
        found["locale"] = locale[:35]
    country = None
    address = traits.get("address")
    if isinstance(address, dict) and isinstance(address.get("country"), str):
        country = address["country"]
    elif isinstance(traits.get("country"), str):
        country = traits["country"]
    else:
        location = context.get("location")
        if isinstance(location, dict) and isinstance(location.get("country"), str):
            country = location["country"]
        elif found.get("locale"):
            country = _country_from_locale(found["locale"])
    if country and len(country.strip()) == 2:
        found["country"] = country.strip().upper()
    return found
