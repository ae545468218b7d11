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

from tracking.models import Event, EventType, Source

SHORT_TYPES = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}
TYPES = {t.value for t in EventType}


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
        raise MessageError(f"{field}: {value!r} is not an ISO 8601 date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
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
    """Segment's clock-skew correction: timestamp = receivedAt − (sentAt − originalTimestamp)."""
    if original is None:
        return received_at
    if sent_at is None:
        return original
    return received_at - (sent_at - original)


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
    size = len(orjson.dumps(message))
    if size > settings.TRACKING_MAX_MESSAGE_BYTES:
        raise MessageError(
            f"message: {size} bytes is over the limit of {settings.TRACKING_MAX_MESSAGE_BYTES} bytes"
        )
    raw_type = message.get("type", forced_type)
    if forced_type and raw_type not in (forced_type, None):
        raw_type = SHORT_TYPES.get(raw_type, raw_type)
        if raw_type != forced_type:
            raise MessageError(f"type: {message.get('type')!r} sent to the {forced_type} endpoint")
    msg_type = SHORT_TYPES.get(raw_type, raw_type) if isinstance(raw_type, str) else raw_type
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
