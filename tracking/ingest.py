"""Accepting Segment-spec messages: validate each, keep the valid ones, store them durably.

A request is answered only after its events are committed to the database, so an accepted event
survives a worker or Redis dying a moment later; identity resolution happens afterwards
(`tracking.processing`), woken on commit and swept by a periodic tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking.messages import MessageError, Rejection, message_to_event, parse_timestamp
from tracking.models import Event, Source
from tracking.processing import events_process_wake


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
    if settings.IS_POSTGRES:
        return _insert_postgres(unique)
    created = Event.objects.bulk_create(unique, ignore_conflicts=True, batch_size=1000)
    return len(created)


_COLUMNS = (
    "source_id, message_id, type, name, user_id, anonymous_id, group_id, previous_id, "
    "properties, traits, context, original_timestamp, sent_at, received_at, timestamp"
)
_INSERT = (
    f"INSERT INTO tracking_event ({_COLUMNS}) "
    "SELECT s, m, t, n, u, a, g, p, pr::jsonb, tr::jsonb, c::jsonb, ot, sa, ra, ts FROM unnest("
    "%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], "
    "%s::timestamptz[]) AS v(s, m, t, n, u, a, g, p, pr, tr, c, ot, sa, ra, ts) "
    "ON CONFLICT (source_id, message_id) DO NOTHING"
)


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits: the standard library takes it
        return json.dumps(value)


def _insert_postgres(events: list[Event]) -> int:
    """One INSERT … SELECT FROM unnest per request: a single round trip whatever the batch size, and
    ON CONFLICT's row count says exactly how many were new (no second query to count them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                [e.source_id for e in events],
                [e.message_id for e in events],
                [e.type for e in events],
                [e.name for e in events],
                [e.user_id for e in events],
                [e.anonymous_id for e in events],
                [e.group_id for e in events],
                [e.previous_id for e in events],
                [_json_text(e.properties) for e in events],
                [_json_text(e.traits) for e in events],
                [_json_text(e.context) for e in events],
                [e.original_timestamp for e in events],
                [e.sent_at for e in events],
                [e.received_at for e in events],
                [e.timestamp for e in events],
            ],
        )
        return cursor.rowcount


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
            # robust: the events are committed; a failed wake-up must not turn that into an error.
            transaction.on_commit(events_process_wake, robust=True)
    result.accepted = len(events)
    result.duplicates = len(events) - stored
    return result
