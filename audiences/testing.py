"""Small builders for tests, the demo and the benchmark: profiles and already-processed events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from tracking.models import Event, EventType, Profile, Source


def source_default() -> Source:
    source, _ = Source.objects.get_or_create(name="audiences-fixtures")
    return source


def profile_add(
    *, traits: dict[str, Any] | None = None, tags: list[str] | None = None, **fields: Any
) -> Profile:
    return Profile.objects.create(traits=traits or {}, tags=tags or [], **fields)


def event_add(
    *,
    profile: Profile,
    name: str,
    at: datetime | None = None,
    properties: dict[str, Any] | None = None,
    type: str = EventType.TRACK,
) -> Event:
    at = at or timezone.now()
    return Event.objects.create(
        source=source_default(),
        message_id=uuid.uuid4().hex,
        type=type,
        name=name,
        profile=profile,
        properties=properties or {},
        timestamp=at,
        received_at=at,
        processed_at=at,
    )
