"""Journey and audience events reach partner webhook subscriptions; merges and erasures move runs."""

from datetime import UTC, datetime, timedelta

import pytest

from audiences.models import Audience
from audiences.signals import membership_changed
from channels.partner.models import Delivery, Endpoint
from channels.partner.registry import event_type_known
from journeys.models import Run, RunStatus
from journeys.testing import event_emit, journey_live, profile_add, run_due
from tracking.models import Profile
from tracking.services.profiles import profile_erase, profile_merge

pytestmark = pytest.mark.django_db
T0 = datetime(2037, 4, 1, 9, 0, tzinfo=UTC)


def journey():
    return journey_live(
        {
            "slug": "partner-feed",
            "name": "Partner feed",
            "entry": {"event": "Signed Up"},
            "reentry": "after_exit",
            "goal": {"event": "Order Completed", "within_days": 3},
            "stages": [
                {"key": "one", "transitions": [{"to": "two", "after": {"hours": 1}}]},
                {"key": "two", "exit": True},
            ],
        }
    )


def test_journey_event_types_are_offered_and_published_to_subscribers():
    for name in ("journey.entered", "journey.stage_changed", "journey.converted", "journey.exited",
                 "audience.entered", "audience.exited"):  # fmt: skip
        assert event_type_known(name), name
    endpoint = Endpoint.objects.create(
        url="https://partner.example/in",
        secret="whsec_dGVzdA==",
        event_types=["journey.entered", "journey.stage_changed", "journey.converted", "journey.exited"],
    )
    journey()
    p = profile_add()
    event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0 + timedelta(hours=2))
    event_emit(profile=p, name="Order Completed", at=T0 + timedelta(hours=3))
    run_due(T0 + timedelta(hours=2))  # again: nothing is published twice
    kinds = sorted(Delivery.objects.filter(endpoint=endpoint).values_list("event_type", flat=True))
    assert kinds == ["journey.converted", "journey.entered", "journey.exited", "journey.stage_changed"]
    changed = Delivery.objects.get(event_type="journey.stage_changed").payload
    assert (changed["from_stage"], changed["stage"], changed["profile_id"]) == ("one", "two", p.pk)


def test_audience_membership_changes_are_forwarded_to_partners():
    endpoint = Endpoint.objects.create(
        url="https://partner.example/in",
        secret="whsec_dGVzdA==",
        event_types=["audience.entered", "audience.exited"],
    )
    audience = Audience.objects.create(slug="vip", name="VIP", rule={"tag": "vip"})
    a, b = profile_add(), profile_add()
    membership_changed.send(
        sender=Audience, audience_id=audience.pk, slug="vip", entered=[a.pk], exited=[b.pk]
    )
    rows = {(d.event_type, d.payload["profile_id"]) for d in Delivery.objects.filter(endpoint=endpoint)}
    assert rows == {("audience.entered", a.pk), ("audience.exited", b.pk)}


def test_a_merged_profiles_runs_move_to_the_survivor_and_an_erased_profiles_runs_go():
    journey()
    survivor, merged, erased = profile_add(), profile_add(), profile_add()
    for p in (survivor, merged, erased):
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    profile_merge(survivor=survivor, merged=merged, reason="same email")
    runs = Run.objects.filter(profile=survivor)
    assert runs.count() == 2
    assert runs.filter(status=RunStatus.ACTIVE).count() == 1  # one active run per journey and profile
    assert runs.get(status=RunStatus.EXITED).end_reason == "profile merged"
    profile_erase(profile=Profile.objects.get(pk=erased.pk))
    assert not Run.objects.filter(profile_id=erased.pk).exists()
