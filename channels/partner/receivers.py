"""Turn news from tracking and channels into partner events. Connected in PartnerConfig.ready()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels.models import Message
from channels.partner.services import partner_event_publish
from channels.partner.subscribers import subscribed_event_types

# Message timeline entries (MessageEvent kinds) partners hear about, and the event type each becomes.
MESSAGE_EVENT_TYPES = {
    "sent": "message.sent",
    "delivered": "message.delivered",
    "opened": "message.opened",
    "clicked": "message.clicked",
    "failed": "message.failed",
    "bounced": "message.failed",
}
# A profile seen in processed events within this long of its creation counts as new (see below).
PROFILE_CREATED_WINDOW = timedelta(hours=1)


def on_profile_merged(sender: Any, *, survivor_id: int, merged_id: int, **kwargs: Any) -> None:
    # Inside the merge transaction: the delivery rows commit (or roll back) with the merge.
    partner_event_publish(
        event_type="profile.merged",
        payload={"survivor_id": survivor_id, "merged_id": merged_id},
        idempotency_key=f"profile.merged:{merged_id}",
    )


def on_profile_erased(sender: Any, *, profile_id: int, **kwargs: Any) -> None:
    # Only the id leaves Voyage: an erasure notice must not carry the personal data being erased.
    partner_event_publish(
        event_type="profile.erased",
        payload={"profile_id": profile_id},
        idempotency_key=f"profile.erased:{profile_id}",
    )


def on_events_processed(sender: Any, *, profile_ids: list[int] | None = None, **kwargs: Any) -> None:
    """profile.created, for profiles created recently among those just processed.

    Tracking creates profiles in bulk without a signal of its own, so a recently created profile
    may be seen here more than once; the idempotency key makes the event go out once.
    """
    if not profile_ids or not _anyone_subscribed("profile.created"):
        return
    from tracking.models import Profile

    since = timezone.now() - PROFILE_CREATED_WINDOW
    new = Profile.objects.filter(id__in=profile_ids, created_at__gte=since).values_list("id", "created_at")
    with transaction.atomic():
        for profile_id, created_at in new:
            partner_event_publish(
                event_type="profile.created",
                payload={"profile_id": profile_id, "created_at": created_at.isoformat()},
                idempotency_key=f"profile.created:{profile_id}",
            )


def on_message_status_changed(
    sender: Any, *, message_id: int, status: str, kind: str = "", **kwargs: Any
) -> None:
    # `kind` is the timeline entry just recorded; `status` is where the message stands now.
    event_type = MESSAGE_EVENT_TYPES.get(kind or status)
    if event_type is None or not _anyone_subscribed(event_type):
        return
    payload: dict[str, Any] = {
        "message_id": message_id,
        "status": status,
        "kind": kind,
        **_message_facts(message_id),
    }
    # One event per message and type: a second click on the same message is not announced again.
    partner_event_publish(
        event_type=event_type, payload=payload, idempotency_key=f"{event_type}:{message_id}"
    )


def _message_facts(message_id: int) -> dict[str, Any]:
    row = (
        Message.objects.filter(pk=message_id)
        .values(
            "profile_id",
            "channel",
            "topic",
            "campaign_kind",
            "campaign_id",
            "stage_key",
            "variant",
            "provider",
        )
        .first()
    )
    return row or {}


def _anyone_subscribed(event_type: str) -> bool:
    types = subscribed_event_types()
    return "*" in types or event_type in types
