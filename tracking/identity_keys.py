"""Which identity keys an event carries, normalised so the same person always gives the same key."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tracking.locality import locality_from
from tracking.models import Event, IdentityKind

Key = tuple[str, str, str]  # (kind, namespace, value)
# Plain strings: they hash like the values read back from the database, and much faster than enums.
_USER_ID, _ANONYMOUS_ID = IdentityKind.USER_ID.value, IdentityKind.ANONYMOUS_ID.value
_EMAIL, _PHONE, _EXTERNAL = IdentityKind.EMAIL.value, IdentityKind.PHONE.value, IdentityKind.EXTERNAL.value


def normalize_email(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    return _normalize_email(value.strip())


# The same people send the same addresses event after event: validation is the costly part of
# reading keys, so remember recent answers (per process, bounded).
@lru_cache(maxsize=65_536)
def _normalize_email(value: str) -> str | None:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def normalize_phone(value: Any, region: str | None = None) -> str | None:
    """E.164, or None when it is not a possible number. A number without + needs a region."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return _normalize_phone(value, region if isinstance(region, str) else None)


@lru_cache(maxsize=65_536)
def _normalize_phone(value: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(value, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_hint(traits: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The region a phone number without + is read in: the person's country as traits or context say."""
    return locality_from(traits, context if isinstance(context, dict) else None).get("country")


def event_traits(event: Event) -> dict[str, Any]:
    """identify carries traits at the top; other calls carry them in context.traits (analytics.js)."""
    ctx_traits = event.context.get("traits") if isinstance(event.context, dict) else None
    traits = dict(ctx_traits) if isinstance(ctx_traits, dict) else {}
    if isinstance(event.traits, dict):
        traits.update(event.traits)
    return traits


def event_keys(event: Event) -> list[Key]:
    keys: list[Key] = []
    if event.user_id:
        keys.append((_USER_ID, "", event.user_id))
    if event.anonymous_id:
        keys.append((_ANONYMOUS_ID, "", event.anonymous_id))
    traits = event_traits(event)
    email = normalize_email(traits.get("email"))
    if email:
        keys.append((_EMAIL, "", email))
    phone = normalize_phone(traits.get("phone"), country_hint(traits, event.context))
    if phone:
        keys.append((_PHONE, "", phone))
    external = event.context.get("externalIds") if isinstance(event.context, dict) else None
    if isinstance(external, list):
        for item in external:
            if isinstance(item, dict) and item.get("id") and item.get("type"):
                keys.append((_EXTERNAL, str(item["type"])[:64], str(item["id"])[:255]))
    return keys
