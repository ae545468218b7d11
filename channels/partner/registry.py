"""The event types partners can subscribe to. Each floor registers its own in its AppConfig.ready().

Channels registers message.* and profile.*; audiences and journeys register theirs
(audience.entered, journey.stage_changed, …) with `event_types_register`.
"""

from __future__ import annotations

from collections.abc import Iterable

ALL = "*"
_EVENT_TYPES: dict[str, str] = {}


def event_types_register(types: Iterable[tuple[str, str]]) -> None:
    """Offer event types (name, description) to partners. Registering a name again updates its text."""
    for name, description in types:
        if not name or name == ALL or " " in name:
            raise ValueError(f"invalid event type name {name!r}")
        _EVENT_TYPES[name] = description


def event_types_list() -> list[tuple[str, str]]:
    """Every registered (name, description), sorted by name: the subscription choices."""
    return sorted(_EVENT_TYPES.items())


def event_type_known(name: str) -> bool:
    return name in _EVENT_TYPES


PARTNER_EVENT_TYPES = [
    ("message.sent", "A message was handed to the provider"),
    ("message.delivered", "The provider reported the message delivered"),
    ("message.opened", "The recipient opened the message"),
    ("message.clicked", "The recipient clicked a link in the message"),
    ("message.failed", "The message bounced, was rejected or failed"),
    ("profile.created", "A new profile was created"),
    ("profile.merged", "Two profiles were found to be one person and merged"),
    ("profile.erased", "A profile was erased (GDPR)"),
]
