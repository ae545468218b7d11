"""Journeys' "show on-site message M on the next visit", and the stop-after-a-conversion cap.

A journey step queues a message for its run's profile (`queued_messages_add`, called once per engine
batch). The next decide for that profile (read in decide's one round trip; `queued_pending`) offers
the message past
its audience targeting — who, audience, tags, new/returning, UTM source — while its URL rules, device,
trigger, status, the "stop after" caps and the site-wide pop-up cap still apply (docs/onsite.md). It
is offered until the profile views it after it was queued (the view recorded for caps and results:
nothing is written on the decide path), or until it expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction

from journeys.onsite.models import Message, QueuedMessage, goal_converts
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
    """What decide already loaded of the visitor's views of one message (selectors.Seen)."""

    first_view: datetime | None
    last_view: datetime | None


def queued_pending(*, queued: dict[int, datetime], seen: Mapping[int, SeenLike]) -> set[int]:
    """Of the messages queued for this profile (message id -> when it was last queued; unexpired, read
    by decide's one round trip), those it has not viewed since they were queued."""
    pending = set()
    for message_id, queued_at in queued.items():
        views = seen.get(message_id)
        if views is None or views.last_view is None or views.last_view < queued_at:
            pending.add(message_id)
    return pending


def converted_messages(
    *, profile_id: int | None, capped: dict[int, tuple[str, int]], seen: Mapping[int, SeenLike]
) -> set[int]:
    """Of the messages with "stop after a conversion" (message id -> goal event, goal days), those this
    profile converted on: their goal event within goal_days of first seeing them (goal_converts, as
    in the results). Asks the database only when the profile has seen such a message, with one query
    over its goal events."""
    if profile_id is None or not capped:
        return set()
    first_seen = {m: seen[m].first_view for m in capped if m in seen and seen[m].first_view is not None}
    if not first_seen:
        return set()
    names = {capped[m][0] for m in first_seen}
    since = min(first_seen.values())
    until = max(first + timedelta(days=capped[m][1]) for m, first in first_seen.items())
    goals = Event.objects.filter(
        profile_id=profile_id, name__in=names, timestamp__gte=since, timestamp__lte=until
    ).values_list("name", "timestamp")
    converted: set[int] = set()
    for name, at in goals:
        for message_id, first in first_seen.items():
            goal_event, goal_days = capped[message_id]
            if goal_event == name and goal_converts(first_seen=first, at=at, goal_days=goal_days):
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
