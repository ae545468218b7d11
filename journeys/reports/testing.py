"""A generated campaign history (journey with holdout and A/B split, A/B broadcast) written as raw
rows, for report tests and the demo. Deterministic for a seed; rows are what channels and journeys
write (messages with their status timeline, runs and stage visits, broadcast recipients, goal events).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from channels.models import Message, MessageEvent, Template
from journeys.models import (
    Broadcast,
    BroadcastRecipient,
    BroadcastVariant,
    Journey,
    JourneyVersion,
    Run,
    RunStep,
)
from journeys.reports.fold import profiles_mark_pending
from tracking.models import Event, EventType, Profile, Source

ZONES = ["Asia/Tokyo", "America/Sao_Paulo", "Europe/Berlin", "America/New_York", "", "Not/A_Zone"]
SKIPS = ["unsubscribed", "suppressed", "no_contact_point", "capped", "render_error", "template_missing"]


@dataclass
class Dataset:
    journey: Journey
    broadcast: Broadcast
    profiles: list[Profile] = field(default_factory=list)


def _template(slug: str, channel: str) -> Template:
    template, _ = Template.objects.get_or_create(slug=slug, defaults={"name": slug, "channel": channel})
    return template


def _timeline(
    rng: random.Random, m: Message, at: datetime, *, sms: bool
) -> tuple[list[MessageEvent], Message]:
    """A plausible status timeline for one message, and the message's resulting fields."""
    ev = [MessageEvent(message=m, kind="queued", at=at)]
    t = at + timedelta(minutes=rng.randint(0, 50))
    roll = rng.random()
    if roll < 0.12:
        reason = rng.choice(SKIPS)
        ev.append(MessageEvent(message=m, kind="skipped", at=t, data={"reason": reason}))
        m.status, m.skip_reason = "skipped", reason
        return ev, m
    if roll < 0.18:
        until = t + timedelta(hours=rng.randint(1, 9))
        ev.append(
            MessageEvent(
                message=m, kind="deferred", at=t, data={"reason": "quiet_hours", "until": until.isoformat()}
            )
        )
        t = until
    if rng.random() < 0.04:
        ev.append(MessageEvent(message=m, kind="failed", at=t, data={"reason": "provider_rejected"}))
        m.status, m.skip_reason = "failed", "provider_rejected"
        return ev, m
    ev.append(MessageEvent(message=m, kind="sent", at=t))
    m.status, m.sent_at = "sent", t
    if sms:
        m.cost, m.cost_currency = Decimal(rng.choice(["0.0079", "0.0450", "0.0083"])), "USD"
    t += timedelta(seconds=rng.randint(5, 600))
    if rng.random() < 0.05:
        ev.append(MessageEvent(message=m, kind="bounced", at=t, data={"reason": "mailbox"}))
        m.status = "bounced"
        return ev, m
    ev.append(MessageEvent(message=m, kind="delivered", at=t))
    m.status = "delivered"
    if rng.random() < 0.45:
        for _ in range(rng.randint(1, 3)):
            t += timedelta(minutes=rng.randint(1, 2000))
            ev.append(MessageEvent(message=m, kind="opened", at=t))
        m.status = "opened"
        if rng.random() < 0.35:
            for _ in range(rng.randint(1, 2)):
                t += timedelta(minutes=rng.randint(1, 300))
                ev.append(
                    MessageEvent(message=m, kind="clicked", at=t, data={"url": "https://shop.example/x"})
                )
            m.status = "clicked"
    elif rng.random() < 0.05:
        # A click with images off: no open pixel.
        ev.append(MessageEvent(message=m, kind="clicked", at=t + timedelta(minutes=3)))
        m.status = "clicked"
    if rng.random() < 0.02:
        ev.append(MessageEvent(message=m, kind="unsubscribed", at=t + timedelta(minutes=5)))
    if rng.random() < 0.01:
        ev.append(MessageEvent(message=m, kind="spam_report", at=t + timedelta(minutes=6)))
    return ev, m


def dataset_generate(*, seed: int = 7, profiles: int = 300, start: datetime) -> Dataset:
    rng = random.Random(seed)
    source, _ = Source.objects.get_or_create(name="reports-dataset")
    people = Profile.objects.bulk_create([Profile(timezone=rng.choice(ZONES)) for _ in range(profiles)])
    email_a, email_b, sms = (
        _template("rp-welcome-a", "email"),
        _template("rp-welcome-b", "email"),
        _template("rp-sms", "sms"),
    )
    journey = Journey.objects.create(slug=f"rp-welcome-{seed}", name="Welcome series", status="active")
    version = JourneyVersion.objects.create(
        journey=journey,
        number=1,
        definition={"goal": {"event": "Order Completed", "within_days": 14}},
        published_at=start,
    )
    broadcast = Broadcast.objects.create(
        name="Spring sale", audience_slug="everyone", channel="email", status="sent", send_at=start,
        conversion_event="Order Completed", winner_metric="click",
    )  # fmt: skip
    BroadcastVariant.objects.bulk_create(
        [
            BroadcastVariant(broadcast=broadcast, key="A", template_slug=email_a.slug),
            BroadcastVariant(broadcast=broadcast, key="B", template_slug=email_b.slug),
        ]
    )
    events: list[MessageEvent] = []
    orders: list[tuple[Profile, datetime, object]] = []
    for i, person in enumerate(people):
        entered = start + timedelta(hours=rng.randint(0, 24 * 6), minutes=rng.randint(0, 59))
        holdout = rng.random() < 0.15
        run = Run.objects.create(
            journey=journey, version=version, profile=person, entry_key=f"event:{i}", entered_at=entered,
            holdout=holdout, goal_deadline=entered + timedelta(days=14), stage_key="welcome",
        )  # fmt: skip
        steps = [RunStep(run=run, seq=1, stage_key="welcome", reason="entered", at=entered)]
        plan = [("welcome", "", email_a, "email")]
        if not holdout and rng.random() < 0.8:
            variant = rng.choice(["a", "b"])
            steps.append(
                RunStep(
                    run=run,
                    seq=2,
                    stage_key="nudge",
                    from_stage="welcome",
                    reason="after",
                    at=entered + timedelta(days=1),
                )
            )
            plan.append(("nudge", variant, email_a if variant == "a" else email_b, "email"))
            if rng.random() < 0.5:
                plan.append(("nudge", variant, sms, "sms"))
        RunStep.objects.bulk_create(steps)
        if not holdout:
            for visit, (stage, variant, template, channel) in enumerate(plan, start=1):
                at = entered + timedelta(days=visit - 1, minutes=rng.randint(0, 30))
                m = Message.objects.create(
                    profile=person, channel=channel, template=template, campaign_kind="journey", campaign_id=journey.pk,
                    stage_key=stage, variant=variant, idempotency_key=f"journey-run:{run.pk}:visit:{visit}:action:0",
                    run_id=run.pk, due_at=at,
                )  # fmt: skip
                Message.objects.filter(pk=m.pk).update(created_at=at)
                evs, m = _timeline(rng, m, at, sms=channel == "sms")
                m.save(update_fields=["status", "skip_reason", "sent_at", "cost", "cost_currency"])
                events += evs
        if rng.random() < (0.12 if holdout else 0.22):
            at = entered + timedelta(days=rng.uniform(0.2, 10))
            revenue = rng.choice([19.99, 45, "120.50", 0, None, "n/a"])
            orders.append((person, at, run))
            props = {} if revenue is None else {"revenue": revenue}
            e = Event.objects.create(
                source=source, message_id=uuid.uuid4().hex, type=EventType.TRACK, name="Order Completed",
                profile=person, properties=props, received_at=at, timestamp=at, processed_at=at,
            )  # fmt: skip
            Run.objects.filter(pk=run.pk).update(converted_at=at, conversion_event_id=e.pk)
        # The broadcast goes to two thirds of the people.
        if rng.random() < 0.66:
            variant = rng.choice(["A", "B"])
            sent = start + timedelta(days=2, hours=rng.randint(0, 3))
            recipient = BroadcastRecipient.objects.create(
                broadcast=broadcast, occurrence=1, profile=person, variant=variant, phase="all", sent_at=sent
            )
            m = Message.objects.create(
                profile=person, channel="email", template=email_a if variant == "A" else email_b,
                campaign_kind="broadcast", campaign_id=broadcast.pk, variant=variant,
                idempotency_key=f"broadcast:{broadcast.pk}:1:{person.pk}", broadcast_recipient_id=recipient.pk,
                due_at=sent,
            )  # fmt: skip
            Message.objects.filter(pk=m.pk).update(created_at=sent)
            evs, m = _timeline(rng, m, sent, sms=False)
            m.save(update_fields=["status", "skip_reason", "sent_at", "cost", "cost_currency"])
            events += evs
            if rng.random() < (0.2 if variant == "B" else 0.08):
                at = sent + timedelta(days=rng.uniform(-0.5, 9))
                Event.objects.create(
                    source=source, message_id=uuid.uuid4().hex, type=EventType.TRACK, name="Order Completed",
                    profile=person, properties={"revenue": rng.choice([30, 55.5])}, received_at=at, timestamp=at,
                    processed_at=at,
                )  # fmt: skip
    # Arrival order is not time order: shuffle so the unique-open bookkeeping meets late reports.
    rng.shuffle(events)
    MessageEvent.objects.bulk_create(events, batch_size=2000)
    # What the events_processed receiver does when the orders come in.
    profiles_mark_pending(profile_ids=[p.pk for p in people])
    return Dataset(journey=journey, broadcast=broadcast, profiles=people)


# Hand-computable attribution and currency case (tests/test_report_attribution_money.py works out
# every figure by hand). Rates: Thursday 2026-03-05 USD 1.10 and no JPY; Friday USD 1.20, JPY 160.
CASE_RATES = """Date,USD,JPY,
2026-03-06,1.2000,160.00,
2026-03-05,1.1000,N/A,
"""


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    from datetime import UTC

    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def attribution_case_generate() -> Journey:
    """Five runs of one journey, templates A, B, C (stages welcome, nudge, offer):
    run 1: A 05 09:00, B 10:00, C 11:00 (C opened and clicked), converts 12:00 with 90 EUR
    run 2: A 05 09:30 (opened), converts 13:00 with 110 USD (= 100 EUR at 1.10)
    run 3: B 05 09:00, C 10:00, converts 14:00 with 3000 JPY (no JPY rate that day)
    run 4: C 06 09:00, converts 10:00 with 3200 JPY (= 20 EUR at 160)
    run 5: its message to A was skipped (no contact point); no conversion."""
    source, _ = Source.objects.get_or_create(name="reports-case")
    templates = {k: _template(f"case-{k.lower()}", "email") for k in "ABC"}
    stages = {"A": "welcome", "B": "nudge", "C": "offer"}
    journey = Journey.objects.create(slug="case-attribution", name="Attribution case", status="active")
    version = JourneyVersion.objects.create(
        journey=journey, number=1, definition={"goal": {"event": "Order Completed", "within_days": 14}},
        published_at=_at(5, 0),
    )  # fmt: skip
    plan = [
        ([("A", _at(5, 9)), ("B", _at(5, 10)), ("C", _at(5, 11))], (_at(5, 12), 90, "EUR"), {"C": ("opened", "clicked")}),
        ([("A", _at(5, 9, 30))], (_at(5, 13), 110, "USD"), {"A": ("opened",)}),
        ([("B", _at(5, 9)), ("C", _at(5, 10))], (_at(5, 14), 3000, "jpy"), {}),
        ([("C", _at(6, 9))], (_at(6, 10), "3200", "JPY"), {}),
        ([("A", _at(5, 8))], None, {}),
    ]  # fmt: skip
    events: list[MessageEvent] = []
    for i, (sends, conversion, engaged) in enumerate(plan, start=1):
        person = Profile.objects.create(timezone="Europe/Berlin")
        entered = sends[0][1] - timedelta(minutes=5)
        run = Run.objects.create(
            journey=journey, version=version, profile=person, entry_key=f"case:{i}", entered_at=entered,
            goal_deadline=entered + timedelta(days=14), stage_key=stages[sends[-1][0]],
        )  # fmt: skip
        RunStep.objects.bulk_create(
            [
                RunStep(run=run, seq=n, stage_key=stages[k], reason="entered", at=at)
                for n, (k, at) in enumerate(sends, 1)
            ]
        )
        for n, (key, at) in enumerate(sends, start=1):
            m = Message.objects.create(
                profile=person, channel="email", template=templates[key], campaign_kind="journey",
                campaign_id=journey.pk, stage_key=stages[key], idempotency_key=f"case:{run.pk}:{n}",
                run_id=run.pk, due_at=at,
            )  # fmt: skip
            Message.objects.filter(pk=m.pk).update(created_at=at)
            if conversion is None:
                events.append(
                    MessageEvent(message=m, kind="skipped", at=at, data={"reason": "no_contact_point"})
                )
                Message.objects.filter(pk=m.pk).update(status="skipped", skip_reason="no_contact_point")
                continue
            events += [
                MessageEvent(message=m, kind="sent", at=at),
                MessageEvent(message=m, kind="delivered", at=at),
            ]
            for j, kind in enumerate(engaged.get(key, ()), start=1):
                events.append(MessageEvent(message=m, kind=kind, at=at + timedelta(minutes=j)))
            Message.objects.filter(pk=m.pk).update(status="delivered", sent_at=at)
        if conversion is not None:
            at, revenue, currency = conversion
            e = Event.objects.create(
                source=source, message_id=uuid.uuid4().hex, type=EventType.TRACK, name="Order Completed",
                profile=person, properties={"revenue": revenue, "currency": currency}, received_at=at,
                timestamp=at, processed_at=at,
            )  # fmt: skip
            Run.objects.filter(pk=run.pk).update(converted_at=at, conversion_event_id=e.pk)
    MessageEvent.objects.bulk_create(events)
    # What the events_processed receiver does when the orders come in.
    profiles_mark_pending(
        profile_ids=list(Run.objects.filter(journey=journey).values_list("profile_id", flat=True))
    )
    return journey
