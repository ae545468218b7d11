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


def test_marketer_reads_a_report_that_reads_right(live_server, marketer, monkeypatch, tmp_path, settings):
    """Issue 15 and 13 as a marketer sees them, on the hand-computed case
    (tests/test_report_attribution_money.py): the attribution switch moves credit between templates,
    the funnel counts people (each step within the one before) apart from message volumes, the page
    stays within a 1,400 px window, money is in the workspace currency with the missing rate named."""
    from audiences.models import Audience
    from journeys.reports.testing import CASE_RATES, attribution_case_generate
    from tracking.analytics.models import FxRate
    from tracking.analytics.money import fx_rates_load
    from tracking.models import Profile

    from .browser import browser_session

    chromium_require()
    settings.WORKSPACE_CURRENCY = "EUR"
    FxRate.objects.all().delete()
    rates = tmp_path / "eurofxref-hist.csv"
    rates.write_text(CASE_RATES)
    fx_rates_load(path=rates)
    journey = attribution_case_generate()
    audience = Audience.objects.create(slug="case-people", name="Case people", kind="static")
    profile = Profile.objects.first()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "mara", "pw-marketer-123", artifacts="reports-marketer") as s:
        page = s.page

        def template_conversions() -> dict[str, str]:
            rows = page.locator("#by-template tbody tr")
            heads = [h.strip().lower() for h in page.locator("#by-template thead th").all_inner_texts()]
            col = heads.index("conversions")
            out = {}
            for i in range(rows.count()):
                cells = rows.nth(i).locator("td").all_inner_texts()
                out[cells[0].strip()] = cells[col].strip()
            return out

        s.goto(f"/reports/journey/{journey.pk}/")
        page.wait_for_function(
            "() => [...document.querySelectorAll('canvas.report-chart')].every(c => c.dataset.drawn)"
        )
        # Within the window: no horizontal scroll of the page itself.
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 1400, f"the report is {width} px wide in a 1,400 px window"
        # People funnel: 5 entered, 4 reached, 2 opened, 1 clicked, 1 converted; never above the step before.
        funnel = [int(c) for c in page.locator("#funnel tbody tr td:nth-child(2)").all_inner_texts()]
        assert funnel == [5, 4, 2, 1, 1]
        shares = [
            float(t.rstrip("%"))
            for t in page.locator("#funnel tbody tr td:nth-child(3)").all_inner_texts()
            if t
        ]
        assert all(x <= 100 for x in shares), shares
        assert "Sent" in page.locator("#volumes").inner_text()  # message volumes stand apart
        # Money: EUR for the viewer's locale, the originals beside, the missing JPY rate named.
        assert "€210.00" in page.locator("#summary-revenue").inner_text()
        assert "no JPY rate for 2026-03-05" in page.locator("#missing-rates").inner_text()
        last = template_conversions()
        assert last["case-a"] == "1" and last["case-c"] == "3", last
        s.shot("journey-last-touch")
        page.select_option("select[name=attribution]", "first")
        s.submit(".report-options input[type=submit]")
        first = template_conversions()
        assert first["case-a"] == "2" and first["case-b"] == "1" and first["case-c"] == "1", first
        page.select_option("select[name=attribution]", "linear")
        s.submit(".report-options input[type=submit]")
        linear = template_conversions()
        assert linear["case-a"] == "1.33" and linear["case-c"] == "1.83", linear
        # "All figures" opens the other columns (and the original currencies) in a box that scrolls.
        page.locator("details.all-figures summary").first.click()
        assert page.locator("#all-by-stage").is_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
        s.shot("journey-linear-all-figures")
        assert s.problems == []  # the report pages: no JS error, no missing file

        # Only what a marketer may do: no Publish / Pause / Archive on the journey.
        s.goto(f"/admin/journeys/journey/{journey.pk}/change/")
        tools = page.locator(".object-tools").inner_text() if page.locator(".object-tools").count() else ""
        for word in ("Publish", "Pause", "Archive"):
            assert word not in tools, tools
        assert page.locator("form[action*='/state/'] button, form[action*='/publish/'] button").count() == 0
        s.shot("journey-admin-marketer")
        # Personal data is its own permission: no profile pages, no member export.
        assert page.goto(f"{live_server.url}/admin/tracking/profile/{profile.pk}/change/").status == 403
        s.goto(f"/admin/audiences/audience/{audience.pk}/change/")
        assert page.locator("text=Export members").count() == 0
        assert page.goto(f"{live_server.url}/admin/audiences/audience/{audience.pk}/export/").status == 403
    # The admin's own pages ask for /favicon.ico (404), and the refused pages answer 403, as they should.
    assert [p for p in s.problems if "403" not in p and "404" not in p] == []
