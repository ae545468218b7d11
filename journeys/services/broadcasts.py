"""Broadcasts: one send (or a recurring one) to an audience, A/B/n variants, optional test-then-winner.

Each occurrence assigns every member of the audience a variant deterministically and records it
(BroadcastRecipient), and enqueues one message per recipient through channels with a key derived from
(broadcast, occurrence, profile), so a tick that runs twice sends nothing twice. With a test share,
only that share gets the variants; after `winner_after_hours` the variant with the best open, click or
conversion rate among test recipients goes to everyone else in the audience.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from journeys.engine.core import stable_fraction
from journeys.models import Broadcast, BroadcastRecipient, BroadcastStatus, BroadcastVariant, WinnerMetric
from journeys.schedule import cron_occurrences, cron_parse
from tracking.models import Channel, Event

PHASE_ALL, PHASE_TEST, PHASE_WINNER = "all", "test", "winner"


def broadcast_validate(*, broadcast: Broadcast) -> dict[str, str]:
    """Errors by field; empty when the broadcast can be scheduled."""
    import re

    errors: dict[str, str] = {}
    if broadcast.channel not in Channel.values:
        errors["channel"] = f"no channel {broadcast.channel!r}; one of: {', '.join(Channel.values)}"
    variants = list(broadcast.variants.all())
    if not variants:
        errors["variants"] = "add at least one variant"
    template_model = _model("channels", "Template")
    if template_model is not None:
        known = set(
            template_model.objects.filter(slug__in=[v.template_slug for v in variants]).values_list(
                "slug", flat=True
            )
        )
        for i, v in enumerate(variants):
            if v.template_slug not in known:
                errors[f"variants[{i}].template_slug"] = f"no template {v.template_slug!r}"
    audience_model = _model("audiences", "Audience")
    if (
        audience_model is not None
        and not audience_model.objects.filter(slug=broadcast.audience_slug).exists()
    ):
        errors["audience_slug"] = f"no audience {broadcast.audience_slug!r}"
    if broadcast.send_at is None:
        errors["send_at"] = "set when to send"
    if broadcast.local_time and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", broadcast.local_time):
        errors["local_time"] = 'must be "HH:MM"'
    if broadcast.recurrence:
        try:
            cron_parse(broadcast.recurrence)
        except ValueError as exc:
            errors["recurrence"] = str(exc)
    if not 0 <= broadcast.test_percent < 100:
        errors["test_percent"] = "must be from 0 to 99"
    if broadcast.test_percent and len(variants) < 2:
        errors["test_percent"] = "a test needs at least two variants"
    if (
        broadcast.winner_metric == WinnerMetric.CONVERSION
        and broadcast.test_percent
        and not broadcast.conversion_event
    ):
        errors["conversion_event"] = "name the event that counts as a conversion"
    return errors


@transaction.atomic
def broadcast_create(*, variants: list[dict], **fields: object) -> Broadcast:
    """A draft broadcast with its variants (each {key, template_slug, weight})."""
    broadcast = Broadcast.objects.create(**fields)
    BroadcastVariant.objects.bulk_create([BroadcastVariant(broadcast=broadcast, **v) for v in variants])
    return broadcast


@transaction.atomic
def broadcast_update(
    *, broadcast: Broadcast, variants: list[dict] | None = None, **changes: object
) -> Broadcast:
    """Change a broadcast's settings; `variants`, when given, replaces the whole set."""
    for name, value in changes.items():
        setattr(broadcast, name, value)
    broadcast.save()
    if variants is not None:
        broadcast.variants.all().delete()
        BroadcastVariant.objects.bulk_create([BroadcastVariant(broadcast=broadcast, **v) for v in variants])
    return broadcast


@transaction.atomic
def broadcast_schedule(*, broadcast: Broadcast) -> Broadcast:
    errors = broadcast_validate(broadcast=broadcast)
    if errors:
        raise ValidationError(errors)
    broadcast.status = BroadcastStatus.SCHEDULED
    broadcast.save(update_fields=["status"])
    return broadcast


@transaction.atomic
def broadcast_send_now(*, broadcast: Broadcast) -> Broadcast:
    """Schedule the broadcast for now (validated as any schedule) and have a worker send it as soon
    as this commits, rather than at the next beat tick."""
    from journeys.tasks import broadcast_send_task

    broadcast.send_at = timezone.now()
    broadcast.save(update_fields=["send_at"])
    broadcast_schedule(broadcast=broadcast)
    transaction.on_commit(lambda: broadcast_send_task.delay(broadcast.pk))
    return broadcast


def broadcast_send_due(*, broadcast_id: int) -> int:
    """Send this broadcast's occurrence if it is due (the send-now task); returns messages enqueued."""
    return _occurrence_send(broadcast_id, timezone.now())


def broadcasts_tick(*, now: datetime | None = None) -> int:
    """Send every broadcast occurrence and winner phase that is due; returns messages enqueued."""
    now = now or timezone.now()
    sent = 0
    for pk in Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now).values_list(
        "pk", flat=True
    ):
        sent += _occurrence_send(pk, now)
    for pk in Broadcast.objects.filter(status=BroadcastStatus.TESTING, winner_due_at__lte=now).values_list(
        "pk", flat=True
    ):
        sent += _winner_send(pk, now)
    return sent


@transaction.atomic
def _occurrence_send(broadcast_id: int, now: datetime) -> int:
    b = Broadcast.objects.select_for_update(skip_locked=True).filter(pk=broadcast_id).first()
    if b is None or b.status != BroadcastStatus.SCHEDULED or b.send_at is None or b.send_at > now:
        return 0
    b.occurrence += 1
    variants = list(b.variants.all())
    members = _members(b.audience_slug)
    if b.test_percent:
        chosen = [
            p for p in members if stable_fraction("bc-test", b.pk, b.occurrence, p) * 100 < b.test_percent
        ]
        phase = PHASE_TEST
    else:
        chosen, phase = members, PHASE_ALL
    count = _send(b, variants, chosen, phase, now)
    if phase == PHASE_TEST:
        b.status = BroadcastStatus.TESTING
        b.winner_due_at = b.send_at + timedelta(hours=b.winner_after_hours)
    else:
        _finish_occurrence(b)
    b.save()
    return count


@transaction.atomic
def _winner_send(broadcast_id: int, now: datetime) -> int:
    b = Broadcast.objects.select_for_update(skip_locked=True).filter(pk=broadcast_id).first()
    if b is None or b.status != BroadcastStatus.TESTING:
        return 0
    results = broadcast_results(broadcast=b, occurrence=b.occurrence, until=now)
    winner = (
        max(results, key=lambda r: (r.rate(b.winner_metric), -ord(r.variant[:1] or "a"))) if results else None
    )
    if winner is None:
        _finish_occurrence(b)
        b.save()
        return 0
    b.winner_variant = winner.variant
    already = set(
        BroadcastRecipient.objects.filter(broadcast=b, occurrence=b.occurrence).values_list(
            "profile_id", flat=True
        )
    )
    rest = [p for p in _members(b.audience_slug) if p not in already]
    variant = b.variants.get(key=winner.variant)
    count = _send(b, [variant], rest, PHASE_WINNER, now)
    _finish_occurrence(b)
    b.save()
    return count


def _finish_occurrence(b: Broadcast) -> None:
    b.winner_due_at = None
    if b.recurrence:
        # The recurrence is the workspace's calendar ("every Monday at 06:00" where the team works).
        zone = ZoneInfo(settings.TIME_ZONE)
        nxt = cron_occurrences(
            cron_parse(b.recurrence), zone=zone, after=b.send_at, until=b.send_at + timedelta(days=400)
        )
        if nxt:
            b.send_at, b.status = nxt[0], BroadcastStatus.SCHEDULED
            return
    b.status = BroadcastStatus.SENT


# Recipients enqueued per channels call (and per BroadcastRecipient insert): a few queries per chunk.
SEND_CHUNK = 2000


def _send(
    b: Broadcast, variants: list[BroadcastVariant], profile_ids: list[int], phase: str, now: datetime
) -> int:
    from channels.services import EnqueueRequest, messages_enqueue_many

    total = sum(v.weight for v in variants) or 1
    send_at = max(b.send_at or now, now) if phase == PHASE_WINNER else b.send_at
    data = {"broadcast": {"id": b.pk, "name": b.name}}
    for start in range(0, len(profile_ids), SEND_CHUNK):
        chosen = [
            (pid, _variant_pick(b, variants, total, pid)) for pid in profile_ids[start : start + SEND_CHUNK]
        ]
        recipient_ids = _recipients_add(b, chosen, phase, now)
        messages_enqueue_many(
            [
                EnqueueRequest(
                    profile_id=pid,
                    channel=b.channel,
                    template_slug=variant.template_slug,
                    topic=b.topic,
                    data=data,
                    campaign_kind="broadcast",
                    campaign_id=b.pk,
                    variant=variant.key,
                    idempotency_key=f"broadcast:{b.pk}:{b.occurrence}:{pid}",
                    send_at=send_at,
                    local_time=b.local_time or None,
                    broadcast_recipient_id=recipient_ids.get(pid),
                )
                for pid, variant in chosen
            ]
        )
    return len(profile_ids)


def _recipients_add(
    b: Broadcast, chosen: list[tuple[int, BroadcastVariant]], phase: str, now: datetime
) -> dict[int, int]:
    """Record who gets which variant (once per occurrence: a repeated tick keeps the first row) and
    return profile id -> recipient row id, which each message carries for reports to join on."""
    from core.bulk import ANY_UNIQUE, records_insert

    rows = [
        {"broadcast_id": b.pk, "occurrence": b.occurrence, "profile_id": pid, "variant": v.key, "phase": phase,
         "sent_at": now}
        for pid, v in chosen
    ]  # fmt: skip
    ids = {pid: rid for rid, pid in records_insert(
        BroadcastRecipient, rows, returning=("id", "profile_id"), conflict_ignore=ANY_UNIQUE
    )}  # fmt: skip
    missing = [pid for pid, _ in chosen if pid not in ids]
    if missing:
        ids.update(
            BroadcastRecipient.objects.filter(
                broadcast=b, occurrence=b.occurrence, profile_id__in=missing
            ).values_list("profile_id", "id")
        )
    return ids


def _variant_pick(
    b: Broadcast, variants: list[BroadcastVariant], total: int, profile_id: int
) -> BroadcastVariant:
    """The recipient's variant, by weight, the same on every tick of this occurrence."""
    point = stable_fraction("bc-variant", b.pk, b.occurrence, profile_id) * total
    for v in variants:
        point -= v.weight
        if point < 0:
            return v
    return variants[-1]


@dataclass
class VariantResult:
    variant: str
    recipients: int
    opened: int
    clicked: int
    converted: int

    def rate(self, metric: str) -> float:
        hits = {"open": self.opened, "click": self.clicked, "conversion": self.converted}[metric]
        return hits / self.recipients if self.recipients else 0.0

    def as_dict(self) -> dict:
        return {
            "variant": self.variant,
            "recipients": self.recipients,
            "opened": self.opened,
            "clicked": self.clicked,
            "converted": self.converted,
            "open_rate": round(self.rate("open"), 4),
            "click_rate": round(self.rate("click"), 4),
            "conversion_rate": round(self.rate("conversion"), 4),
        }


def broadcast_results(
    *, broadcast: Broadcast, occurrence: int, phase: str = PHASE_TEST, until: datetime | None = None
) -> list[VariantResult]:
    """Per variant: recipients, and how many opened, clicked (channels' message timeline) or converted."""
    until = until or timezone.now()
    recipients = BroadcastRecipient.objects.filter(broadcast=broadcast, occurrence=occurrence)
    if phase:
        recipients = (
            recipients.filter(phase=phase)
            if phase != PHASE_TEST
            else recipients.filter(phase__in=[PHASE_TEST, PHASE_ALL])
        )
    by_variant: dict[str, set[int]] = {}
    sent_at: dict[int, datetime] = {}
    for pid, variant, at in recipients.values_list("profile_id", "variant", "sent_at"):
        by_variant.setdefault(variant, set()).add(pid)
        sent_at[pid] = at
    message_model = _model("channels", "Message")
    engagement: dict[str, dict[str, int]] = {}
    if message_model is not None:
        key_prefix = f"broadcast:{broadcast.pk}:{occurrence}:"
        rows = (
            message_model.objects.filter(
                campaign_kind="broadcast", campaign_id=broadcast.pk, idempotency_key__startswith=key_prefix
            )
            .values("variant")
            .annotate(
                opened=Count("pk", filter=Q(events__kind__in=["opened", "clicked"]) | Q(status__in=["opened", "clicked"]), distinct=True),
                clicked=Count("pk", filter=Q(events__kind="clicked") | Q(status="clicked"), distinct=True),
            )
        )  # fmt: skip
        engagement = {r["variant"]: r for r in rows}
    converted: dict[str, int] = {}
    if broadcast.conversion_event:
        first_send = min(sent_at.values()) if sent_at else until
        hits = Event.objects.filter(
            name=broadcast.conversion_event,
            profile_id__in=list(sent_at),
            timestamp__gt=first_send,
            timestamp__lte=until,
        ).values_list("profile_id", "timestamp")
        who: set[int] = {pid for pid, ts in hits if ts > sent_at[pid]}
        for variant, pids in by_variant.items():
            converted[variant] = len(pids & who)
    return [
        VariantResult(
            variant=v,
            recipients=len(pids),
            opened=engagement.get(v, {}).get("opened", 0),
            clicked=engagement.get(v, {}).get("clicked", 0),
            converted=converted.get(v, 0),
        )
        for v, pids in sorted(by_variant.items())
    ]


def _members(slug: str) -> list[int]:
    membership = _model("audiences", "AudienceMembership")
    if membership is None:
        return []
    return list(
        membership.objects.filter(audience__slug=slug, exited_at__isnull=True)
        .order_by("profile_id")
        .values_list("profile_id", flat=True)
    )


def _model(app: str, name: str):
    try:
        return apps.get_model(app, name)
    except LookupError:
        return None
