"""Operators' first-time paths in a real headless Chromium, logged in as an operator: the add-audience
page (rule editor from the first click, preview before saving, slug from the name), profile search,
the events and memberships lists, channel settings. A screenshot per page under test-artifacts/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from audiences.testing import profile_add
from tests.browser import browser_session, needs_chromium
from tracking.roles import roles_sync

pytestmark = needs_chromium


@pytest.fixture
def operator(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("otto", "otto@example.com", "pw-operator-123", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    return user


@pytest.fixture
def browser(live_server, operator, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before it starts.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "otto", "pw-operator-123", artifacts="operators") as s:
        yield s


def test_add_audience_page_edits_and_previews_a_rule_before_it_is_saved(browser):
    profile_add(tags=["vip"])
    profile_add(tags=["vip"])
    profile_add(tags=["other"])
    s = browser
    s.goto("/admin/audiences/audience/add/")
    # The structured editor is there from the first load, starting from "All of".
    assert s.page.locator(".rule-tree .rule-node").count() >= 1
    assert '"all"' in s.page.input_value("textarea[name=rule]")
    # The slug follows the name as it is typed.
    s.page.fill("#id_name", "VIP Buyers")
    s.page.locator("#id_name").dispatch_event("change")
    assert s.page.input_value("#id_slug") == "vip-buyers"
    # The first condition ("Tag") gets a value; preview counts it without saving.
    s.page.locator(".rule-tree .rule-tag input[type=text]").first.fill("vip")
    s.page.click(".rule-preview-button")
    s.page.wait_for_selector(".rule-preview strong")
    assert s.page.inner_text(".rule-preview strong") == "2"
    s.shot("audience-add-preview")
    assert s.problems == []
