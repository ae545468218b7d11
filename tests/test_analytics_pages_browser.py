"""Every behaviour page in a real headless Chromium on the demo store: reached from the admin index
as a marketer, no console errors, charts drawn, no table wider than the window, the builder's
"More steps" button works, and an operator's "make an audience" opens the audience builder with
the rule filled in. A screenshot per page under test-artifacts/analytics/."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from tests.browser import chromium_require, needs_chromium
from tracking.roles import roles_sync

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "analytics"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CANVASES = """() => Array.from(document.querySelectorAll('canvas.behaviour-chart')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) painted++;
  return {chart: c.dataset.chart, drawn: !!(window.Chart && Chart.getChart(c)), painted};
})"""
TOO_WIDE = "() => document.documentElement.scrollWidth > window.innerWidth + 1"

pytestmark = needs_chromium


@pytest.fixture
def users(transactional_db, tmp_path, monkeypatch):
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(tmp_path / "pw"))
    call_command("load_demo", "--shoppers", "150", "--no-progress", stdout=StringIO())
    roles_sync()
    for name, role in (("mara", "marketer"), ("otto", "operator")):
        user = User.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123", is_staff=True)
        user.groups.add(Group.objects.get(name=role))


def _login(page, base: str, name: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", name)
    page.fill("#id_password", f"pw-{name}-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_behaviour_pages_in_a_browser(live_server, users, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_require(), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on(
            "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        _login(page, base, "mara")
        page.get_by_role(
            "link", name="Behaviour pages (funnels, retention, search, slots, affinity, new products)"
        ).click()
        page.wait_for_url(f"{base}/analytics/funnels/")
        problems.clear()  # the admin's own favicon 404 is not ours
        links = [
            "Funnel",
            "Retention",
            "Site search keywords",
            "Slots and promotions",
            "Product affinity",
            "New products",
        ]
        for name in links:
            page.locator("nav.behaviour-nav").get_by_role("link", name=name, exact=True).click()
            page.wait_for_load_state("networkidle")
            slug = name.lower().replace(" ", "-")
            charts = page.evaluate(CANVASES)
            assert charts, f"{name}: no chart"
            for chart in charts:
                assert chart["drawn"] and chart["painted"] > 100, (name, chart)
            assert not page.evaluate(TOO_WIDE), f"{name}: wider than the window"
            page.screenshot(path=str(ARTIFACTS / f"{slug}.png"), full_page=True)
        # Search, slots and affinity read the rollups (days not folded yet live); flags are explained;
        # revenue is one figure in the workspace currency.
        for path in ("search", "slots", "affinity"):
            page.goto(f"{base}/analytics/{path}/")
            assert "daily rollups" in page.locator(".source-note").inner_text(), path
        page.goto(f"{base}/analytics/search/")
        assert page.locator("dl.behaviour-flags dt").count() == 4
        assert "Unmet demand" in page.locator("dl.behaviour-flags").inner_text()
        page.goto(f"{base}/analytics/slots/")
        page.fill("input[name=window_hours]", "2")
        page.click("input[type=submit][value='Show']")
        page.wait_for_load_state("networkidle")
        assert "raw events" in page.locator(".source-note").inner_text()
        revenue = page.locator("#slots tbody tr td:nth-child(11)").all_inner_texts()
        assert any(r.strip() not in ("", "—") for r in revenue), revenue
        page.screenshot(path=str(ARTIFACTS / "slots-raw-2h.png"), full_page=True)
        # The funnel builder: reveal a fifth step, fill it, run it with a breakdown.
        page.locator("nav.behaviour-nav").get_by_role("link", name="Funnel", exact=True).click()
        assert not page.locator("input[aria-label='Step 5 event']").is_visible()
        page.click("#more-steps")
        page.fill("input[aria-label='Step 5 event']", "Order Refunded")
        page.locator("select[name=bd_kind]").first.select_option("country")
        page.locator("select[name=bd_kind]").nth(1).select_option("channel")
        page.click("input[type=submit][value='Show funnel']")
        page.wait_for_load_state("networkidle")
        assert page.locator("#funnel-steps tbody tr").count() == 5
        assert page.locator("#funnel-breakdown").is_visible()
        assert "acquisition channel" in page.locator("#funnel-breakdown").inner_text().lower()
        assert page.locator("a.make-audience").count() == 0  # marketers may not add audiences
        assert not page.evaluate(TOO_WIDE)
        page.screenshot(path=str(ARTIFACTS / "funnel-five-steps-by-country.png"), full_page=True)
        # Nonsense the browser lets through is an error by field, not a 500.
        page.fill("input[name=ex_event]", "Product Removed")
        page.fill("input[name=ex_from]", "3")
        page.fill("input[name=ex_to]", "2")
        page.click("input[type=submit][value='Show funnel']")
        assert "exclusions[0].to_step" in page.locator(".behaviour-errors").inner_text()
        page.screenshot(path=str(ARTIFACTS / "funnel-error.png"), full_page=True)
        assert problems == [
            "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        problems.clear()
        # Save, then reopen from the list.
        page.goto(f"{base}/analytics/retention/")
        page.fill("input[name=name]", "Weekly buyers")
        page.click("input[type=submit][value='Save']")
        page.wait_for_load_state("networkidle")
        assert page.locator(".behaviour-saved").get_by_role("link", name="Weekly buyers").count() == 1
        page.screenshot(path=str(ARTIFACTS / "retention-saved.png"), full_page=True)
        assert problems == [], problems
        # An operator may add audiences: the drop-off link opens the builder with the rule filled in.
        page.context.clear_cookies()
        _login(page, base, "otto")
        page.goto(f"{base}/analytics/funnels/")
        page.locator("a.make-audience").first.click()
        page.wait_for_url("**/admin/audiences/audience/add/**")
        rule = json.loads(page.locator("textarea[name=rule]").input_value())
        assert rule["all"][1]["not"]["sequence"][1]["event"] == "Product Added"
        assert page.locator("input[name=name]").input_value().startswith("Dropped after Product Viewed")
        page.screenshot(path=str(ARTIFACTS / "dropoff-audience.png"), full_page=True)
        browser.close()
