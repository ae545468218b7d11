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
    from tests.test_journey_demo import stored_event
    from journeys.testing import profile_add

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
        box = _node(s, key).bounding_box()
        assert box is not None, key
        # Every node in view at "Fit" …
        assert svg_box["x"] <= box["x"] and box["x"] + box["width"] <= svg_box["x"] + svg_box["width"] + 1, key
        assert svg_box["y"] <= box["y"] and box["y"] + box["height"] <= svg_box["y"] + svg_box["height"] + 1, key
    # … with its text at a readable size on screen (the 15/14 px text never drops below 11 px).
    sizes = s.page.evaluate(
        "() => [...document.querySelectorAll('.jc-title, .jc-line, .jc-counts text')].map(t => t.getBoundingClientRect().height)"
    )
    assert sizes and min(sizes) >= 11, sizes
    counts = s.page.text_content('.jc-node[data-key="new"] .jc-counts')
    assert "visited" in counts and "conv." in counts
    assert s.page.evaluate("() => window.journeyCanvas.counts.engaged.visited") >= 1
    # Zoom in and pan: the zoom level follows and the nodes move.
    before = _node(s, "new").bounding_box()
    s.page.click(".jc-zoom-in")
    s.page.click(".jc-zoom-in")
    zoomed = _node(s, "new").bounding_box()
    assert zoomed["width"] > before["width"] * 1.3
    s.page.mouse.move(svg_box["x"] + 20, svg_box["y"] + svg_box["height"] - 20)
    s.page.mouse.down()
    s.page.mouse.move(svg_box["x"] + 220, svg_box["y"] + svg_box["height"] - 120, steps=5)
    s.page.mouse.up()
    panned = _node(s, "new").bounding_box()
    assert abs(panned["x"] - zoomed["x"] - 200) < 2 and abs(panned["y"] - zoomed["y"] + 100) < 2
    s.shot("lifecycle-zoomed")
    # Selecting a node shows its counts and its actions in the panel.
    s.page.click(".jc-fit")
    _node(s, "engaged").click()
    assert "Now" in s.page.inner_text(".jc-panel-counts")
    s.shot("lifecycle-engaged-selected")
    assert s.problems == []
