"""Entering journeys: idempotent per trigger, re-entry policies, entry rules, audience and schedule entries."""

from datetime import UTC, datetime, timedelta

import pytest

from audiences.models import Audience, AudienceMembership
from audiences.signals import membership_changed
from journeys.models import Run, RunStatus
from journeys.services.entry import run_enroll_profile
from journeys.testing import event_emit, journey_live, profile_add, run_due
from tracking import signals as tracking_signals
from tracking.models import Event

pytestmark = pytest.mark.django_db
T0 = datetime(2032, 1, 10, 9, 0, tzinfo=UTC)


def short_journey(slug="short", **extra):
    return journey_live(
        {
            "slug": slug,
            "name": slug,
            "entry": {
                "event": "Viewed Product",
                "where": [{"property": "category", "op": "eq", "value": "shoes"}],
            },
            "stages": [
                {"key": "a", "transitions": [{"to": "end", "after": {"days": 1}}]},
                {"key": "end", "exit": True},
            ],
            **extra,
        }
    )


def test_the_same_event_never_enrolls_twice_and_where_conds_filter_entries():
    short_journey(reentry="after_exit")
    p = profile_add()
    shoes = event_emit(profile=p, name="Viewed Product", at=T0, properties={"category": "shoes"})
    event_emit(profile=p, name="Viewed Product", at=T0, properties={"category": "hats"})
    # The processor announcing the same event again (a retried batch) changes nothing.
    tracking_signals.events_processed.send(sender=Event, event_ids=[shoes.pk], profile_ids=[p.pk])
    assert Run.objects.filter(profile=p).count() == 1
    assert Run.objects.get(profile=p).entry_key == f"event:{shoes.pk}"


@pytest.mark.parametrize(
    ("reentry", "expected_runs"),
    [("never", 1), ("after_exit", 2), ({"cooldown_days": 5}, 2), ({"cooldown_days": 30}, 1)],
)
def test_reentry_policies(reentry, expected_runs):
    short_journey(reentry=reentry)
    p = profile_add()
    event_emit(profile=p, name="Viewed Product", at=T0, properties={"category": "shoes"})
    # While the first run is active nobody enters twice, whatever the policy.
    event_emit(profile=p, name="Viewed Product", at=T0 + timedelta(hours=1), properties={"category": "shoes"})
    assert Run.objects.filter(profile=p).count() == 1
    run_due(T0 + timedelta(days=2))
    assert Run.objects.get(profile=p).status == RunStatus.COMPLETED
    event_emit(profile=p, name="Viewed Product", at=T0 + timedelta(days=10), properties={"category": "shoes"})
    assert Run.objects.filter(profile=p).count() == expected_runs


def test_entry_rule_is_checked_at_entry():
    short_journey(entry_rule={"trait": "country", "op": "in", "value": ["DE", "AT"]})
    de, us = profile_add(traits={"country": "DE"}), profile_add(traits={"country": "US"})
    for p in (de, us):
        event_emit(profile=p, name="Viewed Product", at=T0, properties={"category": "shoes"})
    assert list(Run.objects.values_list("profile_id", flat=True)) == [de.pk]


def test_audience_entry_enrolls_once_per_membership():
    audience = Audience.objects.create(slug="new-buyers", name="New buyers", rule={"tag": "buyer"})
    journey_live(
        {
            "slug": "onboard",
            "name": "Onboard",
            "entry": {"audience_entered": "new-buyers"},
            "reentry": "after_exit",
            "stages": [
                {"key": "hello", "transitions": [{"to": "end", "after": {"hours": 1}}]},
                {"key": "end", "exit": True},
            ],
        }
    )
    p = profile_add()
    AudienceMembership.objects.create(audience=audience, profile=p, entered_at=T0)
    for _ in range(2):  # the announcement repeated
        membership_changed.send(
            sender=Audience, audience_id=audience.pk, slug=audience.slug, entered=[p.pk], exited=[]
        )
    run = Run.objects.get(profile=p)
    assert run.entered_at == T0 and run.entry_key.startswith("audience:new-buyers:")


def test_schedule_entry_fires_at_the_cron_time_in_each_recipients_zone():
    audience = Audience.objects.create(slug="weekly", name="Weekly", rule={"tag": "weekly"})
    tokyo, berlin = profile_add(timezone="Asia/Tokyo"), profile_add(timezone="Europe/Berlin")
    for p in (tokyo, berlin):
        AudienceMembership.objects.create(audience=audience, profile=p, entered_at=T0)
    journey = journey_live(
        {
            "slug": "monday-digest",
            "name": "Monday digest",
            "entry": {"schedule": "0 10 * * 1", "audience": "weekly", "timezone": "recipient"},
            "reentry": "after_exit",
            "stages": [
                {"key": "digest", "transitions": [{"to": "end", "after": {"hours": 1}}]},
                {"key": "end", "exit": True},
            ],
        },
        now=datetime(2032, 1, 11, 0, 0, tzinfo=UTC),  # Sunday
    )
    run_due(datetime(2032, 1, 12, 1, 0, tzinfo=UTC))  # Monday 10:00 in Tokyo is 01:00Z
    assert list(Run.objects.values_list("profile_id", flat=True)) == [tokyo.pk]
    run_due(datetime(2032, 1, 12, 9, 0, tzinfo=UTC))  # 10:00 in Berlin (CET)
    runs = {r.profile_id: r for r in Run.objects.all()}
    assert runs[berlin.pk].entered_at == datetime(2032, 1, 12, 9, 0, tzinfo=UTC)
    run_due(datetime(2032, 1, 12, 9, 0, tzinfo=UTC))  # ticking again enrolls nobody twice
    assert Run.objects.filter(journey=journey).count() == 2
    run_due(datetime(2032, 1, 19, 12, 0, tzinfo=UTC))  # a week later: both again
    assert Run.objects.filter(journey=journey).count() == 4


def test_manual_enrollment_is_idempotent_by_key():
    journey = short_journey()
    p = profile_add()
    first = run_enroll_profile(journey=journey, profile_id=p.pk, key="crm-42", at=T0)
    again = run_enroll_profile(journey=journey, profile_id=p.pk, key="crm-42", at=T0)
    assert (first.created, again.created) == (1, 0)
    assert again.refused == {"duplicate entry": 1}
    unknown = run_enroll_profile(journey=journey, profile_id=10**9, key="x", at=T0)
    assert unknown.refused == {"unknown profile": 1}


def test_paused_journeys_take_no_entries_and_do_not_advance_until_resumed():
    from journeys.services.versions import journey_pause, journey_resume

    journey = short_journey()
    p = profile_add()
    event_emit(profile=p, name="Viewed Product", at=T0, properties={"category": "shoes"})
    run_due(T0)
    journey_pause(journey=journey)
    other = profile_add()
    event_emit(profile=other, name="Viewed Product", at=T0, properties={"category": "shoes"})
    run_due(T0 + timedelta(days=3))
    assert Run.objects.get(profile=p).stage_key == "a"
    assert not Run.objects.filter(profile=other).exists()
    journey_resume(journey=journey)
    run_due(T0 + timedelta(days=3))
    assert Run.objects.get(profile=p).status == RunStatus.COMPLETED
