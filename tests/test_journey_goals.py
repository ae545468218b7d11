"""Goals are attributed to the run and its variant; holdout runs take every step without messages."""

from datetime import UTC, datetime, timedelta

import pytest

from channels.models import Message, Template
from journeys.engine.core import is_holdout
from journeys.models import Run
from journeys.testing import event_emit, events_emit_many, journey_live, profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2033, 2, 1, 12, 0, tzinfo=UTC)


def goal_journey(holdout_percent=0):
    Template.objects.get_or_create(slug="coupon-a", defaults={"name": "A", "channel": "email"})
    Template.objects.get_or_create(slug="coupon-b", defaults={"name": "B", "channel": "email"})
    return journey_live(
        {
            "slug": "winback",
            "name": "Win-back",
            "entry": {"event": "Churn Risk"},
            "goal": {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 0}], "within_days": 7},
            "holdout_percent": holdout_percent,
            "stages": [
                {"key": "ab", "split": [{"to": "a", "weight": 50}, {"to": "b", "weight": 50}]},
                {"key": "a", "actions": [{"send": {"channel": "email", "template": "coupon-a"}}],
                 "transitions": [{"to": "end", "after": {"days": 2}}]},
                {"key": "b", "actions": [{"send": {"channel": "email", "template": "coupon-b"}}],
                 "transitions": [{"to": "end", "after": {"days": 2}}]},
                {"key": "end", "exit": True},
            ],
        }
    )  # fmt: skip


def test_conversion_within_the_window_is_attributed_to_the_run_and_variant_even_after_it_ended():
    goal_journey()
    early, late, small = profile_add(), profile_add(), profile_add()
    for p in (early, late, small):
        event_emit(profile=p, name="Churn Risk", at=T0)
    run_due(T0 + timedelta(days=3))  # every run has ended
    event_emit(profile=early, name="Order Completed", at=T0 + timedelta(days=5), properties={"total": 30})
    event_emit(profile=early, name="Order Completed", at=T0 + timedelta(days=6), properties={"total": 99})
    event_emit(profile=late, name="Order Completed", at=T0 + timedelta(days=8), properties={"total": 30})
    event_emit(profile=small, name="Order Completed", at=T0 + timedelta(days=1), properties={"total": 0})
    runs = {r.profile_id: r for r in Run.objects.all()}
    assert runs[early.pk].converted_at == T0 + timedelta(days=5)  # the first conversion counts
    assert runs[early.pk].variant in ("a", "b")
    assert runs[late.pk].converted_at is None  # outside the 7-day window
    assert runs[small.pk].converted_at is None  # the where cond is not met


def test_holdout_runs_are_tracked_like_the_others_but_get_no_messages():
    journey = goal_journey(holdout_percent=30)
    profiles = [profile_add() for _ in range(200)]
    events_emit_many(profiles=profiles, name="Churn Risk", at=T0)
    run_due(T0)
    held = [p for p in profiles if is_holdout(journey_id=journey.pk, profile_id=p.pk, percent=30)]
    assert 35 < len(held) < 85
    assert set(Run.objects.filter(holdout=True).values_list("profile_id", flat=True)) == {p.pk for p in held}
    # Holdout runs visit the same stages…
    assert all(r.stage_key in ("a", "b") for r in Run.objects.filter(holdout=True))
    # …but only the others get a message, tagged with the journey, stage and variant.
    messaged = set(Message.objects.values_list("profile_id", flat=True))
    assert messaged == {p.pk for p in profiles} - {p.pk for p in held}
    for m in Message.objects.all()[:20]:
        run = Run.objects.get(profile_id=m.profile_id)
        assert (m.campaign_kind, m.campaign_id, m.stage_key, m.variant) == (
            "journey",
            journey.pk,
            run.stage_key,
            run.variant,
        )
    # Holdout conversions count too, so uplift can be measured.
    event_emit(profile=held[0], name="Order Completed", at=T0 + timedelta(days=1), properties={"total": 10})
    assert Run.objects.get(profile=held[0]).converted_at is not None


def test_the_dry_run_and_the_engine_share_one_goal_check_with_its_where():
    from journeys.services.dryrun import journey_dry_run

    journey = goal_journey()
    p = profile_add()
    event_emit(profile=p, name="Churn Risk", at=T0)
    free = event_emit(profile=p, name="Order Completed", at=T0 + timedelta(days=1), properties={"total": 0})
    paid = event_emit(profile=p, name="Order Completed", at=T0 + timedelta(days=2), properties={"total": 5})
    assert free.pk < paid.pk
    run_due(T0 + timedelta(days=3))
    run = Run.objects.get(profile=p)
    # The dry run replays the same history: the order with total 0 does not meet goal.where.
    dry = journey_dry_run(journey=journey, profile_id=p.pk, entered_at=T0, now=T0 + timedelta(days=3))
    assert dry["goal"]["converted_at"] == run.converted_at.isoformat() == (T0 + timedelta(days=2)).isoformat()
    assert dry["goal"]["event_id"] == run.conversion_event_id == paid.pk


def test_the_dry_run_reports_no_conversion_when_only_the_goal_event_name_matches():
    from journeys.services.dryrun import journey_dry_run

    journey = goal_journey()
    p = profile_add()
    event_emit(profile=p, name="Order Completed", at=T0 + timedelta(days=1), properties={"total": 0})
    dry = journey_dry_run(journey=journey, profile_id=p.pk, entered_at=T0, now=T0 + timedelta(days=3))
    assert dry["goal"]["converted_at"] is None and dry["goal"]["event_id"] is None
