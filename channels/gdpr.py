"""What channels holds about one person, for the GDPR export (registered with tracking's export)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from channels.models import Message, MessageEvent, Suppression
from channels.suppressions import suppression_key
from tracking.models import ContactPoint


def profile_messages_export(profile_id: int) -> list[dict[str, Any]]:
    timelines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        MessageEvent.objects.filter(message__profile_id=profile_id)
        .order_by("at", "id")
        .values("message_id", "kind", "at", "data")
    ):
        timelines[row.pop("message_id")].append(row)
    messages = (
        Message.objects.filter(profile_id=profile_id)
        .order_by("created_at", "id")
        .values(
            "id",
            "channel",
            "topic",
            "template__slug",
            "campaign_kind",
            "campaign_id",
            "stage_key",
            "variant",
            "status",
            "skip_reason",
            "address",
            "subject",
            "data",
            "created_at",
            "sent_at",
        )
    )
    return [
        {**m, "template": m.pop("template__slug"), "timeline": timelines.get(m["id"], [])} for m in messages
    ]


def profile_suppressions_export(profile_id: int) -> list[dict[str, Any]]:
    """Suppressions of the person's addresses (found by key, as dispatch finds them)."""
    points = ContactPoint.objects.filter(profile_id=profile_id).values_list("channel", "address")
    keys = {(channel, suppression_key(channel=channel, address=address)) for channel, address in points}
    out = []
    for channel in sorted({c for c, _ in keys}):
        out += list(
            Suppression.objects.filter(channel=channel, address_key__in=[k for c, k in keys if c == channel])
            .order_by("at")
            .values("channel", "address", "reason", "at", "detail")
        )
    return out
