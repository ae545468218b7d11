"""The growth pages (acquisition, LTV, CLV) in a real headless Chromium on the demo store, as a marketer
whose browser speaks German: reached from the admin index, charts drawn, no console errors, nothing
wider than the window, money in the viewer's locale, the missing-rate flag, the drill-down channel →
campaign → creative, CSV of every table, no button a marketer may not press; an operator's "make an
audience of these" opens the audience builder with the rule filled in. Then the same figures through
the API and its schema. Screenshots under test-artifacts/growth/."""

from __future__ import annotations

import csv
import io
import json
import shutil
from io import StringIO
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from tests.tracking_helpers import token_client
from tracking.roles import roles_sync

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "growth"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CHARTS = """() => Array.from(document.querySelectorAll('canvas.growth-chart')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) painted++;
  return {chart: c.dataset.chart, drawn: !!(window.Chart && Chart.getChart(c)), painted};
})"""
TOO_WIDE = "() => document.documentElement.scrollWidth > window.innerWidth + 1"

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed")


@pytest.fixture
def users(transactional_db, tmp_path, monkeypatch):
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(tmp_path / "pw"))
    # Enough shoppers for the CLV fit (100 customers, 50 of them repeat buyers).
    call_command("load_demo", "--shoppers", "800", "--no-progress", stdout=StringIO())
    roles_sync()
    made = {}
    for name, role in (("mara", "marketer"), ("otto", "operator")):
        user = User.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        made[role] = user
    return made


def _login(page, base: str, name: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"pw-{name}-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _check(page, name: str, *, charts: int) -> None:
    page.wait_for_load_state("networkidle")
    drawn = page.evaluate(CHARTS)
    assert len(drawn) == charts, (name, drawn)
    for chart in drawn:
        assert chart["drawn"] and chart["painted"] > 100, (name, chart)
    assert not page.evaluate(TOO_WIDE), f"{name}: wider than the window"
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _csv(page, href: str) -> list[list[str]]:
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200 and response.headers["content-type"].startswith("text/csv"), href
    return list(csv.reader(io.StringIO(response.text())))


def _first_cells(page, table: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{table} tbody tr:not(.total) td:first-child").all_inner_texts()]


# The demo store with 800 shoppers (what the CLV fit needs) takes a few minutes on a busy 2-core box.
@pytest.mark.timeout(900)
def test_growth_pages_in_a_browser(live_server, users, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="de-DE")
        # Generous waits: CI is a busy 2-core box; a slow page is not a failed one.
        context.set_default_timeout(120_000)
        context.set_default_navigation_timeout(120_000)
        page = context.new_page()
        page.on(
            "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        _login(page, base, "mara")
        page.get_by_role(
            "link", name="Growth pages (acquisition by channel, campaign and creative; LTV; predicted CLV)"
        ).click()
        page.wait_for_url(f"{base}/analytics/acquisition/")
        problems.clear()  # the admin's own favicon 404 is not ours
        _check(page, "acquisition", charts=1)
        channels = _first_cells(page, "#figures")
        assert {"Paid Search", "Paid Social", "Affiliate/KOL", "Email", "Direct"} <= set(channels), channels
        # German money: "1.234,56 €"; the demo's Saudi orders have no ECB rate and say so.
        cost = page.locator(".growth-summary div").first.locator("strong").inner_text()
        assert cost.endswith("€") and "," in cost, cost
        assert "no SAR rate for" in page.locator("p.missing").inner_text()
        assert "From the hourly rollup" in page.content()
        header = _csv(page, page.get_by_role("link", name="Download CSV").get_attribute("href"))[0]
        assert header[:4] == ["channel", "campaign", "creative", "day"] and "roas" in header
        trend = _csv(page, page.get_by_role("link", name="Download daily CSV").get_attribute("href"))
        assert len(trend) > 20
        # Drill down: channel → campaign → creative.
        page.locator("#figures").get_by_role("link", name="Paid Social", exact=True).click()
        _check(page, "acquisition-paid-social", charts=1)
        campaigns = _first_cells(page, "#figures")
        assert "spring-coffee-2026" in campaigns and "tiktok-brew-guides" in campaigns, campaigns
        page.locator("#figures").get_by_role("link", name="spring-coffee-2026", exact=True).click()
        _check(page, "acquisition-spring-creatives", charts=1)
        creatives = set(_first_cells(page, "#figures"))
        assert creatives <= {"reel-beans", "reel-pourover", "story-sale"} and len(creatives) >= 2, creatives
        # First-touch credit, a 90-day ROAS window (computed raw: the rollup keeps 30).
        page.select_option("select[name=model]", "first")
        page.fill("input[name=window]", "90")
        page.click("input[type=submit][value=Show]")
        _check(page, "acquisition-first-touch-window-90", charts=1)
        assert "Computed from the raw touches" in page.content()
        # Nonsense the browser lets through is a 400 naming the option.
        page.goto(f"{base}/analytics/acquisition/?window=0")
        assert "window: '0' must be a whole number from 1 to 730" in page.locator(".errornote").inner_text()
        assert problems == [
            "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        problems.clear()
        # LTV curves.
        page.goto(f"{base}/analytics/acquisition/")
        page.locator(".breadcrumbs").get_by_role("link", name="LTV").click()
        _check(page, "ltv-by-channel", charts=1)
        assert "Paid Social" in _first_cells(page, "#cohorts")
        assert [t.upper() for t in page.locator("#cohorts thead th").all_inner_texts()[-3:]] == [
            "CAC",
            "LTV:CAC",
            "PAYBACK",
        ]
        page.select_option("select[name=by]", "creative")
        page.click("input[type=submit][value=Show]")
        _check(page, "ltv-by-creative", charts=1)
        assert any(c.startswith("Paid Social / ") for c in _first_cells(page, "#cohorts"))
        rows = _csv(page, page.get_by_role("link", name="Download CSV").get_attribute("href"))
        assert rows[0][:3] == ["cohort", "customers", "ltv_30d"] and len(rows) > 5
        # Predicted CLV: distribution, LTV by first touch, value at risk; no audience button for a marketer.
        page.locator(".breadcrumbs").get_by_role("link", name="Predicted CLV").click()
        _check(page, "clv", charts=1)
        # The at-risk table or, when the fit sees nobody lapsing, the sentence that says so.
        assert page.locator("#at-risk tbody tr").count() > 0 or "No profile is at risk." in page.content()
        assert "Paid Social" in _first_cells(page, "#by-first-touch")
        assert page.locator("#make-audience").count() == 0
        assert "probability_alive" in page.locator("#audience-rule").inner_text()
        page.select_option("select[name=by]", "creative")
        page.click("input[type=submit][value=Show]")
        _check(page, "clv-by-creative", charts=1)
        exports = {
            link.get_attribute("href"): _csv(page, link.get_attribute("href"))
            for name in ("Download distribution CSV", "Download CSV")
            for link in page.get_by_role("link", name=name, exact=True).all()
        }
        assert len(exports["?export=distribution"]) > 2 and len(exports["?by=creative&export=by"]) > 2
        assert exports["?export=at-risk"][0][:3] == ["profile_id", "predicted_clv_12m", "probability_alive"]
        assert problems == [], problems
        # An operator makes an audience of the profiles at risk.
        context.clear_cookies()
        _login(page, base, "otto")
        page.goto(f"{base}/analytics/clv/")
        page.click("#make-audience")
        page.wait_for_url("**/admin/audiences/audience/add/**")
        rule = json.loads(page.locator("textarea[name=rule]").input_value())
        assert rule["all"][0] == {"trait": "probability_alive", "op": "lt", "value": 0.5}
        assert page.locator("input[name=name]").input_value() == "High value at risk"
        page.screenshot(path=str(ARTIFACTS / "at-risk-audience.png"), full_page=True)
        browser.close()
    # The same figures through the API, for a marketer's token; the schema documents them.
    api = token_client(users["marketer"])
    figures = api.get("/api/analytics/acquisition/", {"level": "campaign", "channel": "Paid Social"}).json()
    assert figures["source"] == "rollup" and figures["currency"] == "EUR"
    assert {r["campaign"] for r in figures["rows"]} >= {"spring-coffee-2026", "tiktok-brew-guides"}
    ltv = api.get("/api/analytics/ltv/", {"by": "channel"}).json()
    assert {c["cohort"] for c in ltv["cohorts"]} >= {"Paid Social", "Paid Search"}
    clv = api.get("/api/analytics/clv/", {"by": "campaign", "limit": "5"}).json()
    assert clv["fit"]["problems"] == [] and len(clv["at_risk"]) <= 5 and clv["by"]
    assert api.get("/api/analytics/clv/", {"by": "colour"}).status_code == 400
    assert api.get("/api/analytics/ltv/", {"start": "yesterday"}).status_code == 400
    schema = json.loads(api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    for path in ("/api/analytics/acquisition/", "/api/analytics/ltv/", "/api/analytics/clv/"):
        assert set(schema["paths"][path]["get"]["responses"]) >= {"200", "400", "401", "403"}, path
