"""An operator on a bad day, in a real headless Chromium: System health says rows were set aside,
the link opens the Set-aside rows list with the error, and Retry puts a row back in its queue — it
comes back to the list, attempts 2, while the cause is not fixed, and is processed once it is.
Screenshots under test-artifacts/set-aside/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from core.models import SetAside, SetAsideState
from tests.browser import browser_session, needs_chromium
from tracking.models import Event, Source
from tracking.processing import events_process_pending
from tracking.roles import roles_sync

pytestmark = needs_chromium


def _poison_event(source: Source, timestamp: str) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO tracking_event (source_id, message_id, type, name, user_id, anonymous_id, group_id, "
            "previous_id, properties, traits, context, received_at, timestamp) VALUES "
            "(%s, %s, 'track', 'E', 'attacker', '', '', '', '{}', '{}', '{}', now(), %s::timestamptz) RETURNING id",
            [source.pk, f"poison-{timestamp}", timestamp],
        )
        return cur.fetchone()[0]


@pytest.fixture
def operator(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("otto", "otto@example.com", "pw-operator-123", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    return user


def test_operator_finds_set_aside_rows_from_system_health_and_retries_them(
    live_server, operator, monkeypatch
):
    source = Source.objects.create(name="web", write_key="wk_sa")
    early = _poison_event(source, "0001-12-31 10:00:00 BC")
    late = _poison_event(source, "10000-01-01 00:00:00+00")
    events_process_pending()
    assert SetAside.objects.filter(state=SetAsideState.SET_ASIDE).count() == 2

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "otto", "pw-operator-123", artifacts="set-aside") as s:
        page = s.page
        # The admin index leads to System health, whose verdict now warns and links to the list.
        with page.expect_navigation():
            page.get_by_role("link", name="System health").click()
        verdict = page.locator("p.verdict")
        assert verdict.get_attribute("data-state") == "warn"
        assert "rows set aside from event processing" in verdict.inner_text()
        row = page.locator('tr[data-name="voyage_set_aside_events"]')
        assert "2 rows" in row.inner_text() and "warn" in row.inner_text()
        s.shot("system-health-warns")
        with page.expect_navigation():
            row.get_by_role("link", name="Open the list").click()

        # The list: one line per row, with the error, the queue and a link to the event.
        assert page.locator("#result_list tbody tr").count() == 2
        table = page.inner_text("#result_list")
        assert "DataError" in table and "timestamp too small" in table and "Event processing" in table
        # Their events' own admin pages cannot open (Python cannot read the timestamps): no dead link.
        assert page.locator("#result_list a[href^='/admin/tracking/event/']").count() == 0
        assert table.count("unreadable") == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
        # Every column fits the list's own box (the admin scrolls a too-wide table inside it).
        assert page.evaluate(
            "(() => { const r = document.querySelector('#changelist .results');"
            " return r.scrollWidth <= r.clientWidth; })()"
        )
        s.shot("set-aside-list")

        # The detail shows the short traceback; there is nothing to edit and no delete button.
        with page.expect_navigation():
            page.locator("#result_list tbody tr").first.locator("th a, td a").filter(
                has_text="DataError"
            ).click()
        assert "processing.py" in page.inner_text("#content")
        assert page.locator("input[type=submit][name=_save]").count() == 0
        assert page.locator("a.deletelink").count() == 0
        s.shot("set-aside-detail")
        page.go_back()

        # Retry both before any fix: they are claimed again, fail again and come back, attempts 2.
        page.check("#action-toggle")
        page.select_option("select[name=action]", "retry")
        s.submit("button[name=index]")
        assert "2 row(s) are back in their queues" in page.inner_text("ul.messagelist")
        s.shot("set-aside-retried-without-fix")
        assert set(SetAside.objects.values_list("state", "attempts")) == {("set_aside", 2)}

        # The fix for one of them; Retry it; it is processed and leaves the open list.
        Event.objects.filter(pk=late).update(timestamp=datetime(2026, 3, 1, tzinfo=UTC))
        s.goto("/admin/core/setaside/?state__exact=set_aside")
        page.locator(
            f'#result_list tr:has(a[href="/admin/tracking/event/{late}/change/"]) input.action-select'
        ).check()
        page.select_option("select[name=action]", "retry")
        s.submit("button[name=index]")
        assert page.locator("#result_list tbody tr").count() == 1
        s.shot("set-aside-after-fix")

        # Discard the other one: it stays out of the queue and off the open list.
        page.check("#action-toggle")
        page.select_option("select[name=action]", "discard")
        s.submit("button[name=index]")
        assert "1 row(s) discarded" in page.inner_text("ul.messagelist")
        s.goto("/admin/system-health/")
        assert page.locator("p.verdict").get_attribute("data-state") == "ok"
        s.shot("system-health-ok-again")
        assert s.problems == []

    assert Event.objects.filter(pk=late).values_list("processed_at", flat=True).get() is not None
    assert SetAside.objects.get(row_id=late).state == SetAsideState.RETRIED
    assert SetAside.objects.get(row_id=early).state == SetAsideState.DISCARDED


def test_marketers_do_not_see_the_set_aside_rows(client, transactional_db):
    roles_sync()
    user = User.objects.create_user("mia", "mia@example.com", "pw-marketer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="marketer"))
    client.force_login(user)
    assert client.get("/admin/core/setaside/").status_code == 403
    assert b"/admin/core/setaside/" not in client.get("/admin/").content
