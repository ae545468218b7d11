"""A journey designer builds an on-site pop-up in the admin, in a real headless Chromium: mistakes
are refused beside the field that has them, the saved message offers a signed preview link that
opens the shop's real page with the message forced on (paused or not, whatever its trigger), and
pause / resume are actions. A marketer reads the same page without buttons. Screenshots under
test-artifacts/onsite-admin/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from journeys.onsite.models import Message, Status
from journeys.onsite.services import messages_cache_clear
from tests.browser import browser_session, needs_chromium
from tests.browser_servers import shop
from tracking.roles import roles_sync
from tracking.services.sources import source_create

pytestmark = needs_chromium

SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Teapot shop</title><link rel="icon" href="data:,">
<script async src="{voyage}/onsite/1/onsite.js" data-write-key="{write_key}"></script></head>
<body><h1>Teapots</h1></body></html>"""


@pytest.fixture
def people(transactional_db) -> None:
    roles_sync()
    for username, role in (("dana", "journey designer"), ("mark", "marketer")):
        user = User.objects.create_user(username, f"{username}@shop.example", "pw-onsite-123", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
    yield
    messages_cache_clear()


def _fits(s) -> None:
    assert s.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
        "wider than the screen"
    )


def test_designer_creates_a_pop_up_fixes_what_is_refused_previews_it_on_the_shop_and_pauses_it(
    live_server, people, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    pages: dict[str, str] = {}
    with shop(pages) as shop_url:
        source = source_create(name="teapot-web", allowed_origins=[shop_url])
        pages["/"] = SHOP_PAGE.format(voyage=live_server.url, write_key=source.write_key)
        with browser_session(live_server.url, "dana", "pw-onsite-123", artifacts="onsite-admin") as s:
            s.goto("/admin/onsite/message/add/")
            s.page.fill("#id_name", "Welcome offer")
            s.page.select_option("#id_source", str(source.pk))
            s.page.select_option("#id_kind", "modal")
            s.page.select_option("#id_trigger", "delay")  # … and no seconds
            s.page.check("#id_form_email")
            s.page.fill("#id_consents", '[{"channel": "fax", "label": "Fax me"}]')
            s.page.fill("#id_url_rules", '[{"match": "regex", "value": "/products/(["}]')
            s.page.fill("#id_variants-0-headline", "Hello {{ profile.first_name | default: 'there' }")
            s.page.fill("#id_variants-0-cta_label", "Shop now")
            s.page.fill("#id_variants-0-cta_url", "https://elsewhere.example.net/")
            s.submit("input[name=_continue]")
            errors = {
                name: s.page.inner_text(f".field-{name} .errorlist")
                for name in ("trigger_seconds", "consents", "url_rules", "headline", "cta_url")
            }
            assert "this trigger needs seconds to wait" in errors["trigger_seconds"]
            assert "checkbox 1: needs a channel" in errors["consents"]
            assert "rule 1: not a valid regular expression" in errors["url_rules"]
            assert errors["headline"].strip()  # Liquid's own message about the unclosed tag
            assert "allowed origins" in errors["cta_url"]
            s.shot("1-refused")
            assert not Message.objects.exists()

            s.page.fill("#id_trigger_seconds", "10")
            s.page.fill(
                "#id_consents", '[{"channel": "email", "topic": "marketing", "label": "Email me offers"}]'
            )
            s.page.fill("#id_url_rules", '[{"match": "contains", "value": "/"}]')
            s.page.fill("#id_variants-0-headline", "Hello {{ profile.first_name | default: 'there' }}")
            s.page.fill("#id_variants-0-cta_url", "/sale")
            s.page.select_option("#id_status", "active")
            s.submit("input[name=_continue]")
            assert s.page.locator(".errorlist").count() == 0, s.page.inner_text("#content")[:1500]
            message = Message.objects.get(name="Welcome offer")
            assert (message.status, message.trigger_seconds, message.variants.get().cta_url) == (
                "active",
                10,
                "/sale",
            )
            assert "Nobody has seen it yet." in s.page.inner_text(".field-results")
            s.shot("3-saved")
            _fits(s)

            # Pause it from the list; the preview still shows it on the shop's own page, at once.
            s.goto("/admin/onsite/message/")
            s.page.check(f"input[name=_selected_action][value='{message.pk}']")
            s.page.select_option("select[name=action]", "pause")
            s.submit("button[name=index]")
            assert "1 message(s) paused." in s.page.inner_text(".messagelist")
            s.shot("4-paused")
            _fits(s)
            # The list's table fits its box (no column cut off behind a scrollbar).
            assert s.page.evaluate(
                "(() => { const t = document.querySelector('#result_list');"
                " return t.getBoundingClientRect().right <= t.parentElement.getBoundingClientRect().right + 1; })()"
            )
            s.goto(f"/admin/onsite/message/{message.pk}/change/")
            link = s.page.locator(".field-preview_link a")
            href = link.get_attribute("href")
            assert href.startswith(shop_url + "/?voyage_preview=")
            shop_page = s.page  # (the link opens a new tab; here the same tab follows it)
            shop_page.goto(href)
            shop_page.locator("voyage-onsite [role=dialog] h2").wait_for(timeout=15000)
            assert shop_page.locator("voyage-onsite h2").inner_text() == "Hello there"
            shop_page.screenshot(path=str(s.artifacts / "5-preview-on-the-shop.png"))
            # A tampered token is refused, and nothing is shown.
            with shop_page.expect_response(lambda r: r.url.endswith("/v1/onsite/decide")) as refused:
                shop_page.goto(href[:-3] + "xyz")
            assert refused.value.status == 400
            assert shop_page.locator("voyage-onsite").count() == 0
            s.problems[:] = [p for p in s.problems if "status of 400" not in p]
            assert s.problems == [], s.problems

        with browser_session(live_server.url, "mark", "pw-onsite-123", artifacts="onsite-admin") as m:
            m.goto(f"/admin/onsite/message/{message.pk}/change/")
            assert m.page.locator("input[name=_save]").count() == 0
            assert m.page.locator("#id_name").count() == 0  # read only
            m.goto("/admin/onsite/message/")
            assert m.page.locator("select[name=action]").count() == 0
            assert m.page.locator(".object-tools a.addlink").count() == 0
            m.shot("6-marketer-reads")
            assert m.problems == [], m.problems
    message.refresh_from_db()
    assert message.status == Status.PAUSED
