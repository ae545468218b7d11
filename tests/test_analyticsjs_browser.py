"""analytics.js in a real Chromium on a shop's page, from another origin than Voyage: the standard
Segment snippet with only its CDN host changed loads the library and its settings from Voyage, and
page / identify / track arrive, stored and resolved to one profile (read back through the profile
API). A page on an origin the source does not allow is refused at the preflight and stores nothing.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from tests.browser import chromium_require, needs_chromium
from tests.browser_servers import shop, voyage_https
from tests.segment_snippet import segment_snippet
from tracking.models import Event
from tracking.services.sources import source_create

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "analyticsjs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True),
]

SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Teapot shop</title><link rel="icon" href="data:,">
<script>{snippet}</script></head>
<body><h1>Teapots</h1>
<button id="buy" onclick="analytics.track('Product Added', {{sku: 'TEA-1', price: 24.5, currency: 'EUR'}})
  .then(function () {{ document.body.dataset.tracked = '1'; }})">Add to cart</button>
<form id="signup" onsubmit="event.preventDefault();
  analytics.identify('shopper-7', {{email: 'Ada@Example.com', name: 'Ada'}})
  .then(function () {{ document.body.dataset.identified = '1'; }})">
  <button type="submit">Sign up</button></form>
</body></html>"""


def _wait_for(check, *, what: str, timeout: float = 60.0):
    """Poll an outcome; the bound is generous because CI is a busy machine, and only a failure waits it out."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_segment_snippet_sends_to_voyage_from_an_allowed_origin_and_not_from_another(monkeypatch):
    from playwright.sync_api import sync_playwright

    user = User.objects.create_superuser("web-admin", "w@example.com", "pw-web-123")
    token = Token.objects.create(user=user).key
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    # Both shops serve the same page (filled in below, read per request); only the first origin is on
    # the source's list.
    pages: dict[str, str] = {}
    with voyage_https() as voyage, shop(pages) as allowed_shop, shop(pages) as other_shop:
        source = source_create(name="teapot-web", allowed_origins=[allowed_shop])
        pages["/"] = SHOP_PAGE.format(snippet=segment_snippet(host=voyage.host, write_key=source.write_key))
        problems: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_require(), args=ARGS)
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            page.on(
                "console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(allowed_shop + "/")
            page.wait_for_function("() => window.analytics && window.analytics.initialized === true")
            page.click("#signup button")
            page.wait_for_selector("body[data-identified='1']")
            page.click("#buy")
            page.wait_for_selector("body[data-tracked='1']")
            page.screenshot(path=str(ARTIFACTS / "allowed-shop.png"))

            # Read back through the profile API, over HTTPS like everything else here.
            api = requests.Session()
            # Per request: a session-wide verify= loses to REQUESTS_CA_BUNDLE in the environment.
            api.get = functools.partial(api.get, verify=voyage.ca)  # type: ignore[method-assign]
            api.headers["Authorization"] = f"Bearer {token}"

            def events_of_shopper():
                found = api.get(f"{voyage.url}/api/profiles/", params={"user_id": "shopper-7"}, timeout=10)
                assert found.status_code == 200, found.text[:300]
                results = found.json()["results"]
                if len(results) != 1:
                    return None
                events = api.get(f"{voyage.url}/api/profiles/{results[0]['id']}/events/", timeout=10).json()
                types = sorted(e["type"] for e in events["results"])
                return (
                    (results[0]["id"], events["results"]) if types == ["identify", "page", "track"] else None
                )

            profile_id, events = _wait_for(events_of_shopper, what="page, identify and track on one profile")
            by_type = {e["type"]: e for e in events}
            assert by_type["track"]["name"] == "Product Added"
            assert by_type["track"]["properties"] == {"sku": "TEA-1", "price": 24.5, "currency": "EUR"}
            assert by_type["identify"]["traits"]["email"] == "Ada@Example.com"
            assert by_type["page"]["context"]["library"]["name"] == "analytics.js"
            assert by_type["page"]["context"]["page"]["url"].startswith(allowed_shop)
            # The anonymous id analytics.js set before identify, and the email, lead to the same person.
            anonymous_id = by_type["page"]["anonymous_id"]
            assert anonymous_id and by_type["track"]["anonymous_id"] == anonymous_id
            for identity in ({"anonymous_id": anonymous_id}, {"email": "ada@example.com"}):
                found = api.get(f"{voyage.url}/api/profiles/", params=identity, timeout=10).json()["results"]
                assert [p["id"] for p in found] == [profile_id], identity
            assert problems == [], problems

            # The other origin: same page, same key; the browser's preflight is refused.
            other = context.new_page()
            refused: list[str] = []
            other.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
            # The refusal as the network sees it: a refused preflight fails the request; a simple
            # request (text/plain) reaches Voyage and is answered 403. Chromium's console wording of
            # it is not always there in time on a busy machine, so either counts.
            turned_away: list[str] = []
            other.on(
                "requestfailed",
                lambda r: turned_away.append(f"failed {r.url}") if "/v1/" in r.url else None,
            )
            other.on(
                "response",
                lambda r: (
                    turned_away.append(f"{r.status} {r.url}") if "/v1/" in r.url and r.status == 403 else None
                ),
            )
            other.goto(other_shop + "/")
            other.wait_for_function("() => window.analytics && window.analytics.initialized === true")
            other.evaluate("() => { analytics.track('Should Not Arrive'); }")
            # Chromium words the refusal after the preflight it made; any CORS refusal of this origin
            # is what matters, and a busy machine may take a while to get analytics.js to send.
            _wait_for(
                lambda: turned_away or any("CORS policy" in text for text in refused),
                what="the CORS refusal",
                timeout=180,
            )
            other.screenshot(path=str(ARTIFACTS / "other-shop.png"))
            browser.close()
            api.close()
        cors_errors = [t for t in refused if "CORS policy" in t]
        assert (cors_errors or turned_away) and all(other_shop in t for t in cors_errors), refused
        # (The ORM is used only outside Playwright's block: its event loop would give this thread a
        # second database connection that nothing closes.) Only the allowed shop's three events exist.
        assert sorted(Event.objects.values_list("type", flat=True)) == ["identify", "page", "track"]


def test_operator_sets_allowed_origins_in_the_admin_with_errors_naming_the_line(live_server, monkeypatch):
    from playwright.sync_api import sync_playwright

    User.objects.create_superuser("ops", "ops@example.com", "pw-ops-1234")
    source = source_create(name="teapot-web")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_require(), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(f"{live_server.url}/admin/login/?next=/admin/tracking/source/{source.pk}/change/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "pw-ops-1234")
        page.click("input[type=submit]")
        page.fill("#id_allowed_origins", "https://shop.example.com\nshop.example.com/cart\n")
        page.click("input[name=_save]")
        error = page.locator(".field-allowed_origins .errorlist").inner_text()
        assert "line 2: 'shop.example.com/cart': an origin is scheme://host[:port]" in error
        page.screenshot(path=str(ARTIFACTS / "admin-source-error.png"), full_page=True)
        page.fill("#id_allowed_origins", "https://Shop.example.com/\n\nhttp://127.0.0.1:8012\n")
        page.click("input[name=_save]")
        page.wait_for_url(f"{live_server.url}/admin/tracking/source/")
        row = page.locator("#result_list tbody tr", has_text="teapot-web").inner_text()
        assert "https://shop.example.com, http://127.0.0.1:8012" in row
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(ARTIFACTS / "admin-source-list.png"), full_page=True)
        browser.close()
    assert problems == []
    source.refresh_from_db()
    assert source.allowed_origins == ["https://shop.example.com", "http://127.0.0.1:8012"]
