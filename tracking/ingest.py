"""Accepting Segment-spec messages: validate each, keep the valid ones, store them durably.

A request is answered only after its events are committed to the database, so an accepted event
survives a worker or Redis dying a moment later; identity resolution happens afterwards
(`tracking.processing`), woken on commit and swept by a periodic tick.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.bulk import json_text
from tracking.messages import MessageError, Rejection, message_to_row, parse_timestamp
from tracking.models import Event, Source
from tracking.processing import events_process_wake

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


EVENT_COLUMNS = (
    "source_id",
    "message_id",
    "type",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "properties",
    "traits",
    "context",
    "original_timestamp",
    "sent_at",
    "received_at",
    "timestamp",
)


def events_store(events: list[Event]) -> int:
    """Insert events, skipping (source, messageId) pairs already stored. Returns how many were new."""
    return rows_store([{column: getattr(e, column) for column in EVENT_COLUMNS} for e in events])


def rows_store(rows: list[dict[str, Any]]) -> int:
    """Insert event rows (EVENT_COLUMNS → value), skipping (source, messageId) pairs already stored.

    Returns how many were new.
    """
    if not rows:
        return 0
    # Duplicates inside one request count once.
    unique = list({(r["source_id"], r["message_id"]): r for r in rows}.values())
    return _insert(unique)


_INSERT = (
    f"INSERT INTO tracking_event ({', '.join(EVENT_COLUMNS)}) "
    f"SELECT {', '.join(EVENT_COLUMNS)} FROM json_to_recordset(%s::json) AS r("
    "source_id bigint, message_id text, type text, name text, user_id text, anonymous_id text, "
    "group_id text, previous_id text, properties jsonb, traits jsonb, context jsonb, "
    "original_timestamp timestamptz, sent_at timestamptz, received_at timestamptz, timestamp timestamptz) "
    "ON CONFLICT (source_id, message_id) DO NOTHING"
)


def _insert(rows: list[dict[str, Any]]) -> int:
    """One INSERT … SELECT FROM json_to_recordset per request: the whole batch travels as one JSON
    document (orjson writes it, PostgreSQL parses it, no per-value quoting in Python), and
    ON CONFLICT's row count says exactly how many were new (no second query to count them)."""
    document = json_text(rows)
    if "\\u0000" in document:  # PostgreSQL text and jsonb cannot hold NUL: drop it (rare)
        document = json_text(_without_nul(rows))
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [document])
        return cursor.rowcount


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


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
    rows: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        try:
            rows.append(
                message_to_row(
                    message,
                    source_id=source.pk,
                    received_at=received_at,
                    forced_type=forced_type,
                    batch_context=batch_context,
                    batch_integrations=batch_integrations,
                    batch_sent_at=sent_at,
                )
            )
        except MessageError as exc:
            result.rejected.append(Rejection(index, str(exc)))
        except Exception as exc:
            # A message we failed to foresee must not fail its batch: the SDK would retry the good
            # ones forever. It is refused on its own and logged so the gap can be closed.
            logger.exception("ingest: message %d could not be read", index)
            result.rejected.append(Rejection(index, f"message: could not be read ({type(exc).__name__})"))
    with transaction.atomic():
        stored = rows_store(rows)
        if stored and settings.TRACKING_PROCESS_ON_COMMIT:
            # robust: the events are committed; a failed wake-up must not turn that into an error.
            transaction.on_commit(events_process_wake, robust=True)
    result.accepted = len(rows)
    result.duplicates = len(rows) - stored
    return result
