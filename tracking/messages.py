"""Segment-spec message validation and normalisation: one raw dict in, one Event row (unsaved) out.

Every error names the field, so a rejected message in a batch can be reported as
`{"index": 3, "reason": "userId: must be a string or number"}`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings

from core.text import NUL_REASON, nul_path
from tracking.models import Event, EventType, Source

SHORT_TYPES = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}
TYPES = {t.value for t in EventType}

# The times an event may carry (timestamp, originalTimestamp, sentAt) and land on once corrected for
# clock skew. Python's datetime stops at years 1 and 9999 and PostgreSQL stores what Python cannot
# read back (0001-01-01T00:00+14:00 is 1 BC in UTC), so one such row used to stop event processing;
# the reports also add days and convert zones around each time. No real event happened before the
# Unix epoch or will be sent after 2200: anything outside is a broken clock or an attack.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)
TIMESTAMP_WINDOW = f"{EARLIEST_TIMESTAMP:%Y-%m-%d} and {LATEST_TIMESTAMP:%Y-%m-%d} (UTC)"
# orjson writes at most 254 levels of nesting and the stored row puts a message's objects up to two
# levels deeper (context.integrations inside the row, inside the batch's list), so a message is
# measured wrapped in two lists: if that cannot be written, the message cannot be stored.
MAX_DEPTH = 250


class MessageError(ValueError):
    """A message that cannot be accepted; the text says which field and why."""


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


def parse_timestamp(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MessageError(f"{field}: must be an ISO 8601 date string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise MessageError(f"{field}: {value[:64]!r} is not an ISO 8601 date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Aware comparisons never overflow, unlike converting 0001-01-01T00:00+14:00 to UTC.
    if not EARLIEST_TIMESTAMP <= parsed < LATEST_TIMESTAMP:
        raise MessageError(f"{field}: {value[:64]!r} is outside the accepted range, {TIMESTAMP_WINDOW}")
    return parsed


def _id(message: dict[str, Any], field: str) -> str:
    value = message.get(field)
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MessageError(f"{field}: must be a string or number")
    text = str(value)
    if len(text) > 255:
        raise MessageError(f"{field}: longer than 255 characters")
    return text


def _object(message: dict[str, Any], field: str) -> dict[str, Any]:
    value = message.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(f"{field}: must be an object")
    return value


def merge_context(batch_context: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Batch-level context applies to every item; an item's own keys win, nested objects merge."""
    if not batch_context:
        return dict(own)
    merged = dict(batch_context)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def corrected_timestamp(
    received_at: datetime, sent_at: datetime | None, original: datetime | None
) -> datetime:
    """Segment's clock-skew correction: timestamp = receivedAt − (sentAt − originalTimestamp).

    A correction that lands outside the accepted window is refused, not clamped: a clamped time
    would be a made-up one that reports count on the wrong day, while the error tells the sender
    its clock (or its sentAt) is wrong. Both inputs are already inside the window, so the
    arithmetic itself cannot overflow.
    """
    if original is None:
        return received_at
    if sent_at is None:
        return original
    corrected = received_at - (sent_at - original)
    if not EARLIEST_TIMESTAMP <= corrected < LATEST_TIMESTAMP:
        raise MessageError(
            f"sentAt: the clock-skew correction receivedAt − (sentAt − timestamp) lands on "
            f"{corrected:%Y-%m-%d}, outside the accepted range, {TIMESTAMP_WINDOW}"
        )
    return corrected


def _measure(message: dict[str, Any]) -> int:
    """The message's size in bytes; refuses messages nested too deeply to store or holding a NUL."""
    try:
        dumped = orjson.dumps([[message]])
    except orjson.JSONEncodeError as exc:
        if "recursion" in str(exc).lower():
            raise MessageError(f"message: nested more than {MAX_DEPTH} levels deep")
        raise MessageError(f"message: cannot be written as JSON ({exc})")
    # orjson always escapes NUL, so the costly walk runs only for the rare message that has one.
    if b"\\u0000" in dumped:
        path = nul_path(message)
        if path is not None:
            raise MessageError(f"{path}: {NUL_REASON}")
    return len(dumped) - 4


def message_to_event(
    message: Any,
    *,
    source: Source,
    received_at: datetime,
    forced_type: str | None = None,
    batch_context: dict[str, Any] | None = None,
    batch_integrations: dict[str, Any] | None = None,
    batch_sent_at: datetime | None = None,
) -> Event:
    """One message as an unsaved Event row."""
    row = message_to_row(
        message,
        source_id=source.pk,
        received_at=received_at,
        forced_type=forced_type,
        batch_context=batch_context,
        batch_integrations=batch_integrations,
        batch_sent_at=batch_sent_at,
    )
    return Event(**row)


def message_to_row(
    message: Any,
    *,
    source_id: int,
    received_at: datetime,
    forced_type: str | None = None,
    batch_context: dict[str, Any] | None = None,
    batch_integrations: dict[str, Any] | None = None,
    batch_sent_at: datetime | None = None,
) -> dict[str, Any]:
    """One message as the column values of its Event row: a plain dict, because building model
    instances is a large share of the ingestion hot path and the insert does not need them."""
    if not isinstance(message, dict):
        raise MessageError("message: must be a JSON object")
    size = _measure(message)
    if size > settings.TRACKING_MAX_MESSAGE_BYTES:
        raise MessageError(
            f"message: {size} bytes is over the limit of {settings.TRACKING_MAX_MESSAGE_BYTES} bytes"
        )
    raw_type = message.get("type", forced_type)
    if raw_type is not None and not isinstance(raw_type, str):
        raise MessageError(f"type: must be a string, one of {', '.join(sorted(TYPES))}")
    if forced_type and raw_type not in (forced_type, None):
        raw_type = SHORT_TYPES.get(raw_type, raw_type)
        if raw_type != forced_type:
            raise MessageError(f"type: {message.get('type')!r} sent to the {forced_type} endpoint")
    msg_type = SHORT_TYPES.get(raw_type, raw_type) if raw_type is not None else None
    if msg_type not in TYPES:
        raise MessageError(
            f"type: unknown message type {raw_type!r}; expected one of {', '.join(sorted(TYPES))}"
        )

    user_id = _id(message, "userId")
    anonymous_id = _id(message, "anonymousId")
    previous_id = _id(message, "previousId")
    group_id = _id(message, "groupId")
    if msg_type == "alias":
        if not previous_id or not user_id:
            raise MessageError("previousId and userId: alias needs both")
    elif not user_id and not anonymous_id:
        raise MessageError("userId or anonymousId: one of them is required")
    if msg_type == "group" and not group_id:
        raise MessageError("groupId: required for group")

    name = ""
    if msg_type == "track":
        event_name = message.get("event")
        if not isinstance(event_name, str) or not event_name.strip():
            raise MessageError("event: a non-empty event name is required for track")
        name = event_name
    elif msg_type in ("page", "screen"):
        page_name = message.get("name")
        if page_name is not None and not isinstance(page_name, str):
            raise MessageError("name: must be a string")
        name = page_name or ""
    if len(name) > 200:
        raise MessageError("event: longer than 200 characters")

    properties = _object(message, "properties")
    traits = _object(message, "traits")
    context = merge_context(batch_context or {}, _object(message, "context"))
    integrations = {**(batch_integrations or {}), **_object(message, "integrations")}
    if integrations:
        context["integrations"] = integrations

    original = parse_timestamp(message.get("timestamp") or message.get("originalTimestamp"), "timestamp")
    sent_at = parse_timestamp(message.get("sentAt"), "sentAt") or batch_sent_at

    message_id = message.get("messageId")
    if message_id in (None, ""):
        message_id = f"voyage-{uuid.uuid4()}"
    elif not isinstance(message_id, str | int) or len(str(message_id)) > 200:
        raise MessageError("messageId: must be a string of at most 200 characters")

    return {
        "source_id": source_id,
        "message_id": str(message_id),
        "type": msg_type,
        "name": name,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "group_id": group_id,
        "previous_id": previous_id,
        "properties": properties,
        "traits": traits,
        "context": context,
        "original_timestamp": original,
        "sent_at": sent_at,
        "received_at": received_at,
        "timestamp": corrected_timestamp(received_at, sent_at, original),
    }
