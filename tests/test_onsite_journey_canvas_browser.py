"""The journey canvas's on-site message action and branch, as a journey designer uses them in a real
headless Chromium: pick the message from those that exist, say how long it is offered, branch on
"clicked", see the field at fault while nothing is picked. Screenshots under
test-artifacts/onsite-journey/."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User

from tests.browser import browser_session, needs_chromium
from tracking.roles import roles_sync

pytestmark = needs_chromium

DEFINITION = {
    "slug": "cart-offer",
    "name": "Cart offer",
    "entry": {"event": "Cart Abandoned"},
    "stages": [
        {"key": "offer", "actions": [], "transitions": [{"to": "check", "after": {"days": 1}}]},
        {"key": "check", "transitions": [{"to": "done", "after": {"days": 1}}]},
        {"key": "done", "exit": True},
        {"key": "thanks", "exit": True},
    ],
}


@pytest.fixture
def designer(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("dana", "dana@shop.example", "pw-designer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="journey designer"))
    return user


@pytest.fixture
def browser(live_server, designer, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "dana", "pw-designer-123", artifacts="onsite-journey") as s:
        dialogs: list[str] = []
        s.page.on("dialog", lambda d: (dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        yield s
        assert dialogs == []


def _settle(s) -> None:
    s.page.wait_for_selector("#journey-canvas .jc-node")
    s.page.wait_for_function(
        "() => window.journeyCanvas && !document.querySelector('#journey-canvas.jc-validating') "
        "&& document.querySelector('.jc-issues .jc-ok, .jc-issues .errornote')"
    )
    s.page.wait_for_timeout(400)  # the validation debounce
    s.page.wait_for_function("() => !document.querySelector('#journey-canvas.jc-validating')")


def _options(s, selector: str) -> list[str]:
    return s.page.eval_on_selector(selector, "e => [...e.options].map(o => o.textContent)")


def test_designer_queues_an_on_site_message_and_branches_on_clicked(browser):
    from journeys.models import Journey
    from journeys.onsite.models import Message, Status
    from journeys.services.versions import journey_create
    from tracking.models import Source

    site = Source.objects.create(name="shop-web", write_key="wk_canvas_onsite")
    offer = Message.objects.create(name="Cart offer bar", source=site, kind="bar_top", status=Status.ACTIVE)
    Message.objects.create(name="Old pop-up", source=site, status=Status.PAUSED)
    journey = journey_create(definition=DEFINITION)
    s = browser
    s.goto(f"/admin/journeys/journey/{journey.pk}/change/")
    _settle(s)

    # The stage's action: show an on-site message, picked from those that exist (status shown).
    s.page.locator('.jc-node[data-key="offer"]').click()
    s.page.click(".jc-add-action")
    s.page.select_option(".jc-action-kind", "onsite")
    assert _options(s, ".jc-onsite-message") == ["— choose —", "Cart offer bar", "Old pop-up (paused)"]
    # The first active message is preselected; with none chosen the field at fault is marked.
    assert s.page.input_value(".jc-onsite-message") == str(offer.pk)
    s.page.select_option(".jc-onsite-message", "")
    _settle(s)
    assert "must be an on-site message id" in s.page.inner_text(".jc-issues")
    assert "on site: ?" in s.page.text_content('.jc-node[data-key="offer"]')
    s.shot("action-no-message")
    s.page.select_option(".jc-onsite-message", str(offer.pk))
    s.page.fill(".jc-onsite-days", "3")
    _settle(s)
    node_text = s.page.text_content('.jc-node[data-key="offer"]')
    assert "on site: Cart offer bar" in node_text

    # "check" becomes a branch: clicked the offer → thanks, else → done.
    s.page.locator('.jc-node[data-key="check"]').click()
    s.page.select_option(".jc-type", "branch")
    s.page.locator(".jc-transition .jc-when").first.select_option("on_onsite")
    s.page.locator(".jc-transition .jc-to").first.select_option("thanks")
    s.page.locator(".jc-transition .jc-onsite-message").first.select_option(str(offer.pk))
    s.page.locator(".jc-transition .jc-onsite-did").first.select_option("clicked")
    s.page.locator(".jc-transition .jc-to").nth(1).select_option("done")
    _settle(s)
    assert "The journey is valid" in s.page.inner_text(".jc-issues"), s.page.inner_text(".jc-issues")
    labels = s.page.evaluate("() => [...document.querySelectorAll('.jc-edge-label')].map(e => e.textContent)")
    assert any("clicked Cart offer bar" in text for text in labels), labels
    s.shot("branch-on-clicked")

    s.submit("input[name=_continue]")
    d = Journey.objects.get(slug="cart-offer").versions.get().definition
    stages = {st["key"]: st for st in d["stages"]}
    assert stages["offer"]["actions"] == [{"onsite": {"message": offer.pk, "expires_days": 3}}]
    assert stages["check"]["transitions"] == [
        {"to": "thanks", "on_onsite": {"message": offer.pk, "did": "clicked"}},
        {"to": "done", "else": True},
    ]
    _settle(s)
    s.shot("saved")
    assert (
        json.loads(s.page.input_value("textarea.journey-json"))["stages"][0]["actions"][0]["onsite"][
            "message"
        ]
        == offer.pk
    )
    assert s.problems == []
