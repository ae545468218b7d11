"""Journeys and on-site messages, on PostgreSQL: a journey step queues message M for its profile's
next visit; the next decide shows it once, past its audience targeting; the view comes back as a
tracking event and the run takes its "viewed" path. Queued items expire. And the stop-after-a-
conversion cap."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone

from audiences.models import Audience, AudienceKind
from journeys.definition import definition_validate
from journeys.models import Journey, Run, RunStep
from journeys.onsite.models import Message, QueuedMessage, Status
from journeys.onsite.queue import queued_prune
from journeys.onsite.services import (
    PageContext,
    interaction_record,
    message_validate,
    messages_cache_clear,
    messages_decide,
)
from journeys.services.dryrun import journey_dry_run
from journeys.testing import event_emit, journey_live, run_due
from tests.onsite_helpers import _fresh_site_messages, onsite_message, onsite_site  # noqa: F401
from tests.tracking_helpers import ingest
from tracking.models import Identity, IdentityKind, Profile, Source
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(db) -> Source:
    return onsite_site(write_key="wk_onsite_journey")


def _message(site: Source, name: str, **fields) -> Message:
    return onsite_message(site, name, headline=f"{name} for {{{{ profile.first_name }}}}", **fields)


def _known(site: Source, *, user_id: str, anonymous_id: str) -> Profile:
    ingest(
        site,
        {
            "type": "identify",
            "messageId": f"id-{user_id}",
            "userId": user_id,
            "anonymousId": anonymous_id,
            "traits": {"email": f"{user_id}@example.com", "first_name": "Ada"},
        },
    )
    return Identity.objects.get(kind=IdentityKind.USER_ID, value=user_id).profile


def _ctx(anonymous_id: str, **overrides) -> PageContext:
    values = dict(
        anonymous_id=anonymous_id,
        session_id="s-1",
        page_view_id="pv-1",
        url="https://shop.example.com/products/teapot",
    )
    values.update(overrides)
    return PageContext(**values)


def _shown(site: Source, anonymous_id: str, **ctx) -> list[int]:
    return [m["id"] for m in messages_decide(source=site, context=_ctx(anonymous_id, **ctx))]


def _offer_journey(message: Message, *, expires_days: int | None = None, holdout: int = 0) -> Journey:
    action = {"message": message.pk, **({"expires_days": expires_days} if expires_days else {})}
    return journey_live(
        {
            "slug": "cart-offer",
            "name": "Cart offer on the site",
            "entry": {"event": "Cart Abandoned"},
            "holdout_percent": holdout,
            "stages": [
                {
                    "key": "offer",
                    "actions": [{"onsite": action}],
                    "transitions": [
                        {"to": "viewed", "on_onsite": {"message": message.pk, "did": "viewed"}},
                        {"to": "not-viewed", "after": {"days": 3}},
                    ],
                },
                {"key": "viewed", "exit": True},
                {"key": "not-viewed", "exit": True},
            ],
        }
    )


def test_journey_queues_the_message_the_next_decide_shows_it_once_and_the_view_takes_the_viewed_path(
    site, django_capture_on_commit_callbacks
):
    vip = Audience.objects.create(slug="vip", name="VIP", kind=AudienceKind.STATIC)
    # Targeted at an audience the profile is not in: only the journey's queue can show it. (A bar:
    # the pop-up gap does not hold it back, so what stops it below is "once".)
    offer = _message(site, "Cart offer", kind="bar_top", audience=vip, once_per_session=False)
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    journey = _offer_journey(offer)
    assert _shown(site, "anon-1") == []

    start = timezone.now() - timedelta(minutes=5)
    event_emit(profile=profile, name="Cart Abandoned", at=start)
    run_due(timezone.now())
    run = Run.objects.get(journey=journey, profile=profile)
    assert run.stage_key == "offer"
    queued = QueuedMessage.objects.get()
    assert (queued.message_id, queued.profile_id, queued.run_id) == (offer.pk, profile.pk, run.pk)
    assert queued.key == f"journey-run:{run.pk}:visit:1:action:0"
    assert queued.expires_at - queued.queued_at == timedelta(days=7)
    step = RunStep.objects.get(run=run, seq=1)
    assert step.detail["actions"] == [{"onsite": "queued", "message": offer.pk, "expires_days": 7}]

    # The next page view (the snippet's one request) shows it past the audience rule, rendered for
    # the profile; it is offered until it is viewed.
    response = Client().post(
        "/v1/onsite/decide",
        data=json.dumps({"writeKey": site.write_key, "anonymousId": "anon-1", "sessionId": "s-1",
                         "pageViewId": "pv-1", "url": "https://shop.example.com/products/teapot"}),
        content_type="text/plain", HTTP_ORIGIN="https://shop.example.com",
    )  # fmt: skip
    answer = response.json()["messages"]
    assert [m["id"] for m in answer] == [offer.pk]
    assert answer[0]["content"]["headline"] == "Cart offer for Ada"
    assert _shown(site, "anon-1", page_view_id="pv-2") == [offer.pk]  # not yet viewed: still offered
    interaction_record(
        source=site, context=_ctx("anon-1", page_view_id="pv-2"), message_id=offer.pk, arm="A", kind="view"
    )
    assert _shown(site, "anon-1", page_view_id="pv-3", session_id="s-2") == []

    # The view came back as a tracking event on the profile; the run takes the "viewed" path.
    with django_capture_on_commit_callbacks(execute=True):  # tracking announces after its commit
        events_process_pending()
    run_due(timezone.now())
    run.refresh_from_db()
    assert (run.status, run.stage_key) == ("completed", "viewed")
    assert RunStep.objects.get(run=run, seq=2).reason == "on-site message viewed"


def test_a_profile_that_does_not_view_it_takes_the_other_path_and_other_profiles_never_see_it(site):
    offer = _message(site, "Sign-up offer", who="anonymous")
    viewer = _known(site, user_id="u-1", anonymous_id="anon-1")
    _known(site, user_id="u-2", anonymous_id="anon-2")
    journey = _offer_journey(offer)
    start = timezone.now() - timedelta(days=4)
    event_emit(profile=viewer, name="Cart Abandoned", at=start)
    run_due(timezone.now())
    # Another known profile is neither queued nor targeted ("only unknown visitors").
    assert _shown(site, "anon-2") == []
    run = Run.objects.get(journey=journey)
    # Queued four days ago and offered for seven: still there; the run waited three days and moved on.
    assert _shown(site, "anon-1") == [offer.pk]
    assert (run.status, run.stage_key) == ("completed", "not-viewed")


def test_queued_items_expire_and_are_pruned(site):
    offer = _message(site, "Short offer", who="anonymous")
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    _offer_journey(offer, expires_days=2)
    event_emit(profile=profile, name="Cart Abandoned", at=timezone.now() - timedelta(days=2, minutes=1))
    # Catching up queues it at the visit's moment: two days and a minute ago, so it has just expired.
    # (run_due's own prune runs after the batch, as of the same moment: call it on an earlier clock.)
    from journeys.engine.runner import runs_advance_due

    runs_advance_due(now=timezone.now())
    queued = QueuedMessage.objects.get()
    assert queued.expires_at < timezone.now()
    assert _shown(site, "anon-1") == []
    assert queued_prune(now=timezone.now()) == 1
    assert not QueuedMessage.objects.exists()


@override_settings(ONSITE_QUEUE_DAYS=2)
def test_the_default_expiry_is_a_setting(site):
    offer = _message(site, "Offer")
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    _offer_journey(offer)
    event_emit(profile=profile, name="Cart Abandoned", at=timezone.now() - timedelta(minutes=1))
    run_due(timezone.now())
    queued = QueuedMessage.objects.get()
    assert queued.expires_at - queued.queued_at == timedelta(days=2)


def test_a_retried_step_queues_nothing_twice_and_holdout_runs_queue_nothing(site):
    offer = _message(site, "Offer")
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    journey = _offer_journey(offer)
    entered = timezone.now() - timedelta(minutes=1)
    event_emit(profile=profile, name="Cart Abandoned", at=entered)
    run_due(timezone.now())
    run = Run.objects.get()
    # The run redoes the same visit, as it would after a batch whose run update was lost: same key.
    RunStep.objects.filter(run=run).delete()
    Run.objects.filter(pk=run.pk).update(stage_key="", stage_entered_at=None, visits=0, due_at=entered)
    run_due(timezone.now())
    assert QueuedMessage.objects.count() == 1
    assert RunStep.objects.get(run=run, seq=1).detail["actions"][0]["onsite"] == "queued"

    # Holdout runs take the step but queue nothing (as they get no message).
    held = journey_live({**journey.live_version.definition, "slug": "all-held", "holdout_percent": 100})
    other = _known(site, user_id="u-2", anonymous_id="anon-2")
    event_emit(profile=other, name="Cart Abandoned", at=entered)
    run_due(timezone.now())
    held_run = Run.objects.get(journey=held, profile=other)
    assert RunStep.objects.get(run=held_run, seq=1).detail["actions"] == [
        {"onsite": "holdout", "message": offer.pk}
    ]
    assert not QueuedMessage.objects.filter(journey=held).exists()


def test_queued_message_still_follows_its_url_rules_status_and_the_site_wide_pop_up_gap(site):
    offer = _message(
        site, "Cart page offer", audience=Audience.objects.create(slug="a", name="A", kind=AudienceKind.STATIC),
        url_rules=[{"match": "contains", "value": "/cart"}], once_per_session=False,
    )  # fmt: skip
    other = _message(site, "Any page pop-up", who="known", once_per_session=False, priority=5)
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    _offer_journey(offer)
    event_emit(profile=profile, name="Cart Abandoned", at=timezone.now() - timedelta(minutes=1))
    run_due(timezone.now())
    assert _shown(site, "anon-1", url="https://shop.example.com/products/teapot") == [other.pk]
    # On the cart page it comes first (it takes its place before others of higher priority).
    assert _shown(site, "anon-1", url="https://shop.example.com/cart") == [offer.pk, other.pk]
    # A pop-up seen on another page a moment ago holds every pop-up back, the queued one too.
    interaction_record(
        source=site, context=_ctx("anon-1", page_view_id="pv-9"), message_id=other.pk, arm="A", kind="view"
    )
    assert _shown(site, "anon-1", url="https://shop.example.com/cart", page_view_id="pv-10") == []
    # A paused message shows nothing, queued or not.
    Message.objects.filter(pk=offer.pk).update(status=Status.PAUSED)
    messages_cache_clear()
    assert offer.pk not in _shown(site, "anon-1", url="https://shop.example.com/cart", page_view_id="pv-11")


def test_a_branch_decides_on_entering_whether_the_message_was_clicked(
    site, django_capture_on_commit_callbacks
):
    offer = _message(site, "Offer")
    clicker = _known(site, user_id="u-1", anonymous_id="anon-1")
    idle = _known(site, user_id="u-2", anonymous_id="anon-2")
    journey = journey_live(
        {
            "slug": "offer-check",
            "name": "Offer, then check",
            "entry": {"event": "Cart Abandoned"},
            "stages": [
                {"key": "offer", "actions": [{"onsite": {"message": offer.pk}}],
                 "transitions": [{"to": "check", "after": {"hours": 1}}]},
                # Decided on entering: clicked at any time since the run entered, or not.
                {"key": "check", "transitions": [
                    {"to": "clicked", "on_onsite": {"message": offer.pk, "did": "clicked"}},
                    {"to": "other", "else": True}]},
                {"key": "clicked", "exit": True},
                {"key": "other", "exit": True},
            ],
        }
    )  # fmt: skip
    for profile in (clicker, idle):
        event_emit(profile=profile, name="Cart Abandoned", at=timezone.now() - timedelta(minutes=30))
    run_due(timezone.now())  # queued; waiting in "offer" for half an hour more
    interaction_record(source=site, context=_ctx("anon-1"), message_id=offer.pk, arm="A", kind="view")
    interaction_record(source=site, context=_ctx("anon-1"), message_id=offer.pk, arm="A", kind="click")
    interaction_record(source=site, context=_ctx("anon-2"), message_id=offer.pk, arm="A", kind="view")
    with django_capture_on_commit_callbacks(execute=True):  # tracking announces after its commit
        events_process_pending()
    later = timezone.now() + timedelta(hours=1)
    run_due(later)
    stages = dict(Run.objects.filter(journey=journey).values_list("profile_id", "stage_key"))
    assert stages == {clicker.pk: "clicked", idle.pk: "other"}
    # The dry run reads the same history and says what the action does.
    report = journey_dry_run(journey=journey, profile_id=clicker.pk, now=later)
    assert [s["stage"] for s in report["steps"]] == ["offer", "check", "clicked"]
    assert report["steps"][0]["actions"] == [
        f"show on-site message {offer.pk} 'Offer' on the next visit (offered for 7 days)"
    ]


def test_validation_names_the_field(site):
    paused = _message(site, "Paused", status=Status.PAUSED)
    definition = {
        "slug": "bad",
        "name": "Bad",
        "entry": {"event": "Cart Abandoned"},
        "stages": [
            {"key": "a", "actions": [
                {"onsite": {"message": "offer"}},
                {"onsite": {"message": 999999, "expires_days": 0, "colour": "red"}},
                {"onsite": {"message": paused.pk}}],
             "transitions": [
                {"to": "b", "on_onsite": {"message": paused.pk, "did": "opened"}},
                {"to": "b", "on_onsite": {"message": True, "did": "viewed"}},
                {"to": "b", "else": True}]},
            {"key": "b", "exit": True},
        ],
    }  # fmt: skip
    report = definition_validate(definition)
    errors = {i.path: i.message for i in report.errors}
    assert errors == {
        "stages[0].actions[0].onsite.message": "must be an on-site message id (integer)",
        "stages[0].actions[1].onsite.colour": "unknown key (expected message, expires_days)",
        "stages[0].actions[1].onsite.message": "no on-site message with id 999999",
        "stages[0].actions[1].onsite.expires_days": "must be a whole number of days from 1 to 365",
        "stages[0].transitions[0].on_onsite.did": "must be one of viewed, clicked, submitted",
        "stages[0].transitions[1].on_onsite.message": "must be an on-site message id (integer)",
    }  # the "else" after an "on_onsite" is a valid branch
    warnings = {i.path: i.message for i in report.warnings}
    assert warnings["stages[0].actions[2].onsite.message"] == (
        f"on-site message {paused.pk} ('Paused') is paused: it shows nothing until it is active"
    )
    # Without the database only the shapes are checked.
    shapes = {i.path for i in definition_validate(definition, check_references=False).errors}
    assert "stages[0].actions[1].onsite.message" not in shapes
    assert "stages[0].actions[0].onsite.message" in shapes


def test_a_loop_through_on_site_conditions_alone_is_a_loop_with_no_wait(site):
    offer = _message(site, "Offer")
    watch = {"message": offer.pk, "did": "viewed"}
    report = definition_validate(
        {
            "slug": "spin",
            "name": "Spin",
            "entry": {"event": "Cart Abandoned"},
            "stages": [
                {"key": "a", "transitions": [{"to": "b", "on_onsite": watch}]},
                {"key": "b", "transitions": [{"to": "a", "on_onsite": watch}]},
            ],
        }
    )
    assert [i.message.split(" (")[0] for i in report.errors] == ["loop with no wait: a → b → a"]


def test_stop_after_a_conversion_needs_a_goal_event(site):
    message = Message(name="x", source=site, stop_after_conversion=True, goal_event="")
    with pytest.raises(ValidationError) as caught:
        message_validate(message=message)
    assert "stop_after_conversion" in caught.value.message_dict


def test_a_profile_that_converted_after_seeing_it_is_not_shown_it_again(site):
    # Bars: the pop-up gap would hold a second pop-up back whatever the caps say.
    capped = _message(
        site, "Capped", kind="bar_bottom", goal_event="Order Completed", goal_days=7,
        stop_after_conversion=True, once_per_session=False,
    )  # fmt: skip
    uncapped = _message(
        site, "Uncapped", kind="bar_top", goal_event="Order Completed", once_per_session=False
    )
    buyer = _known(site, user_id="u-1", anonymous_id="anon-1")
    late = _known(site, user_id="u-2", anonymous_id="anon-2")
    for anonymous_id in ("anon-1", "anon-2"):
        for message in (capped, uncapped):
            interaction_record(
                source=site, context=_ctx(anonymous_id), message_id=message.pk, arm="A", kind="view"
            )
    seen_at = timezone.now()
    event_emit(profile=buyer, name="Order Completed", at=seen_at + timedelta(minutes=1))
    event_emit(profile=late, name="Order Completed", at=seen_at - timedelta(days=1))  # before seeing it
    assert set(_shown(site, "anon-1", page_view_id="pv-2")) == {uncapped.pk}
    assert set(_shown(site, "anon-2", page_view_id="pv-2")) == {capped.pk, uncapped.pk}
    # On the server: a new browser of the same (signed-in) profile does not reset it.
    from journeys.onsite.services import user_id_sign

    signature = user_id_sign(source=site, user_id="u-1")
    assert set(_shown(site, "new-browser", user_id="u-1", user_id_signature=signature)) == {uncapped.pk}
    # The window is the results' (Message.converts): a goal event after goal_days does not count.
    Message.objects.filter(pk=capped.pk).update(goal_days=0)
    messages_cache_clear()
    assert set(_shown(site, "anon-1", page_view_id="pv-3")) == {capped.pk, uncapped.pk}


def test_the_conversion_cap_also_holds_back_a_queued_message(site):
    offer = _message(
        site, "Offer", kind="bar_top", goal_event="Order Completed", stop_after_conversion=True,
        once_per_session=False,
    )  # fmt: skip
    profile = _known(site, user_id="u-1", anonymous_id="anon-1")
    interaction_record(source=site, context=_ctx("anon-1"), message_id=offer.pk, arm="A", kind="view")
    event_emit(profile=profile, name="Order Completed", at=timezone.now() + timedelta(seconds=1))
    _offer_journey(offer)
    event_emit(profile=profile, name="Cart Abandoned", at=timezone.now() + timedelta(seconds=2))
    run_due(timezone.now() + timedelta(seconds=3))
    assert QueuedMessage.objects.filter(profile=profile).exists()
    assert _shown(site, "anon-1", page_view_id="pv-2") == []
