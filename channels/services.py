"""Putting messages in the outbox, and the small helpers every write path shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from channels.models import Message, MessageEvent, MessageStatus, Reason, Template
from channels.signals import message_status_changed
from channels.timing import next_local_time, parse_hhmm
from tracking.models import Channel
from tracking.services.profiles import profile_resolve


class EnqueueError(ValueError):
    """Input message_enqueue cannot accept; the text names the argument."""


def message_enqueue(
    *,
    profile_id: int,
    channel: str,
    template_slug: str,
    topic: str = "marketing",
    data: dict | None = None,
    campaign_kind: str = "",
    campaign_id: int | None = None,
    stage_key: str = "",
    variant: str = "",
    idempotency_key: str,
    send_at: datetime | None = None,
    local_time: str | None = None,
) -> Message:
    """Create the outbox row once per idempotency_key, in the caller's transaction; dispatch wakes on commit.

    Consent, suppression, caps and quiet hours are decided at dispatch time (so the freshest state
    applies); a missing template is recorded as a skip with its reason rather than raised.
    """
    if not idempotency_key:
        raise EnqueueError("idempotency_key: required")
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if channel not in Channel.values:
        raise EnqueueError(f"channel: {channel!r} is not one of {', '.join(Channel.values)}")
    if data is not None and not isinstance(data, dict):
        raise EnqueueError("data: must be an object")
    profile = profile_resolve(profile_id=profile_id)
    if profile is None:
        raise EnqueueError(f"profile_id: no profile {profile_id}")
    now = timezone.now()
    due = send_at or now
    if local_time:
        try:
            due = next_local_time(local=parse_hhmm(local_time), tz_name=profile.timezone, after=due)
        except ValueError as exc:
            raise EnqueueError(f"local_time: {exc}")
    template = Template.objects.filter(slug=template_slug).first()
    problem = ""
    if template is None:
        problem = f"no template {template_slug!r}"
    elif template.channel != channel:
        problem = f"template {template_slug!r} is for {template.channel}, not {channel}"
    fields: dict[str, Any] = {
        "profile_id": profile.pk,
        "channel": channel,
        "template": template,
        "topic": topic or "marketing",
        "data": data or {},
        "campaign_kind": campaign_kind,
        "campaign_id": campaign_id,
        "stage_key": stage_key,
        "variant": variant,
        "idempotency_key": idempotency_key[:255],
        "send_at": send_at,
        "local_time": local_time or "",
        "due_at": due,
    }
    if problem:
        fields.update(status=MessageStatus.SKIPPED, skip_reason=Reason.TEMPLATE_MISSING, error=problem)
    try:
        with transaction.atomic():
            message = Message.objects.create(**fields)
    except IntegrityError:
        # Another transaction enqueued the same key a moment ago.
        return Message.objects.get(idempotency_key=idempotency_key[:255])
    kind = "skipped" if problem else "queued"
    MessageEvent.objects.create(
        message=message,
        kind=kind,
        at=now,
        data={"reason": Reason.TEMPLATE_MISSING, "detail": problem} if problem else {},
    )
    statuses_announce([(message.pk, message.status, kind)])
    if not problem and due <= now:
        dispatch_wake()
    return message


def statuses_announce(changes: Iterable[tuple[int, str, str]]) -> None:
    """Send message_status_changed for each (message_id, status, kind) once the transaction commits."""
    changes = list(changes)
    if not changes or not message_status_changed.receivers:
        return

    def send() -> None:
        for message_id, status, kind in changes:
            message_status_changed.send(sender=Message, message_id=message_id, status=status, kind=kind)

    transaction.on_commit(send)


def dispatch_wake() -> None:
    """Start a dispatch pass after commit — once per transaction, however many messages it enqueued."""
    if not settings.CHANNELS_DISPATCH_ON_COMMIT:
        return
    if (
        connection.in_atomic_block
        and getattr(connection, "_voyage_wake_list", None) is connection.run_on_commit
    ):
        return

    def wake() -> None:
        from channels.tasks import dispatch_task

        dispatch_task.delay()

    transaction.on_commit(wake)
    if connection.in_atomic_block:
        connection._voyage_wake_list = connection.run_on_commit  # type: ignore[attr-defined]


def reasons_count(*, campaign_kind: str, campaign_id: int | None) -> dict[str, int]:
    """How many of a campaign's messages were not sent, per reason (for reports)."""
    from django.db.models import Count

    rows = (
        Message.objects.filter(campaign_kind=campaign_kind, campaign_id=campaign_id)
        .exclude(skip_reason="")
        .values("skip_reason")
        .annotate(n=Count("id"))
    )
    return {row["skip_reason"]: row["n"] for row in rows}


def statuses_count(*, campaign_kind: str, campaign_id: int | None) -> dict[str, int]:
    from django.db.models import Count

    rows = (
        Message.objects.filter(campaign_kind=campaign_kind, campaign_id=campaign_id)
        .values("status")
        .annotate(n=Count("id"))
    )
    return {row["status"]: row["n"] for row in rows}
