"""What the journey canvas relies on, without a browser: "else" branches in the language and the engine,
the branch-without-else warning, layouts kept with drafts, the validate endpoint, the publish form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from journeys.canvas import layout_clean
from journeys.definition import definition_validate
from journeys.models import Journey, Run
from journeys.services.versions import draft_create, journey_create, version_publish, version_update
from journeys.testing import event_emit, journey_live, profile_add, run_due
from tracking.roles import roles_sync

pytestmark = pytest.mark.django_db
T0 = datetime(2031, 5, 4, 9, 0, tzinfo=UTC)


def branching(*transitions) -> dict:
    return {
        "slug": "branching",
        "name": "Branching",
        "entry": {"event": "Signed Up"},
        "stages": [
            {"key": "check", "transitions": list(transitions)},
            {"key": "vip", "exit": True},
            {"key": "regular", "exit": True},
        ],
    }


IF_VIP = {"to": "vip", "if": {"tag": "vip"}}
ELSE_REGULAR = {"to": "regular", "else": True}


def test_else_takes_the_runs_no_rule_matched_and_a_matching_if_wins():
    journey_live(branching(IF_VIP, ELSE_REGULAR))
    vip, regular = profile_add(tags=["vip"]), profile_add()
    for p in (vip, regular):
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    assert Run.objects.get(profile=vip).stage_key == "vip"
    other = Run.objects.get(profile=regular)
    assert (other.stage_key, other.status) == ("regular", "completed")
    assert [s.reason for s in other.steps.all()] == ["entered", "else"]


def test_else_must_close_a_branch_once_and_last():
    def errors(*ts):
        return [
            (i.path, i.message) for i in definition_validate(branching(*ts), check_references=False).errors
        ]

    assert errors(IF_VIP, ELSE_REGULAR) == []
    assert (
        "stages[0].transitions[0]",
        'an "else" follows at least one "if" or "on_onsite" transition',
    ) in errors(ELSE_REGULAR)
    assert errors(IF_VIP, ELSE_REGULAR, {"to": "vip", "if": {"tag": "x"}}) == [
        ("stages[0].transitions[1]", 'the "else" is the last transition of a branch')
    ]
    assert ("stages[0].transitions[2]", 'a branch has one "else"') in errors(
        IF_VIP, ELSE_REGULAR, ELSE_REGULAR
    )
    assert errors(IF_VIP, {"to": "regular", "else": "yes"}) == [
        ("stages[0].transitions[1].else", "must be true")
    ]


def test_a_branch_without_else_warns_where_runs_would_wait_forever():
    report = definition_validate(
        branching(IF_VIP, {"to": "regular", "if": {"tag": "regular"}}), check_references=False
    )
    assert report.ok
    assert [(w.path, w.message) for w in report.warnings] == [
        (
            "stages[0]",
            "branch 'check' has no else: runs that match none of its rules wait in 'check' forever "
            '(add an "else" transition)',
        )
    ]
    # Something that waits (here a timeout) is a way out: no warning.
    timed = definition_validate(
        branching(IF_VIP, {"to": "regular", "after": {"hours": 1}}), check_references=False
    )
    assert timed.warnings == []


def test_a_loop_closed_by_else_has_no_wait_and_is_refused():
    d = {
        "slug": "spin",
        "name": "Spin",
        "entry": {"event": "Signed Up"},
        "stages": [
            {"key": "a", "transitions": [{"to": "done", "if": {"tag": "x"}}, {"to": "b", "else": True}]},
            {"key": "b", "transitions": [{"to": "done", "if": {"tag": "y"}}, {"to": "a", "else": True}]},
            {"key": "done", "exit": True},
        ],
    }
    messages = [i.message for i in definition_validate(d, check_references=False).errors]
    assert any(m.startswith("loop with no wait: a → b → a") for m in messages), messages


def test_layouts_are_kept_with_drafts_and_cleaned_of_anything_but_positions():
    assert layout_clean(
        {
            "nodes": {
                "a": {"x": 1, "y": 2.25, "kind": "wait"},
                "b": {"x": "1", "y": 2},
                "c": {"x": float("nan"), "y": 0},
            }
        }
    ) == {"nodes": {"a": {"x": 1.0, "y": 2.2, "kind": "wait"}}}
    assert layout_clean("junk") == {"nodes": {}}
    assert layout_clean({"nodes": {"a": {"x": 1, "y": 1, "kind": "<script>"}}}) == {
        "nodes": {"a": {"x": 1.0, "y": 1.0}}
    }
    journey = journey_create(
        definition=branching(IF_VIP, ELSE_REGULAR), layout={"nodes": {"check": {"x": 5, "y": 6}}}
    )
    v1 = journey.versions.get()
    version_update(version=v1, definition=v1.definition)  # no layout given: kept
    v1.refresh_from_db()
    assert v1.layout == {"nodes": {"check": {"x": 5, "y": 6}}}
    version_publish(version=v1)
    v2 = draft_create(journey=journey)
    assert v2.layout == v1.layout  # the next draft starts where the nodes were


@pytest.fixture
def designer_client(client):
    roles_sync()
    user = User.objects.create_user("dana", "dana@shop.example", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="journey designer"))
    client.force_login(user)
    return client


def test_the_validate_endpoint_answers_errors_and_warnings_by_path(designer_client):
    url = "/admin/journeys/journey/canvas/validate/"
    bad = branching({"to": "nowhere", "if": {"tag": "vip"}})
    r = designer_client.post(url, json.dumps({"definition": bad}), content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert not body["ok"]
    assert {"path": "stages[0].transitions[0].to", "message": "unknown stage 'nowhere'"} in body["errors"]
    assert body["warnings"][0]["path"] == "stages[0]"
    assert designer_client.post(url, "{nope", content_type="application/json").status_code == 400
    assert designer_client.post(url, "[]", content_type="application/json").status_code == 400
    assert designer_client.get(url).status_code == 405
    # An existing journey's slug stays; a new journey's slug must be free.
    journey = journey_create(definition=branching(IF_VIP, ELSE_REGULAR))
    renamed = {**journey.versions.get().definition, "slug": "other"}
    r = designer_client.post(
        url, json.dumps({"definition": renamed, "journey_id": journey.pk}), content_type="application/json"
    )
    assert {"path": "slug", "message": "must stay 'branching'"} in r.json()["errors"]
    r = designer_client.post(
        url, json.dumps({"definition": branching(IF_VIP, ELSE_REGULAR)}), content_type="application/json"
    )
    assert {"path": "slug", "message": "a journey with slug 'branching' exists"} in r.json()["errors"]
    # Not logged in: the admin login, not an answer.
    assert Client().post(url, "{}", content_type="application/json").status_code == 302


def test_publish_form_asks_nothing_for_v1_and_maps_waiting_stages_for_v2(designer_client):
    d = {**branching(), "stages": [{"key": "check", "transitions": [{"to": "vip", "after": {"days": 1}}]},
                                   {"key": "vip", "exit": True}]}  # fmt: skip
    journey = journey_create(definition=d)
    page = designer_client.get(f"/admin/journeys/journey/{journey.pk}/publish/")
    assert (
        page.status_code == 200
        and b"publish-mapping" not in page.content
        and b"nothing to move" in page.content
    )
    designer_client.post(f"/admin/journeys/journey/{journey.pk}/publish/")
    journey.refresh_from_db()
    assert journey.live_version.number == 1
    for _ in range(2):
        event_emit(profile=profile_add(), name="Signed Up", at=T0)
    run_due(T0)
    draft_create(
        journey=journey, definition={**d, "stages": [{**d["stages"][0], "key": "look"}, *d["stages"][1:]]}
    )
    page = designer_client.get(f"/admin/journeys/journey/{journey.pk}/publish/").content.decode()
    assert 'name="map:check"' in page and "(not in v2)" in page
    # A target that is not a stage of the new version is refused, and nothing is published.
    r = designer_client.post(
        f"/admin/journeys/journey/{journey.pk}/publish/", {"map:check": "nowhere"}, follow=True
    )
    assert "no such stage in the new version" in r.content.decode()
    journey.refresh_from_db()
    assert journey.live_version.number == 1
    designer_client.post(f"/admin/journeys/journey/{journey.pk}/publish/", {"map:check": "look"})
    assert {(r.version.number, r.stage_key) for r in Run.objects.filter(journey=journey)} == {(2, "look")}


def test_marketers_may_not_publish(client):
    roles_sync()
    user = User.objects.create_user("mia", "mia@shop.example", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="marketer"))
    client.force_login(user)
    journey = journey_create(definition=branching(IF_VIP, ELSE_REGULAR))
    client.post(f"/admin/journeys/journey/{journey.pk}/publish/")
    assert Journey.objects.get(pk=journey.pk).live_version is None
