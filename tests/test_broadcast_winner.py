"""Broadcasts: A/B/n to an audience, test share first, then the winner (by clicks, opens or
conversions) to the rest; local-time delivery per recipient; recurring sends; idempotent ticks."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from audiences.models import Audience, AudienceMembership
from channels.models import Message, MessageEvent, Template
from journeys.models import Broadcast, BroadcastRecipient, BroadcastStatus, BroadcastVariant
from journeys.services.broadcasts import broadcast_results, broadcast_schedule
from journeys.testing import event_emit, profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2036, 9, 1, 8, 0, tzinfo=UTC)


def audience_of(n, **profile_fields):
    audience, _ = Audience.objects.get_or_create(
        slug="shoppers", defaults={"name": "Shoppers", "rule": {"tag": "s"}}
    )
    profiles = [profile_add(**profile_fields) for _ in range(n)]
    AudienceMembership.objects.bulk_create(
        [
            AudienceMembership(audience=audience, profile=p, entered_at=T0 - timedelta(days=1))
            for p in profiles
        ]
    )
    return profiles


def broadcast(**fields):
    for slug in ("promo-a", "promo-b", "promo-c"):
        Template.objects.get_or_create(slug=slug, defaults={"name": slug, "channel": "email"})
    b = Broadcast.objects.create(name="Autumn sale", audience_slug="shoppers", send_at=T0, **fields)
    for key in ("a", "b", "c"):
        BroadcastVariant.objects.create(broadcast=b, key=key, template_slug=f"promo-{key}", weight=1)
    return broadcast_schedule(broadcast=b)


def click(messages):
    for m in messages:
        MessageEvent.objects.create(message=m, kind="clicked", at=T0 + timedelta(hours=1))
        Message.objects.filter(pk=m.pk).update(status="clicked")


def test_the_test_share_gets_the_variants_and_the_best_click_rate_goes_to_the_rest():
    profiles = audience_of(300)
    b = broadcast(test_percent=30, winner_metric="click", winner_after_hours=4)
    run_due(T0)
    run_due(T0)  # a second tick sends nothing twice
    b.refresh_from_db()
    assert b.status == BroadcastStatus.TESTING
    test = list(Message.objects.filter(campaign_kind="broadcast", campaign_id=b.pk))
    assert 60 < len(test) < 120
    assert set(Counter(m.variant for m in test)) == {"a", "b", "c"}
    click([m for m in test if m.variant == "c"][:10])
    click([m for m in test if m.variant == "a"][:2])

    run_due(T0 + timedelta(hours=3, minutes=59))
    assert Message.objects.filter(campaign_id=b.pk, campaign_kind="broadcast").count() == len(test)
    run_due(T0 + timedelta(hours=4))
    b.refresh_from_db()
    assert (b.status, b.winner_variant) == (BroadcastStatus.SENT, "c")
    everyone = Message.objects.filter(campaign_kind="broadcast", campaign_id=b.pk)
    assert everyone.count() == len(profiles)  # each profile exactly once
    assert set(everyone.exclude(pk__in=[m.pk for m in test]).values_list("variant", flat=True)) == {"c"}
    assert BroadcastRecipient.objects.filter(broadcast=b, phase="winner").count() == len(profiles) - len(test)
    results = {r.variant: r for r in broadcast_results(broadcast=b, occurrence=1)}
    assert results["c"].clicked == 10 and results["a"].clicked == 2


def test_conversion_winner_counts_goal_events_after_the_send():
    profiles = audience_of(200)
    b = broadcast(
        test_percent=50, winner_metric="conversion", winner_after_hours=24, conversion_event="Order Completed"
    )
    run_due(T0)
    tested = BroadcastRecipient.objects.filter(broadcast=b)
    a_buyers = [r.profile for r in tested.filter(variant="a")][:8]
    for p in a_buyers:
        event_emit(profile=p, name="Order Completed", at=T0 + timedelta(hours=5))
    # Bought before the send: not a conversion.
    for r in tested.filter(variant="b")[:20]:
        event_emit(profile=r.profile, name="Order Completed", at=T0 - timedelta(hours=5))
    run_due(T0 + timedelta(hours=24))
    b.refresh_from_db()
    assert b.winner_variant == "a"
    assert Message.objects.filter(campaign_id=b.pk, campaign_kind="broadcast").count() == len(profiles)


def test_local_time_delivery_and_recurrence():
    tokyo = audience_of(1, timezone="Asia/Tokyo")[0]
    berlin = audience_of(1, timezone="Europe/Berlin")[0]
    b = broadcast(local_time="10:00", recurrence="0 6 * * 1")  # T0 is a Monday
    run_due(T0)
    due = {m.profile_id: m.due_at for m in Message.objects.filter(campaign_kind="broadcast")}
    assert due[berlin.pk] == datetime(2036, 9, 1, 8, 0, tzinfo=UTC)  # 10:00 CEST
    assert due[tokyo.pk] == datetime(2036, 9, 2, 1, 0, tzinfo=UTC)  # 10:00 JST the next day (already past)
    b.refresh_from_db()
    assert b.status == BroadcastStatus.SCHEDULED and b.send_at == datetime(2036, 9, 8, 6, 0, tzinfo=UTC)
    run_due(datetime(2036, 9, 8, 6, 0, tzinfo=UTC))
    assert Message.objects.filter(campaign_kind="broadcast").count() == 4
    assert BroadcastRecipient.objects.filter(occurrence=2).count() == 2


def test_scheduling_refuses_a_broadcast_with_errors():
    from django.core.exceptions import ValidationError

    b = Broadcast.objects.create(name="Broken", audience_slug="nobody", test_percent=20, recurrence="bad")
    BroadcastVariant.objects.create(broadcast=b, key="a", template_slug="missing")
    with pytest.raises(ValidationError) as info:
        broadcast_schedule(broadcast=b)
    fields = set(info.value.message_dict)
    assert {"audience_slug", "send_at", "recurrence", "test_percent", "variants[0].template_slug"} <= fields


def test_recurrence_is_read_in_the_workspace_zone_across_a_dst_change(settings):
    settings.TIME_ZONE = "America/New_York"  # the workspace; profiles without a zone still default to UTC
    settings.JOURNEYS_DEFAULT_TIMEZONE = "UTC"
    audience_of(1)
    first = datetime(2036, 10, 27, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT
    b = broadcast(recurrence="0 9 * * 1")
    Broadcast.objects.filter(pk=b.pk).update(send_at=first)
    run_due(first)
    b.refresh_from_db()
    # Clocks went back on 2 November: Monday 09:00 is now EST, 14:00 UTC.
    assert b.send_at == datetime(2036, 11, 3, 14, 0, tzinfo=UTC)
    run_due(b.send_at)
    b.refresh_from_db()
    assert b.send_at == datetime(2036, 11, 10, 14, 0, tzinfo=UTC)
    assert BroadcastRecipient.objects.filter(broadcast=b).count() == 2


def test_an_occurrence_enqueues_its_audience_in_a_few_queries_whatever_its_size():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from journeys.services.broadcasts import broadcasts_tick

    counts = {}
    for size, slug, at in ((3, "few", T0), (400, "many", T0 + timedelta(hours=1))):
        audience = Audience.objects.create(slug=slug, name=slug, rule={"tag": slug})
        AudienceMembership.objects.bulk_create(
            [AudienceMembership(audience=audience, profile=profile_add(), entered_at=T0) for _ in range(size)]
        )
        Template.objects.get_or_create(slug="promo-a", defaults={"name": "a", "channel": "email"})
        b = Broadcast.objects.create(name=slug, audience_slug=slug, send_at=at)
        BroadcastVariant.objects.create(broadcast=b, key="a", template_slug="promo-a", weight=1)
        broadcast_schedule(broadcast=b)
        with CaptureQueriesContext(connection) as queries:
            assert broadcasts_tick(now=at) == size
        counts[slug] = len(queries)
        assert Message.objects.filter(campaign_kind="broadcast", campaign_id=b.pk).count() == size
    assert counts["many"] == counts["few"], counts
