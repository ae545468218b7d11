"""Each stage type and transition: actions, on_event (with where), after, if, on_audience_entered,
split, exit stages, exit_when; the transition that fires first in time wins."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from audiences.models import Audience, AudienceMembership
from audiences.signals import membership_changed
from channels.models import Message, Template
from channels.partner.models import Delivery, Endpoint
from journeys.models import Run, RunStatus
from journeys.testing import event_emit, events_emit_many, journey_live, profile_add, run_due
from tracking.models import Profile

pytestmark = pytest.mark.django_db
T0 = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)


def run_of(profile):
    return Run.objects.get(profile=profile)


def history(profile):
    return [(s.stage_key, s.reason) for s in run_of(profile).steps.all()]


def test_send_tag_trait_and_webhook_actions_run_once_per_stage_visit():
    Template.objects.create(slug="welcome-mail", name="Welcome", channel="email")
    endpoint = Endpoint.objects.create(
        url="https://partner.example/hook", secret="whsec_dGVzdA==", event_types=[]
    )
    journey = journey_live(
        {
            "slug": "acts",
            "name": "Actions",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "welcome", "actions": [
                    {"send": {"channel": "email", "template": "welcome-mail", "topic": "marketing"}},
                    {"tag": {"add": "welcomed"}},
                    {"tag": {"remove": "prospect"}},
                    {"set_trait": {"journey.welcome": True, "gift": "WELCOME10"}},
                    {"webhook": {"endpoint": endpoint.pk, "payload": {"kind": "welcome"}}},
                ], "transitions": [{"to": "done", "after": {"days": 1}}]},
                {"key": "done", "exit": True},
            ],
        }
    )  # fmt: skip
    p = profile_add(tags=["prospect"])
    event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    run_due(T0)  # nothing due any more: no second message, no second call
    message = Message.objects.get(profile=p)
    assert (message.campaign_kind, message.campaign_id, message.stage_key) == (
        "journey",
        journey.pk,
        "welcome",
    )
    assert message.template.slug == "welcome-mail"
    p.refresh_from_db()
    assert p.tags == ["welcomed"]
    assert p.traits["journey"] == {"welcome": True} and p.traits["gift"] == "WELCOME10"
    call = Delivery.objects.get(endpoint=endpoint, event_type="journey.webhook")
    assert call.payload["kind"] == "welcome" and call.payload["stage"] == "welcome"
    step = run_of(p).steps.get(stage_key="welcome")
    assert step.detail["actions"][0]["message_id"] == message.pk
    run_due(T0 + timedelta(days=1))
    assert run_of(p).status == RunStatus.COMPLETED
    assert Message.objects.filter(profile=p).count() == 1


def order_journey():
    return journey_live(
        {
            "slug": "orders",
            "name": "Orders",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "wait", "transitions": [
                    {"to": "big", "on_event": {"event": "Order Completed",
                                               "where": [{"property": "total", "op": "gte", "value": 100}]}},
                    {"to": "timeout", "after": {"days": 3}},
                    {"to": "small", "on_event": {"event": "Order Completed"}},
                ]},
                {"key": "big", "exit": True},
                {"key": "small", "exit": True},
                {"key": "timeout", "exit": True},
            ],
        }
    )  # fmt: skip


def test_on_event_fires_on_later_matching_events_and_the_earliest_firing_transition_wins():
    order_journey()
    big, small, idle, before = (profile_add() for _ in range(4))
    for p in (big, small, idle, before):
        if p is before:
            # An order before entering the stage does not count.
            event_emit(
                profile=p, name="Order Completed", at=T0 - timedelta(hours=1), properties={"total": 500}
            )
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    event_emit(profile=small, name="Order Completed", at=T0 + timedelta(hours=5), properties={"total": 20})
    event_emit(profile=big, name="Order Completed", at=T0 + timedelta(hours=6), properties={"total": 20})
    event_emit(profile=big, name="Order Completed", at=T0 + timedelta(hours=7), properties={"total": 150})
    # An order after the three-day timeout comes too late.
    event_emit(
        profile=idle, name="Order Completed", at=T0 + timedelta(days=3, hours=1), properties={"total": 900}
    )
    run_due(T0 + timedelta(days=4))
    assert run_of(big).stage_key == "small"  # the small order at +6h came first
    assert run_of(small).stage_key == "small"
    assert run_of(idle).stage_key == "timeout"
    assert run_of(before).stage_key == "timeout"
    assert history(small)[-1] == ("small", "event Order Completed")
    assert run_of(small).steps.get(stage_key="small").at == T0 + timedelta(hours=5)


def test_if_is_decided_on_entering_the_stage():
    journey_live(
        {
            "slug": "vip-check",
            "name": "VIP check",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "check", "transitions": [
                    {"to": "vip", "if": {"tag": "vip"}},
                    {"to": "regular", "after": {"hours": 1}},
                ]},
                {"key": "vip", "exit": True},
                {"key": "regular", "exit": True},
            ],
        }
    )  # fmt: skip
    vip, regular = profile_add(tags=["vip"]), profile_add()
    for p in (vip, regular):
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    assert run_of(vip).stage_key == "vip"
    assert run_of(regular).stage_key == "check"
    Profile.objects.filter(pk=regular.pk).update(tags=["vip"])  # too late: "if" was decided on entry
    run_due(T0 + timedelta(hours=2))
    assert run_of(regular).stage_key == "regular"


def test_on_audience_entered_moves_a_waiting_run():
    audience = Audience.objects.create(slug="vips", name="VIPs", rule={"tag": "vip"})
    journey_live(
        {
            "slug": "wait-vip",
            "name": "Wait for VIP",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "waiting", "transitions": [
                    {"to": "vip", "on_audience_entered": "vips"},
                    {"to": "gave-up", "after": {"days": 30}},
                ]},
                {"key": "vip", "exit": True},
                {"key": "gave-up", "exit": True},
            ],
        }
    )  # fmt: skip
    p = profile_add()
    event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    # What audiences does when the profile qualifies: a membership row, then the signal after commit.
    AudienceMembership.objects.create(audience=audience, profile=p, entered_at=T0 + timedelta(days=2))
    membership_changed.send(sender=Audience, audience_id=audience.pk, slug="vips", entered=[p.pk], exited=[])
    run_due(T0 + timedelta(days=2))
    run = run_of(p)
    assert run.stage_key == "vip"
    assert run.steps.get(stage_key="vip").at == T0 + timedelta(days=2)


def test_split_is_deterministic_per_run_and_follows_the_weights():
    journey_live(
        {
            "slug": "ab",
            "name": "AB",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "ab", "split": [{"to": "a", "weight": 80}, {"to": "b", "weight": 20}]},
                {"key": "a", "transitions": [{"to": "end", "after": {"days": 1}}]},
                {"key": "b", "transitions": [{"to": "end", "after": {"days": 1}}]},
                {"key": "end", "exit": True},
            ],
        }
    )
    profiles = [profile_add() for _ in range(300)]
    events_emit_many(profiles=profiles, name="Signed Up", at=T0)
    run_due(T0)
    counts = Counter(Run.objects.values_list("variant", flat=True))
    assert set(counts) == {"a", "b"}
    assert 200 < counts["a"] < 270, counts  # 80% of 300 = 240
    assert all(r.stage_key == r.variant for r in Run.objects.all())


def test_exit_when_event_ends_the_run_before_later_transitions():
    journey_live(
        {
            "slug": "exit-on-unsub",
            "name": "Exit",
            "entry": {"event": "Signed Up"},
            "exit_when": [{"event": "Account Closed"}],
            "stages": [
                {"key": "a", "transitions": [{"to": "b", "after": {"days": 1}}]},
                {"key": "b", "transitions": [{"to": "c", "after": {"days": 1}}]},
                {"key": "c", "exit": True},
            ],
        }
    )
    leaver, stayer = profile_add(), profile_add()
    for p in (leaver, stayer):
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    event_emit(profile=leaver, name="Account Closed", at=T0 + timedelta(hours=30))
    run_due(T0 + timedelta(days=5))  # catching up: the exit at +30h comes before b → c at +48h
    run = run_of(leaver)
    assert (run.status, run.stage_key) == (RunStatus.EXITED, "b")
    assert run.ended_at == T0 + timedelta(hours=30) and "Account Closed" in run.end_reason
    assert run_of(stayer).status == RunStatus.COMPLETED
