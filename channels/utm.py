"""UTM tags on the links of Voyage's own messages, so a visit from an email, SMS or push counts as an
Email/SMS/Push touch in acquisition (tracking/analytics) like any other campaign's.

A link gets utm_source=voyage, utm_medium=email|sms|push, utm_campaign=<journey or broadcast slug>
and utm_content=<template slug>[-<A/B variant>]. A link that already carries a utm_source keeps all of
its own tags (the designer chose them). Tags are added where the visitor leaves us: the click redirect
(email, SMS, WhatsApp) and the push deep link at dispatch — the stored click URL stays as written.

channels sits below journeys, so it cannot read a journey's slug itself: journeys registers a function
per campaign kind (`campaign_slug_register`). Without one, the campaign is "<kind>-<id>".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.utils.text import slugify

SOURCE = "voyage"
# WhatsApp is a text message to the taxonomy (SMS); web push and mobile push are both Push.
MEDIUM = {"email": "email", "sms": "sms", "whatsapp": "sms", "push": "push", "webpush": "push"}
_slugs: dict[str, Callable[[int], str | None]] = {}


def campaign_slug_register(kind: str, slug_of: Callable[[int], str | None]) -> None:
    """An upper floor says how to name its campaigns (e.g. journeys: a journey's slug)."""
    _slugs[kind] = slug_of


def campaign_slug(*, kind: str, campaign_id: int | None) -> str:
    if not kind:
        return "message"
    slug_of = _slugs.get(kind)
    found = slug_of(campaign_id) if slug_of and campaign_id is not None else None
    if found:
        return slugify(found)[:100] or f"{kind}-{campaign_id}"
    return f"{kind}-{campaign_id}" if campaign_id is not None else slugify(kind)


def utm_values(*, message: Any, template: Any = None) -> dict[str, str] | None:
    """The tags for one message's links (its template given when the caller has it loaded), or None
    when its channel is not tagged."""
    medium = MEDIUM.get(message.channel)
    if medium is None or not getattr(settings, "CHANNELS_UTM_TAGS", True):
        return None
    if template is None and message.template_id:
        template = message.template
    template = template.slug if template is not None else ""
    content = "-".join(p for p in (template, message.variant) if p)
    values = {
        "utm_source": SOURCE,
        "utm_medium": medium,
        "utm_campaign": campaign_slug(kind=message.campaign_kind, campaign_id=message.campaign_id),
    }
    if content:
        values["utm_content"] = content
    return values


def utm_tag(url: str, values: dict[str, str] | None) -> str:
    """`url` with the tags added to its query, unless it has a utm_source of its own or is not http(s)."""
    if not values or not url.startswith(("https://", "http://")):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "utm_source" for key, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, *values.items()])))
