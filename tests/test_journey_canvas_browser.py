"""The journey canvas as a journey designer uses it, in a real headless Chromium: build a journey
without touching the JSON, rename and delete stages, see validation on the node and field at fault,
publish v1 (no question) and v2 (a mapping form), read live counts on the demo lifecycle.
Screenshots under test-artifacts/canvas/."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from tests.browser import browser_session, needs_chromium
from tracking.roles import roles_sync

pytestmark = needs_chromium
T0 = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def designer(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("dana", "dana@shop.example", "pw-designer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="journey designer"))
    return user


@pytest.fixture
def browser(live_server, designer, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "dana", "pw-designer-123", artifacts="canvas") as s:
        dialogs: list[str] = []
        # Any browser prompt/confirm/alert is a failure here: the canvas asks with its own forms.
        s.page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        s.dialogs = dialogs
        yield s
        assert s.dialogs == []


def _open(s, journey) -> None:
    s.goto(f"/admin/journeys/journey/{journey.pk}/change/")
    _settle(s)


def _settle(s) -> None:
    """Wait until the canvas has drawn and its last validation answer is in."""
    s.page.wait_for_selector("#journey-canvas .jc-node")
    s.page.wait_for_function(
        "() => window.journeyCanvas && !document.querySelector('#journey-canvas.jc-validating') "
        "&& document.querySelector('.jc-issues .jc-ok, .jc-issues .errornote')"
    )
    s.page.wait_for_timeout(400)  # the validation debounce
    s.page.wait_for_function("() => !document.querySelector('#journey-canvas.jc-validating')")


def _node(s, key: str):
    return s.page.locator(f'.jc-node[data-key="{key}"]')


def _box(s, selector: str) -> dict | None:
    """Where an element is, read in one step (the canvas redraws its nodes after every answer)."""
    return s.page.evaluate(
        "sel => { const e = document.querySelector(sel); if (!e) return null;"
        " const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; }",
        selector,
    )


def _node_box(s, key: str) -> dict | None:
    return _box(s, f'.jc-node[data-key="{key}"]')


def _edges(s) -> list[tuple[str, str]]:
    return [
        tuple(e) for e in s.page.evaluate(
            "() => [...document.querySelectorAll('.jc-edge')].map(e => [e.dataset.from, e.dataset.to])"
        )
    ]  # fmt: skip


def _definition(s) -> dict:
    return json.loads(s.page.input_value("textarea.journey-json"))


def test_demo_lifecycle_shows_live_counts_readable_at_fit_zoom_and_pan(browser):
    from io import StringIO

    from django.utils import timezone

    from journeys.demo import load_demo
    from journeys.models import Journey
    from journeys.testing import profile_add
    from tests.test_journey_demo import stored_event

    now = timezone.now()
    for i in range(6):
        p = profile_add()
        stored_event(p, "Signed Up", now - timedelta(days=20 + 40 * i))
        if i % 2 == 0:
            stored_event(p, "Order Completed", now - timedelta(days=19 + 40 * i))
    load_demo(stdout=StringIO())
    journey = Journey.objects.get(slug="lifecycle")
    s = browser
    _open(s, journey)
    s.page.click(".jc-fit")
    s.shot("lifecycle-fit")
    keys = ["new", "activated", "engaged", "at-risk", "churned", "won-back", "lost"]
    svg_box = s.page.locator("svg.jc-svg").bounding_box()
    for key in [*keys, "@entry"]:
        box = _node_box(s, key)
        assert box is not None, key
        # Every node in view at "Fit" …
        assert svg_box["x"] <= box["x"] and box["x"] + box["width"] <= svg_box["x"] + svg_box["width"] + 1, (
            key
        )
        assert (
            svg_box["y"] <= box["y"] and box["y"] + box["height"] <= svg_box["y"] + svg_box["height"] + 1
        ), key
    # … with its text at a readable size on screen (the 15/14 px text never drops below 11 px).
    sizes = s.page.evaluate(
        "() => [...document.querySelectorAll('.jc-title, .jc-line, .jc-counts text')].map(t => t.getBoundingClientRect().height)"
    )
    assert sizes and min(sizes) >= 11, sizes
    counts = s.page.text_content('.jc-node[data-key="new"] .jc-counts')
    assert "visited" in counts and "conv." in counts
    assert s.page.evaluate("() => window.journeyCanvas.counts.engaged.visited") >= 1
    # Pan (from an empty corner) and zoom: the nodes follow, the zoom level says how far.
    before = _node_box(s, "new")
    s.page.mouse.move(svg_box["x"] + 10, svg_box["y"] + 10)
    s.page.mouse.down()
    s.page.mouse.move(svg_box["x"] + 210, svg_box["y"] + 110, steps=5)
    s.page.mouse.up()
    panned = _node_box(s, "new")
    assert abs(panned["x"] - before["x"] - 200) < 2 and abs(panned["y"] - before["y"] - 100) < 2
    s.page.click(".jc-zoom-in")
    s.page.click(".jc-zoom-in")
    zoomed = _node_box(s, "new")
    assert zoomed["width"] > before["width"] * 1.3
    assert s.page.inner_text(".jc-zoom-level") != "100%"
    s.shot("lifecycle-zoomed")
    # Selecting a node shows its counts and its actions in the panel.
    s.page.click(".jc-fit")
    _node(s, "engaged").click()
    assert "Now" in s.page.inner_text(".jc-panel-counts")
    s.shot("lifecycle-engaged-selected")
    assert s.problems == []


def _drag(s, source: str, target_box) -> None:
    box = _box(s, source)
    s.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    s.page.mouse.down()
    s.page.mouse.move(target_box["x"], target_box["y"], steps=8)
    s.page.mouse.up()


def _center(box) -> dict:
    return {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}


def test_build_a_journey_from_scratch_on_the_canvas_without_touching_json(browser):
    from audiences.catalogue import catalogue_note
    from audiences.models import Audience
    from channels.models import Template
    from journeys.models import Journey

    Template.objects.create(slug="welcome-gift", name="Welcome gift", channel="email")
    Template.objects.create(slug="sms-hello", name="SMS hello", channel="sms")
    Audience.objects.create(slug="vip", name="VIPs", rule={"tag": "vip"})
    catalogue_note(kind="event", names=["Signed Up", "Order Completed"])
    s = browser
    s.goto("/admin/journeys/journey/add/")
    _settle(s)
    # The journey's own settings, in the panel shown when nothing is selected.
    s.page.fill(".jc-name", "Spring welcome")
    s.page.fill(".jc-slug", "spring-welcome")
    s.page.select_option(".jc-reentry", "cooldown")
    s.page.fill("input[aria-label='cool-down days']", "30")
    s.page.fill(".jc-holdout", "10")
    s.page.check(".jc-has-goal")
    assert set(_options(s, ".jc-goal-event")) >= {"Signed Up", "Order Completed"}
    s.page.select_option(".jc-goal-event", "Order Completed")
    s.page.fill(".jc-goal-days", "14")
    # Entry: an event picked from those seen.
    _node(s, "@entry").click()
    s.page.select_option(".jc-entry-event", "Signed Up")
    # The first stage sends the welcome gift; its starter transition goes.
    _node(s, "welcome").click()
    s.page.click(".jc-add-action")
    # Only email templates are offered for an email send.
    assert _options(s, ".jc-template") == ["", "welcome-gift"]
    s.page.select_option(".jc-template", "welcome-gift")
    s.page.click(".jc-transition .jc-remove")
    # A branch, placed in view, dragged aside, then wired from the welcome stage's handle.
    s.page.click(".jc-settings")
    s.page.click("[data-add=branch]")
    branch = _node(s, "branch-1")
    start = _node_box(s, "branch-1")
    _drag(
        s,
        '.jc-node[data-key="branch-1"]',
        {"x": start["x"] + start["width"] / 2 - 20, "y": start["y"] + start["height"] / 2 + 150},
    )
    moved = _node_box(s, "branch-1")
    assert moved["y"] > start["y"] + 120
    _drag(s, '.jc-node[data-key="welcome"] .jc-port', _center(_node_box(s, "branch-1")))
    assert ("welcome", "branch-1") in _edges(s)
    # The branch: if the profile is a VIP go straight to done, else wait three days, then exit.
    branch.click()
    s.page.click(".jc-add-if")
    s.page.select_option(".jc-transition .jc-to", "done")
    s.page.select_option(".jc-rule .rule-tree select", "tag")
    s.page.fill(".jc-rule .rule-tree input", "vip")
    s.page.click("[data-add=wait]")  # below the branch, as its "else"
    s.page.click("[data-add=exit]")  # below the wait
    _node(s, "wait-1").click()
    s.page.fill(".jc-after-days", "3")
    _settle(s)
    assert set(_edges(s)) >= {("@entry", "welcome"), ("welcome", "branch-1"), ("branch-1", "done"),
                              ("branch-1", "wait-1"), ("wait-1", "exit-1")}  # fmt: skip
    assert "The journey is valid" in s.page.inner_text(".jc-issues"), s.page.inner_text(".jc-issues")
    assert s.page.evaluate("() => document.querySelector('details.jc-json').open") is False
    s.shot("built-from-scratch")
    s.submit("input[name=_continue]")
    journey = Journey.objects.get(slug="spring-welcome")
    version = journey.versions.get()
    d = version.definition
    assert journey.name == "Spring welcome"
    assert d["entry"] == {"event": "Signed Up"}
    assert d["reentry"] == {"cooldown_days": 30} and d["holdout_percent"] == 10
    assert d["goal"] == {"event": "Order Completed", "within_days": 14}
    stages = {st["key"]: st for st in d["stages"]}
    assert stages["welcome"]["actions"] == [
        {"send": {"channel": "email", "template": "welcome-gift", "topic": "marketing"}}
    ]
    assert stages["welcome"]["transitions"] == [{"to": "branch-1", "after": {"days": 1}}]
    assert stages["branch-1"]["transitions"] == [
        {"to": "done", "if": {"tag": "vip"}},
        {"to": "wait-1", "else": True},
    ]
    assert stages["wait-1"]["transitions"] == [{"to": "exit-1", "after": {"days": 3}}]
    assert stages["exit-1"] == {"key": "exit-1", "exit": True}
    # Positions are kept with the draft: the dragged branch is where it was left.
    layout = version.layout["nodes"]
    assert set(layout) >= {"@entry", "welcome", "branch-1", "wait-1", "exit-1", "done"}
    _settle(s)
    assert _node_box(s, "branch-1")["x"] > _node_box(s, "welcome")["x"] + 150
    assert layout["branch-1"]["y"] > layout["welcome"]["y"] + 60  # where it was dragged to
    s.shot("built-from-scratch-saved")
    assert s.problems == []


def _options(s, selector: str) -> list[str]:
    return s.page.eval_on_selector(selector, "e => [...e.options].map(o => o.value)")


RENAME = {
    "slug": "rename-me",
    "name": "Rename me",
    "entry": {"event": "Signed Up"},
    "stages": [
        {"key": "start", "transitions": [{"to": "middle", "after": {"days": 1}},
                                         {"to": "side", "on_event": {"event": "Clicked"}}]},
        {"key": "side", "transitions": [{"to": "middle", "after": {"days": 2}}]},
        {"key": "middle", "actions": [{"tag": {"add": "m"}}], "transitions": [{"to": "done", "after": {"days": 1}}]},
        {"key": "done", "exit": True},
    ],
}  # fmt: skip


def test_renaming_a_stage_renames_every_reference_and_deleting_asks_about_incoming_edges(browser):
    from journeys.services.versions import journey_create

    journey = journey_create(definition=RENAME)
    s = browser
    _open(s, journey)
    _node(s, "middle").click()
    s.page.fill(".jc-key", "center")
    s.page.press(".jc-key", "Tab")
    assert {("start", "center"), ("side", "center"), ("center", "done")} <= set(_edges(s))
    assert "middle" not in json.dumps(_definition(s))
    _node(s, "start").click()
    assert s.page.eval_on_selector_all(".jc-to", "els => els.map(e => e.value)") == ["center", "side"]
    s.shot("renamed")
    # Delete "center": two transitions lead into it; send them on to "done".
    _node(s, "center").click()
    s.page.click(".jc-delete")
    dialog = s.page.locator("dialog.jc-dialog")
    assert "2 transitions lead into it" in dialog.inner_text()
    assert (
        "from start (after 1 day)" in dialog.inner_text()
        and "from side (after 2 days)" in dialog.inner_text()
    )
    s.page.select_option("dialog select[name=redirect-to]", "done")
    s.shot("delete-dialog")
    s.page.click("dialog button[value=delete]")
    assert {("start", "done"), ("side", "done")} <= set(_edges(s)) and _node(s, "center").count() == 0
    # Delete "side" and drop the transition into it.
    _node(s, "side").click()
    s.page.click(".jc-delete")
    assert "1 transition leads into it" in dialog.inner_text()
    s.page.click("dialog button[value=delete]")  # "remove those transitions" is the default
    _settle(s)
    assert "The journey is valid" in s.page.inner_text(".jc-issues")
    s.submit("input[name=_continue]")
    d = journey.versions.get().definition
    assert [st["key"] for st in d["stages"]] == ["start", "done"]
    assert d["stages"][0]["transitions"] == [{"to": "done", "after": {"days": 1}}]
    assert s.problems == []


def test_validation_marks_the_node_and_field_at_fault_and_warns_about_a_branch_without_else(browser):
    from audiences.catalogue import catalogue_note
    from journeys.services.versions import journey_create

    catalogue_note(kind="event", names=["Order Completed"])
    journey = journey_create(
        definition={
            "slug": "checked",
            "name": "Checked",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "welcome", "transitions": [{"to": "done", "on_event": {"event": "Order Completed"}}]},
                {"key": "done", "exit": True},
            ],
        }
    )
    s = browser
    _open(s, journey)
    assert "The journey is valid" in s.page.inner_text(".jc-issues")
    _node(s, "welcome").click()
    s.page.select_option(".jc-event", "")
    _settle(s)
    assert "jc-has-error" in _node(s, "welcome").get_attribute("class")
    marked = s.page.locator(".jc-panel .jc-field-error[data-path='stages[0].transitions[0].on_event.event']")
    assert marked.count() == 1
    assert "must be a non-empty event name" in s.page.inner_text(".jc-panel .jc-msg")
    assert "stages[0].transitions[0].on_event.event" in s.page.inner_text(".jc-issues")
    s.shot("validation-error-marked")
    s.page.select_option(".jc-event", "Order Completed")
    _settle(s)
    assert "jc-has-error" not in _node(s, "welcome").get_attribute("class")
    # A branch whose "else" is removed: a warning that says where runs would wait forever.
    s.page.select_option(".jc-type", "branch")
    s.page.select_option(".jc-transition .jc-to >> nth=0", "done")
    s.page.fill(".jc-rule .rule-tree input", "vip")
    s.page.locator(".jc-transition .jc-remove").nth(1).click()
    _settle(s)
    issues = s.page.inner_text(".jc-issues")
    assert (
        "branch 'welcome' has no else: runs that match none of its rules wait in 'welcome' forever" in issues
    )
    assert "jc-has-warning" in _node(s, "welcome").get_attribute("class")
    s.shot("branch-without-else-warning")
    s.page.click(".jc-add-else")
    s.page.select_option(".jc-transition .jc-to >> nth=1", "done")
    _settle(s)
    assert "no else" not in s.page.inner_text(".jc-issues")
    assert s.problems == []


def test_publish_v1_asks_nothing_and_v2_offers_to_map_the_stages_where_runs_wait(browser):
    from journeys.models import Run
    from journeys.services.versions import journey_create
    from journeys.testing import event_emit, profile_add, run_due

    journey = journey_create(
        definition={
            "slug": "published",
            "name": "Published",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "welcome", "transitions": [{"to": "done", "after": {"days": 1}}]},
                {"key": "done", "exit": True},
            ],
        }
    )
    s = browser
    _open(s, journey)
    s.submit("a.journey-publish")
    assert s.page.locator("#publish-mapping").count() == 0
    assert "nothing to move" in s.page.inner_text("#content")
    s.shot("publish-v1")
    s.submit("input[value='Publish v1']")
    assert "Published version 1" in s.page.inner_text(".messagelist")
    journey.refresh_from_db()
    assert journey.live_version.number == 1
    for _ in range(3):
        event_emit(profile=profile_add(), name="Signed Up", at=T0)
    run_due(T0)
    assert Run.objects.filter(journey=journey, stage_key="welcome", status="active").count() == 3
    # v2 renames the stage; the runs waiting in "welcome" can follow.
    _open(s, journey)
    _node(s, "welcome").click()
    s.page.fill(".jc-key", "hello")
    s.page.press(".jc-key", "Tab")
    s.submit("input[name=_continue]")
    _settle(s)
    # An unsaved edit: the Publish button says to save first instead of publishing the older draft.
    _node(s, "hello").click()
    s.page.fill("input[placeholder='optional display name']", "Hello")
    s.page.click("a.journey-publish")
    assert "Save your changes first" in s.page.inner_text(".jc-status")
    s.submit("input[name=_continue]")
    s.submit("a.journey-publish")
    table = s.page.inner_text("#publish-mapping")
    assert "welcome" in table and "3" in table and "not in v2" in table
    assert _options(s, "select[name='map:welcome']") == ["", "hello", "done"]
    s.page.select_option("select[name='map:welcome']", "hello")
    s.shot("publish-v2-mapping")
    s.submit("input[value='Publish v2']")
    assert "runs in welcome move to it" in s.page.inner_text(".messagelist")
    runs = Run.objects.filter(journey=journey, status="active")
    assert {(r.version.number, r.stage_key) for r in runs} == {(2, "hello")}
    assert s.problems == []


def test_a_marketer_reads_the_canvas_but_gets_no_editing_or_publishing_controls(
    live_server, transactional_db, monkeypatch
):
    from journeys.services.versions import journey_create

    roles_sync()
    user = User.objects.create_user("mia", "mia@shop.example", "pw-marketer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="marketer"))
    journey = journey_create(definition=RENAME)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "mia", "pw-marketer-123", artifacts="canvas") as s:
        _open(s, journey)
        assert s.page.locator("[data-add]").count() == 0
        assert s.page.locator("a.journey-publish").count() == 0
        assert s.page.locator(".object-tools button").count() == 0  # no pause / archive
        assert {("start", "middle"), ("middle", "done")} <= set(_edges(s))
        _node(s, "middle").click()
        assert s.page.is_disabled(".jc-key") and s.page.is_disabled(".jc-delete")
        s.shot("marketer-read-only")
        assert s.problems == []


def test_the_canvas_works_under_gunicorn_with_debug_off(designer, tmp_path, monkeypatch):
    """As production runs: collected, hashed static files (canvas.js, canvas.css, the rule editor)
    served by WhiteNoise; the canvas draws and the validate endpoint answers through CSRF."""
    from django.db import connection

    from journeys.services.versions import journey_create
    from tests.browser import gunicorn_production, password_for_production

    password_for_production(designer, "pw-designer-123")
    journey = journey_create(definition=RENAME)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with (
        gunicorn_production(
            database_name=connection.settings_dict["NAME"], static_root=tmp_path / "static"
        ) as base,
        browser_session(base, "dana", "pw-designer-123", artifacts="canvas") as s,
    ):
        statics: list[tuple[str, int]] = []
        s.page.on("response", lambda r: statics.append((r.url, r.status)) if "/static/" in r.url else None)
        _open(s, journey)
        assert any("canvas" in url and url.endswith(".js") for url, _ in statics), statics
        assert all(status == 200 for _, status in statics), statics
        assert "The journey is valid" in s.page.inner_text(".jc-issues")
        _node(s, "middle").click()
        s.page.fill(".jc-key", "center")
        s.page.press(".jc-key", "Tab")
        _settle(s)
        assert ("start", "center") in _edges(s)
        s.shot("production-canvas")
        assert s.problems == []
