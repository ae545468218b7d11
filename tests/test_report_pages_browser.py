"""Every report page in a real headless Chromium, logged in as a marketer: reachable from the admin,
no console errors, charts drawn, a screenshot per page under test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from journeys.reports import fold
from journeys.reports.testing import dataset_generate
from tests.browser import ARGS, chromium_require, needs_chromium
from tracking.roles import roles_sync

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "reports"
CANVASES = """() => Array.from(document.querySelectorAll('canvas.report-chart')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) painted++;
  return {chart: !!(window.Chart && Chart.getChart(c)), painted};
})"""

pytestmark = needs_chromium


@pytest.fixture
def marketer(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("mara", "mara@example.com", "pw-marketer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="marketer"))
    return user


def test_report_pages_render_with_charts_for_a_marketer(live_server, marketer, monkeypatch):
    from playwright.sync_api import sync_playwright

    ds = dataset_generate(seed=3, profiles=80, start=datetime(2026, 5, 4, tzinfo=UTC))
    fold.rollups_fold_until_idle()
    # Playwright's sync API runs an event loop in this thread; the ORM work above is finished.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_require(), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on(
            "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "mara")
        page.fill("#id_password", "pw-marketer-123")
        page.click("input[type=submit]")
        # From the admin index to the reports.
        page.get_by_role("link", name="Report pages (overview of every campaign)").click()
        page.wait_for_url(f"{live_server.url}/reports/")
        # The admin's own pages ask for /favicon.ico (a 404 that is not ours); count from the reports on.
        problems.clear()
        pages = [("overview", page.url)]
        for kind, cid in (("journey", ds.journey.pk), ("broadcast", ds.broadcast.pk)):
            pages.append((f"{kind}-utc-day", f"{live_server.url}/reports/{kind}/{cid}/"))
            pages.append(
                (
                    f"{kind}-local-hour",
                    f"{live_server.url}/reports/{kind}/{cid}/?tz=local&bucket=hour&attribution=linear",
                )
            )
        pages.append(("overview-workspace", f"{live_server.url}/reports/?tz=workspace"))
        for name, url in pages:
            response = page.goto(url)
            assert response.status == 200, (name, response.status)
            page.wait_for_function(
                "() => [...document.querySelectorAll('canvas.report-chart')].every(c => c.dataset.drawn)"
            )
            canvases = page.evaluate(CANVASES)
            assert canvases, f"{name}: no charts"
            assert all(c["chart"] and c["painted"] > 50 for c in canvases), (name, canvases)
            assert page.locator("table.report-table").count() >= 1
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        # The campaign page says in words what the A/B test and the holdout show.
        page.goto(f"{live_server.url}/reports/broadcast/{ds.broadcast.pk}/")
        assert page.locator("p.verdict").count() >= 1
        assert "Variant" in page.content() or "No winner" in page.content()
        browser.close()
    assert problems == []
