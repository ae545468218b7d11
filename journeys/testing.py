"""Builders for journey tests, the demo and the benchmark."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.core.management import call_command

from journeys.models import Journey
from journeys.services.versions import journey_create, version_publish
from tracking import signals as tracking_signals
from tracking.models import Event, EventType, Profile, Source


def journey_live(definition: dict, *, now: datetime | None = None) -> Journey:
    """Create and publish a journey (raises DefinitionInvalid if the definition is not valid)."""
    journey = journey_create(definition=definition)
    version_publish(version=journey.versions.get(), now=now)
    journey.refresh_from_db()
    return journey


def profile_add(*, timezone: str = "", traits: dict | None = None, tags: list | None = None) -> Profile:
    return Profile.objects.create(timezone=timezone, traits=traits or {}, tags=tags or [])


def event_emit(
    *, profile: Profile, name: str, at: datetime, properties: dict[str, Any] | None = None
) -> Event:
    """Store a processed event and announce it the way tracking's processor does."""
    source, _ = Source.objects.get_or_create(name="journey-tests")
    event = Event.objects.create(
        source=source,
        message_id=uuid.uuid4().hex,
        type=EventType.TRACK,
        name=name,
        profile=profile,
        properties=properties or {},
        timestamp=at,
        received_at=at,
        processed_at=at,
    )
    tracking_signals.events_processed.send(sender=Event, event_ids=[event.pk], profile_ids=[profile.pk])
    return event


def events_emit_many(*, profiles: list[Profile], name: str, at: datetime) -> list[Event]:
    """The same event for many profiles, announced in one batch (as one processing pass would)."""
    source, _ = Source.objects.get_or_create(name="journey-tests")
    events = Event.objects.bulk_create(
        [
            Event(
                source=source, message_id=uuid.uuid4().hex, type=EventType.TRACK, name=name, profile=p,
                properties={}, timestamp=at, received_at=at, processed_at=at,
            )
            for p in profiles
        ]
    )  # fmt: skip
    tracking_signals.events_processed.send(
        sender=Event, event_ids=[e.pk for e in events], profile_ids=[p.pk for p in profiles]
    )
    return events


def run_due(now: datetime) -> None:
    call_command("run_due", now=now.isoformat(), stdout=_Null())


class _Null:
    def write(self, *_: Any) -> None:
        pass
