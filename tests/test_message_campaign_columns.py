"""Messages carry the journey run or broadcast recipient they were sent for, as indexed columns set at
enqueue; reports join on them, and older rows got them from their keys in the migration."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as global_apps
from django.db import connection

from audiences.models import Audience, AudienceMembership
from channels.models import Message, Template
from journeys.models import Broadcast, BroadcastRecipient, BroadcastVariant, Run
from journeys.services.broadcasts import broadcast_schedule
from journeys.testing import event_emit, journey_live, profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2034, 3, 1, 9, 0, tzinfo=UTC)


def test_journey_messages_carry_their_run():
    Template.objects.create(slug="hello", name="Hello", channel="email")
    journey_live(
        {
            "slug": "hello",
            "name": "Hello",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "a", "actions": [{"send": {"channel": "email", "template": "hello"}}],
                 "transitions": [{"to": "b", "after": {"days": 1}}]},
                {"key": "b", "actions": [{"send": {"channel": "email", "template": "hello"}}],
                 "transitions": [{"to": "done", "after": {"days": 1}}]},
                {"key": "done", "exit": True},
            ],
        }
    )  # fmt: skip
    people = [profile_add() for _ in range(3)]
    for p in people:
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0 + timedelta(days=3))
    runs = {r.profile_id: r.pk for r in Run.objects.all()}
    messages = list(Message.objects.filter(campaign_kind="journey"))
    assert len(messages) == 6
    assert all(m.run_id == runs[m.profile_id] and m.broadcast_recipient_id is None for m in messages)


def test_broadcast_messages_carry_their_recipient_row_and_a_second_tick_changes_nothing():
    audience = Audience.objects.create(slug="all", name="All", rule={"tag": "x"})
    people = [profile_add() for _ in range(5)]
    AudienceMembership.objects.bulk_create(
        [AudienceMembership(audience=audience, profile=p, entered_at=T0 - timedelta(days=1)) for p in people]
    )
    Template.objects.create(slug="promo", name="Promo", channel="email")
    b = Broadcast.objects.create(name="Sale", audience_slug="all", send_at=T0)
    BroadcastVariant.objects.create(broadcast=b, key="a", template_slug="promo", weight=1)
    broadcast_schedule(broadcast=b)
    run_due(T0)
    run_due(T0)
    recipients = {r.profile_id: r.pk for r in BroadcastRecipient.objects.filter(broadcast=b)}
    messages = list(Message.objects.filter(campaign_kind="broadcast"))
    assert len(recipients) == len(messages) == 5
    assert all(m.broadcast_recipient_id == recipients[m.profile_id] and m.run_id is None for m in messages)


def test_the_migration_fills_older_messages_from_their_keys():
    Template.objects.create(slug="t", name="T", channel="email")
    p, q = profile_add(), profile_add()
    b = Broadcast.objects.create(name="Old", audience_slug="all", send_at=T0, occurrence=2)
    recipient = BroadcastRecipient.objects.create(
        broadcast=b, occurrence=2, profile=p, variant="a", phase="all", sent_at=T0
    )
    common = {"channel": "email", "due_at": T0}
    old_journey = Message.objects.create(
        profile=p,
        campaign_kind="journey",
        campaign_id=1,
        idempotency_key="journey-run:4711:visit:2:action:0",
        **common,
    )
    old_broadcast = Message.objects.create(
        profile=p,
        campaign_kind="broadcast",
        campaign_id=b.pk,
        idempotency_key=f"broadcast:{b.pk}:2:{p.pk}",
        **common,
    )
    other_occurrence = Message.objects.create(
        profile=q,
        campaign_kind="broadcast",
        campaign_id=b.pk,
        idempotency_key=f"broadcast:{b.pk}:1:{q.pk}",
        **common,
    )
    unrelated = Message.objects.create(profile=q, idempotency_key="journey-run:12:visit:1:action:0", **common)
    migration = importlib.import_module("journeys.migrations.0003_message_run_backfill")
    with connection.schema_editor() as editor:
        migration.backfill(global_apps, editor)
    got = {m.pk: (m.run_id, m.broadcast_recipient_id) for m in Message.objects.all()}
    assert got == {
        old_journey.pk: (4711, None),
        old_broadcast.pk: (None, recipient.pk),
        other_occurrence.pk: (None, None),  # no recipient row for occurrence 1
        unrelated.pk: (None, None),  # not a journey's message, whatever its key says
    }
