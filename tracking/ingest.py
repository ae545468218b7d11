"""Accepting Segment-spec messages: validate each, keep the valid ones, store them durably.

A request is answered only after its events are committed to the database, so an accepted event
survives a worker or Redis dying a moment later; identity resolution happens afterwards
(`tracking.processing`), woken on commit and swept by a periodic tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracking.messages import MessageError, Rejection, message_to_event, parse_timestamp
from tracking.models import Event, Source


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def events_store(events: list[Event]) -> int:
    """Insert events, skipping (source, messageId) pairs already stored. Returns how many were new."""
    if not events:
        return 0
    # Duplicates inside one request count once.
    unique = list({(e.source_id, e.message_id): e for e in events}.values())
    created = Event.objects.bulk_create(unique, ignore_conflicts=True, batch_size=1000)
    if settings.IS_POSTGRES:
        # With ignore_conflicts PostgreSQL does not report what was skipped; count the survivors.
        return _count_stored(unique)
    return len(created)


def _count_stored(events: list[Event]) -> int:
    # Stored rows of this request carry our received_at; rows from an earlier request do not.
    by_source: dict[int, list[str]] = {}
    for e in events:
        by_source.setdefault(e.source_id, []).append(e.message_id)
    received_at = events[0].received_at
    total = 0
    for source_id, ids in by_source.items():
        total += Event.objects.filter(
            source_id=source_id, message_id__in=ids, received_at=received_at
        ).count()
    return total


def ingest_messages(
    messages: list[Any],
    *,
    source: Source,
    forced_type: str | None = None,
    batch_context: dict[str, Any] | None = None,
    batch_integrations: dict[str, Any] | None = None,
    batch_sent_at: Any = None,
    received_at: datetime | None = None,
) -> IngestResult:
    received_at = received_at or timezone.now()
    result = IngestResult()
    try:
        sent_at = parse_timestamp(batch_sent_at, "sentAt")
    except MessageError as exc:
        result.rejected = [Rejection(i, str(exc)) for i in range(len(messages))]
        return result
    events: list[Event] = []
    for index, message in enumerate(messages):
        try:
            events.append(
                message_to_event(
                    message,
                    source=source,
                    received_at=received_at,
                    forced_type=forced_type,
                    batch_context=batch_context,
                    batch_integrations=batch_integrations,
                    batch_sent_at=sent_at,
                )
            )
        except MessageError as exc:
            result.rejected.append(Rejection(index, str(exc)))
    with transaction.atomic():
        stored = events_store(events)
        if stored and settings.TRACKING_PROCESS_ON_COMMIT:
            from tracking.tasks import events_process_task

            transaction.on_commit(events_process_task.delay)
    result.accepted = len(events)
    result.duplicates = len(events) - stored
    return result
