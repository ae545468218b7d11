"""Journeys' "show on-site message M on the next visit", and the stop-after-a-conversion cap.

A journey step queues a message for its run's profile (`queued_messages_add`, called once per engine
batch). The next decide for that profile (`queued_pending`, one indexed query) offers the message past
its audience targeting — who, audience, tags, new/returning, UTM source — while its URL rules, device,
trigger, status, the "stop after" caps and the site-wide pop-up cap still apply (docs/onsite.md). It
is offered until the profile views it after it was queued (the view recorded for caps and results:
nothing is written on the decide path), or until it expires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction

from journeys.onsite.models import InteractionKind, Message, QueuedMessage
from tracking.models import Event


def queue_days_default() -> int:
    return settings.ONSITE_QUEUE_DAYS


@dataclass(frozen=True)
class QueueRequest:
    message_id: int
    profile_id: int
    key: str  # one per run step and action: a retried step queues nothing twice
    queued_at: datetime
    expires_days: int
    journey_id: int | None = None
    run_id: int | None = None
    stage_key: str = ""


@transaction.atomic
def queued_messages_add(*, requests: list[QueueRequest]) -> set[int]:
    """Queue the messages; a key already there is left as it is (a retried step). Returns the message
    ids that no longer exist (deleted after the journey was published): those are not queued."""
    if not requests:
        return set()
    wanted = {r.message_id for r in requests}
    missing = wanted - set(Message.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    rows = [
        QueuedMessage(
            message_id=r.message_id,
            profile_id=r.profile_id,
            key=r.key[:200],
            journey_id=r.journey_id,
            run_id=r.run_id,
            stage_key=r.stage_key[:100],
            queued_at=r.queued_at,
            expires_at=r.queued_at + timedelta(days=r.expires_days),
        )
        for r in requests
        if r.message_id not in missing
    ]
    QueuedMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return missing


class SeenLike(Protocol):
    """What decide already loaded of the visitor's interactions (services.Seen)."""

    message_id: int
    kind: str
    at: datetime


def queued_pending(*, profile_id: int, history: Iterable[SeenLike], now: datetime) -> set[int]:
    """The message ids queued for this profile that it has not viewed since they were queued and that
    have not expired. One index-only look-up; the views come from the history decide already has."""
    table = QueuedMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT message_id, max(queued_at) FROM {table} "
            "WHERE profile_id = %s AND expires_at > %s GROUP BY message_id",
            [profile_id, now],
        )
        queued = dict(cursor.fetchall())
    if not queued:
        return set()
    viewed: dict[int, datetime] = {}
    for seen in history:
        if seen.kind == InteractionKind.VIEW and seen.message_id in queued:
            viewed[seen.message_id] = max(viewed.get(seen.message_id, seen.at), seen.at)
    return {m for m, at in queued.items() if m not in viewed or viewed[m] < at}


def converted_messages(
    *, profile_id: int, messages: Iterable[Message], history: Iterable[SeenLike]
) -> set[int]:
    """Of the messages with "stop after a conversion", those this profile converted on: their goal
    event within goal_days of first seeing them (Message.converts, as in the results). Asks the
    database only when the profile has seen such a message, with one query over its goal events."""
    capped = {m.pk: m for m in messages if m.stop_after_conversion and m.goal_event}
    if not capped:
        return set()
    first_seen: dict[int, datetime] = {}
    for seen in history:
        if seen.kind == InteractionKind.VIEW and seen.message_id in capped:
            first_seen[seen.message_id] = min(first_seen.get(seen.message_id, seen.at), seen.at)
    if not first_seen:
        return set()
    names = {capped[m].goal_event for m in first_seen}
    until = max(first + timedelta(days=capped[m].goal_days) for m, first in first_seen.items())
    goals = Event.objects.filter(
        profile_id=profile_id, name__in=names, timestamp__gte=min(first_seen.values()), timestamp__lte=until
    ).values_list("name", "timestamp")
    converted: set[int] = set()
    for name, at in goals:
        for message_id, first in first_seen.items():
            message = capped[message_id]
            if message.goal_event == name and message.converts(first_seen=first, at=at):
                converted.add(message_id)
    return converted


def queued_prune(*, now: datetime, limit: int = 5000) -> int:
    """Delete up to `limit` expired rows (a beat tick's bounded share of the clean-up)."""
    table = QueuedMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN "
            f"(SELECT id FROM {table} WHERE expires_at <= %s ORDER BY expires_at LIMIT %s)",
            [now, limit],
        )
        return cursor.rowcount
