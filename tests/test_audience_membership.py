"""Membership is materialised with history, follows new events through the real pipeline, moves
with time windows, follows merges and erasures, and every change is announced after commit."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from audiences.models import Audience, AudienceMembership
from audiences.services.membership import audience_refresh, audiences_refresh_due
from audiences.signals import membership_changed
from audiences.testing import event_add, profile_add
from tracking.ingest import ingest_messages
from tracking.models import Identity, Profile
from tracking.processing import events_process_pending
from tracking.services.profiles import consent_set, profile_erase, profile_merge

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def announcements():
    seen = []

    def receiver(sender, **kwargs):
        seen.append({k: kwargs[k] for k in ("slug", "entered", "exited")})

    membership_changed.connect(receiver, dispatch_uid="test-announcements")
    yield seen
    membership_changed.disconnect(dispatch_uid="test-announcements")


def open_members(audience):
    return set(audience.memberships.filter(exited_at__isnull=True).values_list("profile_id", flat=True))


def test_full_refresh_inserts_new_members_closes_exits_and_keeps_history(
    announcements, django_capture_on_commit_callbacks
):
    gold = profile_add(traits={"plan": "gold"})
    silver = profile_add(traits={"plan": "silver"})
    audience = Audience.objects.create(
        slug="gold", name="Gold", rule={"trait": "plan", "op": "eq", "value": "gold"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = audience_refresh(audience_id=audience.pk, now=NOW)
    assert first.entered == [gold.pk] and first.exited == []
    assert open_members(audience) == {gold.pk}

    Profile.objects.filter(pk=gold.pk).update(traits={"plan": "silver"})
    Profile.objects.filter(pk=silver.pk).update(traits={"plan": "gold"})
    with django_capture_on_commit_callbacks(execute=True):
        second = audience_refresh(audience_id=audience.pk, now=NOW + timedelta(hours=1))
    assert (second.entered, second.exited) == ([silver.pk], [gold.pk])
    history = AudienceMembership.objects.get(audience=audience, profile=gold)
    assert history.entered_at == NOW and history.exited_at == NOW + timedelta(hours=1)
    audience.refresh_from_db()
    assert audience.member_count == 1 and audience.last_refreshed_at is not None
    assert announcements == [
        {"slug": "gold", "entered": [gold.pk], "exited": []},
        {"slug": "gold", "entered": [silver.pk], "exited": [gold.pk]},
    ]
    # Nothing changed: nothing announced, no new rows.
    with django_capture_on_commit_callbacks(execute=True):
        audience_refresh(audience_id=audience.pk, now=NOW + timedelta(hours=2))
    assert len(announcements) == 2 and AudienceMembership.objects.count() == 2


def test_membership_follows_new_events_through_the_pipeline(
    source, announcements, django_capture_on_commit_callbacks
):
    buyers = Audience.objects.create(
        slug="buyers",
        name="Ordered twice in 30 days",
        rule={"event": "Order Completed", "count": {"gte": 2}, "within_days": 30},
    )
    browsers = Audience.objects.create(
        slug="no-orders", name="Never ordered", rule={"not": {"event": "Order Completed"}}
    )
    unrelated = Audience.objects.create(
        slug="gold", name="Gold", rule={"trait": "plan", "op": "eq", "value": "gold"}
    )

    def send(event):
        with django_capture_on_commit_callbacks(execute=True):
            ingest_messages([{"type": "track", "userId": "u1", "event": event}], source=source)
            events_process_pending()

    send("Product Viewed")
    profile_id = Identity.objects.get(value="u1").profile_id
    # A profile's first event makes it a never-ordered member; unrelated audiences are not touched.
    assert open_members(browsers) == {profile_id}
    send("Order Completed")
    assert open_members(browsers) == set() and open_members(buyers) == set()
    send("Order Completed")
    assert open_members(buyers) == {profile_id}
    assert {"slug": "buyers", "entered": [profile_id], "exited": []} in announcements
    assert {"slug": "no-orders", "entered": [], "exited": [profile_id]} in announcements
    assert not unrelated.memberships.exists()


def test_consent_changes_reevaluate_consent_audiences(django_capture_on_commit_callbacks):
    p = profile_add()
    audience = Audience.objects.create(slug="optin", name="Email opt-in", rule={"consent": "email"})
    with django_capture_on_commit_callbacks(execute=True):
        consent_set(profile=p, channel="email", granted=True, method="form")
    assert open_members(audience) == {p.pk}
    with django_capture_on_commit_callbacks(execute=True):
        consent_set(profile=p, channel="email", granted=False, method="form")
    assert open_members(audience) == set()


@override_settings(AUDIENCES_WINDOW_REFRESH_MINUTES=5)
def test_time_windows_move_without_new_events(announcements, django_capture_on_commit_callbacks):
    p = profile_add()
    event_add(profile=p, name="Order Completed", at=NOW - timedelta(days=29))
    audience = Audience.objects.create(
        slug="recent",
        name="Ordered in 30 days",
        rule={"event": "Order Completed", "within_days": 30},
        refresh_every_minutes=1440,
    )
    audience_refresh(audience_id=audience.pk, now=NOW)
    audience.refresh_from_db()
    # A window audience is due again in minutes, not at its daily refresh.
    assert audience.next_refresh_at == NOW + timedelta(minutes=5)
    assert open_members(audience) == {p.pk}
    later = NOW + timedelta(days=1, minutes=5)
    assert audiences_refresh_due(now=later) == [audience.pk]
    assert audiences_refresh_due(now=later) == []  # leased by the first claim
    with django_capture_on_commit_callbacks(execute=True):
        audience_refresh(audience_id=audience.pk, now=later)
    assert open_members(audience) == set()
    assert announcements[-1] == {"slug": "recent", "entered": [], "exited": [p.pk]}


def test_merge_moves_memberships_to_the_survivor():
    survivor, merged = profile_add(traits={"plan": "gold"}), profile_add(traits={"plan": "gold"})
    both = Audience.objects.create(
        slug="gold", name="Gold", rule={"trait": "plan", "op": "eq", "value": "gold"}
    )
    only_merged = Audience.objects.create(slug="x", name="X", rule={"trait": "plan", "op": "exists"})
    audience_refresh(audience_id=both.pk, now=NOW)
    AudienceMembership.objects.create(audience=only_merged, profile=merged, entered_at=NOW)
    profile_merge(survivor=survivor, merged=merged, reason="test")
    assert open_members(both) == {survivor.pk}
    assert open_members(only_merged) == {survivor.pk}
    assert AudienceMembership.objects.filter(audience=both, profile=survivor).count() == 2  # history kept


def test_erasure_removes_memberships_and_announces_the_exit(
    announcements, django_capture_on_commit_callbacks
):
    p = profile_add(tags=["vip"])
    audience = Audience.objects.create(slug="vip", name="VIP", rule={"tag": "vip"})
    audience_refresh(audience_id=audience.pk, now=NOW)
    erased_id = p.pk
    with django_capture_on_commit_callbacks(execute=True):
        profile_erase(profile=p)
    assert not AudienceMembership.objects.exists()
    assert announcements[-1] == {"slug": "vip", "entered": [], "exited": [erased_id]}
