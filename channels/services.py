"""Putting messages in the outbox, and the small helpers every write path shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from channels.models import Message, MessageEvent, MessageStatus, Reason, Template
from channels.signals import message_status_changed
from channels.timing import next_local_time, parse_hhmm
from core.bulk import AnyOf, records_insert
from core.wake import task_wake_on_commit
from tracking.models import Channel
from tracking.services.profiles import profiles_resolve


class EnqueueError(ValueError):
    """Input message_enqueue cannot accept; the text starts with the argument's path."""


@dataclass(frozen=True, slots=True)
class EnqueueRequest:
    """One message to put in the outbox; the arguments of message_enqueue."""

    profile_id: int
    channel: str
    template_slug: str
    idempotency_key: str
    topic: str = "marketing"
    data: dict | None = None
    campaign_kind: str = ""
    campaign_id: int | None = None
    stage_key: str = ""
    variant: str = ""
    send_at: datetime | None = None
    local_time: str | None = None
    # What the message is sent for (Message.run_id / broadcast_recipient_id): ids the caller owns.
    run_id: int | None = None
    broadcast_recipient_id: int | None = None


@dataclass(frozen=True, slots=True)
class Enqueued:
    """Where a request stands: its outbox row (new or found by its key) and that row's status."""

    message_id: int
    status: str
    created: bool


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
    run_id: int | None = None,
    broadcast_recipient_id: int | None = None,
) -> Message:
    """One message: messages_enqueue_many with one request, returning the stored row."""
    request = EnqueueRequest(
        profile_id=profile_id,
        channel=channel,
        template_slug=template_slug,
        idempotency_key=idempotency_key,
        topic=topic,
        data=data,
        campaign_kind=campaign_kind,
        campaign_id=campaign_id,
        stage_key=stage_key,
        variant=variant,
        send_at=send_at,
        local_time=local_time,
        run_id=run_id,
        broadcast_recipient_id=broadcast_recipient_id,
    )
    (done,) = _enqueue([request], path=lambda index, name: name)
    return Message.objects.get(pk=done.message_id)


def messages_enqueue_many(requests: Sequence[EnqueueRequest]) -> list[Enqueued]:
    """Create each request's outbox row once per idempotency key, in the caller's transaction, with a
    handful of queries for the whole batch; one result per request, in order.

    A key that already exists (earlier, or earlier in this batch) gives the existing row. Consent,
    suppression, caps and quiet hours are decided at dispatch time (so the freshest state applies); a
    missing template or one for another channel is recorded as a skipped message with its reason.
    Bad input raises EnqueueError naming `requests[i].argument`, before anything is written.
    """
    return _enqueue(requests, path=lambda index, name: f"requests[{index}].{name}")


def _enqueue(requests: Sequence[EnqueueRequest], *, path: Callable[[int, str], str]) -> list[Enqueued]:
    keys: list[str] = []
    for index, request in enumerate(requests):
        if not request.idempotency_key:
            raise EnqueueError(f"{path(index, 'idempotency_key')}: required")
        keys.append(request.idempotency_key[:255])
    if not keys:
        return []
    # The first request for each key is the one to create. No look-up first: nearly every key is new,
    # and the INSERT's ON CONFLICT finds the stored ones anyway (a look-up of a thousand keys cost
    # as much as the insert once the outbox held a few hundred thousand rows).
    fresh: dict[str, int] = {}
    for index, key in enumerate(keys):
        fresh.setdefault(key, index)
    found = _create(requests, fresh, path)
    results = []
    first_seen: set[str] = set()
    for key in keys:
        done = found[key]
        if done.created and key in first_seen:
            done = Enqueued(done.message_id, done.status, created=False)  # a repeat inside the batch
        first_seen.add(key)
        results.append(done)
    return results


def _create(
    requests: Sequence[EnqueueRequest], fresh: dict[str, int], path: Callable[[int, str], str]
) -> dict[str, Enqueued]:
    """Insert the new rows and their first timeline entry; return every key's row, new or stored."""
    # Bad requests are collected, not raised at once: a key stored before returns its row whatever
    # the repeat says (the idempotency promise), so only a bad request for a new key is an error.
    invalid: dict[str, str] = {}
    channels = frozenset(Channel.values)  # a class property that builds a new list on every read
    for key, index in fresh.items():
        request = requests[index]
        if request.channel not in channels:
            invalid[key] = (
                f"{path(index, 'channel')}: {request.channel!r} is not one of {', '.join(Channel.values)}"
            )
        elif request.data is not None and not isinstance(request.data, dict):
            invalid[key] = f"{path(index, 'data')}: must be an object"
    # requested id -> (the profile's id now, following merges; its time zone)
    zones = profiles_resolve({requests[i].profile_id for i in fresh.values()}, "timezone")
    templates = {
        slug: (pk, channel)
        for slug, pk, channel in Template.objects.filter(
            slug__in={requests[i].template_slug for i in fresh.values()}
        ).values_list("slug", "pk", "channel")
    }
    now = timezone.now()
    records: list[dict[str, Any]] = []
    problems: dict[str, str] = {}
    due_now: set[str] = set()  # sendable at once: dispatch should wake
    for key, index in fresh.items():
        request = requests[index]
        if key in invalid:
            continue
        if request.profile_id not in zones:
            invalid[key] = f"{path(index, 'profile_id')}: no profile {request.profile_id}"
            continue
        profile_id, tz_name = zones[request.profile_id]
        due = request.send_at or now
        if request.local_time:
            try:
                due = next_local_time(local=parse_hhmm(request.local_time), tz_name=tz_name, after=due)
            except ValueError as exc:
                invalid[key] = f"{path(index, 'local_time')}: {exc}"
                continue
        template_id, template_channel = templates.get(request.template_slug, (None, ""))
        record: dict[str, Any] = {
            "profile_id": profile_id,
            "channel": request.channel,
            "template_id": template_id,
            "topic": request.topic or "marketing",
            "data": request.data or {},
            "campaign_kind": request.campaign_kind,
            "campaign_id": request.campaign_id,
            "stage_key": request.stage_key,
            "variant": request.variant,
            "run_id": request.run_id,
            "broadcast_recipient_id": request.broadcast_recipient_id,
            "idempotency_key": key,
            "send_at": request.send_at,
            "local_time": request.local_time or "",
            "due_at": due,
            "created_at": now,
        }
        if template_id is None:
            problems[key] = f"no template {request.template_slug!r}"
        elif template_channel != request.channel:
            problems[key] = (
                f"template {request.template_slug!r} is for {template_channel}, not {request.channel}"
            )
        if key in problems:
            record.update(
                status=MessageStatus.SKIPPED.value,
                skip_reason=Reason.TEMPLATE_MISSING.value,
                error=problems[key],
            )
        elif due <= now:
            due_now.add(key)
        records.append(record)
    stored = _stored(set(invalid)) if invalid else {}
    for key, error in invalid.items():
        if key not in stored:
            raise EnqueueError(error)
    inserted = records_insert(
        Message, records, returning=("id", "idempotency_key", "status"), conflict_ignore=("idempotency_key",)
    )
    created = {key: Enqueued(pk, status, created=True) for pk, key, status in inserted}
    wake = bool(due_now.intersection(created))
    events = []
    announcements = []
    for key, done in created.items():
        kind = "skipped" if key in problems else "queued"
        detail = {"reason": Reason.TEMPLATE_MISSING.value, "detail": problems[key]} if key in problems else {}
        events.append({"message_id": done.message_id, "kind": kind, "at": now, "data": detail})
        announcements.append((done.message_id, done.status, kind))
    records_insert(MessageEvent, events)
    unseen = set(fresh) - set(created) - set(stored)
    if unseen:
        # Keys enqueued before, or by another transaction a moment ago: ON CONFLICT left them out.
        stored.update(_stored(unseen))
    created.update(stored)
    statuses_announce(announcements)
    if wake:
        dispatch_wake()
    return created


def _stored(keys: set[str]) -> dict[str, Enqueued]:
    """The outbox rows these idempotency keys already have, by key."""
    return {
        key: Enqueued(pk, status, created=False)
        for pk, key, status in Message.objects.filter(AnyOf(F("idempotency_key"), keys)).values_list(
            "pk", "idempotency_key", "status"
        )
    }


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
    """Start a dispatch pass after commit — once per transaction, however many messages it enqueued.
    A broker that is down at that moment loses only the shortcut: the beat tick dispatches."""
    if not settings.CHANNELS_DISPATCH_ON_COMMIT:
        return
    from channels.tasks import dispatch_task

    task_wake_on_commit(task=dispatch_task)


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
