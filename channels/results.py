"""Delivery results from any source (provider webhooks, our pixel and click redirect, push responses,
the sandbox) become one thing: a MessageEvent on the message's timeline, a status that only moves
forward, suppressions where the result calls for one, and a tracking Event on the profile
(source "voyage-channels", deterministic messageIds, so a repeated report is stored once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels.models import Message, MessageEvent, MessageStatus, SuppressionReason
from channels.services import statuses_announce
from channels.suppressions import suppression_add
from tracking.models import Identity, IdentityKind, Source

logger = logging.getLogger(__name__)
SOURCE_NAME = "voyage-channels"

# The status a result moves the message to (None: timeline only).
KIND_STATUS: dict[str, str | None] = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "opened": MessageStatus.OPENED,
    "clicked": MessageStatus.CLICKED,
    "bounced": MessageStatus.BOUNCED,
    "dropped": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "deferred": None,
    "processed": None,
    "spam_report": None,
    "unsubscribed": None,
    "resubscribed": None,
    "read": MessageStatus.OPENED,
}
# Statuses only move forward: a late "delivered" never hides an "opened".
STATUS_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.DEFERRED: 0,
    MessageStatus.SKIPPED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.FAILED: 3,
    MessageStatus.BOUNCED: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.OPENED: 5,
    MessageStatus.CLICKED: 6,
}
CHANNEL_LABEL = {
    "email": "Email",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "push": "Push",
    "webpush": "Web Push",
}
KIND_EVENT = {
    "sent": "Sent",
    "delivered": "Delivered",
    "opened": "Opened",
    "clicked": "Link Clicked",
    "bounced": "Bounced",
    "dropped": "Dropped",
    "failed": "Failed",
    "deferred": "Deferred",
    "spam_report": "Marked as Spam",
    "read": "Read",
}


@dataclass
class Result:
    message_id: int
    kind: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    provider_event_id: str | None = None


def tracking_event_name(channel: str, kind: str) -> str | None:
    if kind == "unsubscribed":
        return "Unsubscribed"
    if kind == "resubscribed":
        return "Resubscribed"
    suffix = KIND_EVENT.get(kind)
    return f"{CHANNEL_LABEL.get(channel, channel.title())} {suffix}" if suffix else None


@transaction.atomic
def results_record(results: list[Result]) -> int:
    """Apply results; returns how many were new (a report seen before is ignored)."""
    if not results:
        return 0
    seen = set(
        MessageEvent.objects.filter(
            provider_event_id__in=[r.provider_event_id for r in results if r.provider_event_id]
        ).values_list("provider_event_id", flat=True)
    )
    fresh: list[Result] = []
    batch_ids: set[str] = set()
    for r in results:
        if r.provider_event_id:
            if r.provider_event_id in seen or r.provider_event_id in batch_ids:
                continue
            batch_ids.add(r.provider_event_id)
        fresh.append(r)
    if not fresh:
        return 0
    messages = {
        m.pk: m
        for m in Message.objects.select_for_update(of=("self",))
        .select_related("template", "profile")
        .filter(pk__in={r.message_id for r in fresh})
        .order_by("pk")
    }
    fresh = [r for r in fresh if r.message_id in messages]
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                message_id=r.message_id,
                kind=r.kind,
                at=r.at,
                data=r.data,
                provider_event_id=r.provider_event_id,
            )
            for r in fresh
        ],
        ignore_conflicts=True,
    )
    changed: dict[int, Message] = {}
    announcements = []
    for r in sorted(fresh, key=lambda r: r.at):
        message = messages[r.message_id]
        new_status = KIND_STATUS.get(r.kind)
        if new_status and STATUS_RANK.get(new_status, 0) > STATUS_RANK.get(message.status, 0):
            message.status = new_status
            if new_status == MessageStatus.BOUNCED:
                message.error = str(r.data.get("reason", ""))[:2000]
            changed[message.pk] = message
        if r.data.get("price") not in (None, ""):
            try:
                message.cost = abs(float(r.data["price"]))
                message.cost_currency = str(r.data.get("price_unit", ""))[:3].upper()
                changed[message.pk] = message
            except (TypeError, ValueError):
                pass
        _suppress(message, r)
        announcements.append((message.pk, message.status, r.kind))
    if changed:
        Message.objects.bulk_update(list(changed.values()), ["status", "error", "cost", "cost_currency"])
    profile_events_ingest([(messages[r.message_id], r) for r in fresh])
    statuses_announce(announcements)
    return len(fresh)


def _suppress(message: Message, result: Result) -> None:
    from tracking.services.profiles import consent_set

    reason = None
    if result.kind == "bounced" and result.data.get("type", "bounce") != "blocked":
        reason = SuppressionReason.HARD_BOUNCE
    elif result.kind == "spam_report":
        reason = SuppressionReason.SPAM
    elif result.kind == "unsubscribed":
        reason = SuppressionReason.UNSUBSCRIBE
    if reason is None or not message.address:
        return
    suppression_add(
        channel=message.channel,
        address=message.address,
        reason=reason,
        at=result.at,
        detail=str(result.data.get("reason", ""))[
            :255
        ],  # the column's length; the full reason is on the message
    )
    if reason in (SuppressionReason.SPAM, SuppressionReason.UNSUBSCRIBE):
        consent_set(
            profile=message.profile,
            channel=message.channel,
            topic="marketing",
            granted=False,
            method=result.data.get("method")
            or ("spam_report" if reason == SuppressionReason.SPAM else "unsubscribe"),
            detail=f"message {message.pk}",
            at=result.at,
        )


def channels_source() -> Source:
    source, _ = Source.objects.get_or_create(name=SOURCE_NAME)
    return source


def profile_refs(profile_ids: set[int]) -> dict[int, dict[str, str]]:
    """How a result event names its profile for ID-Mapping: the user id, else an anonymous id of
    its own (created once), so the event always resolves to exactly this profile."""
    refs: dict[int, dict[str, str]] = {}
    rows = Identity.objects.filter(
        profile_id__in=profile_ids, kind__in=[IdentityKind.USER_ID, IdentityKind.ANONYMOUS_ID]
    ).order_by("kind", "id")
    for profile_id, kind, value in rows.values_list("profile_id", "kind", "value"):
        if profile_id in refs and "userId" in refs[profile_id]:
            continue
        if kind == IdentityKind.USER_ID:
            refs[profile_id] = {"userId": value}
        elif profile_id not in refs:
            refs[profile_id] = {"anonymousId": value}
    missing = [pid for pid in profile_ids if pid not in refs]
    if missing:
        Identity.objects.bulk_create(
            [
                Identity(profile_id=pid, kind=IdentityKind.ANONYMOUS_ID, value=f"voyage-profile-{pid}")
                for pid in missing
            ],
            ignore_conflicts=True,
        )
        for pid in missing:
            refs[pid] = {"anonymousId": f"voyage-profile-{pid}"}
    return refs


def profile_events_ingest(pairs: list[tuple[Message, Result]]) -> None:
    from tracking.ingest import ingest_messages

    payloads = []
    refs = profile_refs({m.profile_id for m, _ in pairs})
    for message, r in pairs:
        name = tracking_event_name(message.channel, r.kind)
        if not name:
            continue
        stamp = r.provider_event_id or f"{r.at.timestamp():.3f}"
        properties = {
            "message_id": message.pk,
            "channel": message.channel,
            "campaign_kind": message.campaign_kind,
            "campaign_id": message.campaign_id,
            "stage_key": message.stage_key,
            "variant": message.variant,
            "template": message.template.slug if message.template_id else "",
            "topic": message.topic,
        }
        for key in ("url", "reason", "type", "error_code"):
            if r.data.get(key) not in (None, ""):
                properties[key] = r.data[key]
        payloads.append(
            {
                "type": "track",
                "event": name,
                **refs[message.profile_id],
                "messageId": f"voyage-ch-{message.pk}-{r.kind}-{stamp}"[:200],
                "timestamp": r.at.isoformat(),
                "properties": properties,
            }
        )
    if payloads:
        result = ingest_messages(payloads, source=channels_source(), received_at=timezone.now())
        for rejection in result.rejected:
            logger.error("channels: result event rejected by ingestion: %s", rejection.reason)
