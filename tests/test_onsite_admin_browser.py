"""A journey designer builds an on-site pop-up in the designer, in a real headless Chromium at 1366 px:
no JSON anywhere; nonsense is listed by field while typing and refused beside the field on Save; the
desktop and mobile frames (the snippet itself rendering the draft) follow the edits, for an anonymous
visitor or a sample profile; the saved message offers a signed link that opens the shop's real page
(another origin) with the message forced on; Pause / Resume are buttons. A marketer reads the same
page without buttons. Screenshots under test-artifacts/onsite-admin/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from journeys.onsite.models import Message, Status
from journeys.onsite.services import messages_cache_clear
from tests.browser import browser_session, needs_chromium
from tests.browser_servers import shop
from tracking.models import Profile
from tracking.roles import roles_sync
from tracking.services.sources import source_create

pytestmark = needs_chromium

SHOP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Teapot shop</title><link rel="icon" href="data:,">
<script async src="{voyage}/onsite/1/onsite.js" data-write-key="{write_key}"></script></head>
<body><h1>Teapots</h1></body></html>"""
WIDTH = 1366
FRAMES = ("#onsite-preview-desktop", "#onsite-preview-mobile")


@pytest.fixture
def people(transactional_db) -> None:
    roles_sync()
    for username, role in (("dana", "journey designer"), ("mark", "marketer")):
        user = User.objects.create_user(username, f"{username}@shop.example", "pw-onsite-123", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
    yield
    messages_cache_clear()


def _fits(s) -> None:
    assert s.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "wider than the screen"
    )


def _in_both_frames(s, selector: str, text: str) -> None:
    """Wait until the snippet in each preview frame shows `text` in `selector` (inside its shadow root)."""
    for frame in FRAMES:
        s.page.frame_locator(frame).locator(selector, has_text=text).first.wait_for(timeout=30000)


def _problems(s) -> str:
    return s.page.inner_text("#onsite-preview .vy-problems")


def _settled(s) -> None:
    s.page.wait_for_function(
        "() => { const p = document.getElementById('onsite-preview');"
        " return p.dataset.rendered && !p.classList.contains('vy-busy') && !p.classList.contains('vy-pending'); }",
        timeout=30000,
    )


def test_designer_builds_a_pop_up_with_a_live_preview_fixes_what_is_refused_and_pauses_it(
    live_server, people, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ana = Profile.objects.create(traits={"first_name": "Ana", "email": "ana@shop.example"})
    pages: dict[str, str] = {}
    with shop(pages) as shop_url:
        source = source_create(name="teapot-web", allowed_origins=[shop_url])
        pages["/"] = SHOP_PAGE.format(voyage=live_server.url, write_key=source.write_key)
        with browser_session(
            live_server.url, "dana", "pw-onsite-123", artifacts="onsite-admin", width=WIDTH
        ) as s:
            s.goto("/admin/onsite/message/add/")
            assert s.page.locator("textarea:visible").count() == 1  # the body text only: no JSON to type
            s.page.fill("#id_name", "Welcome offer")
            s.page.select_option("#id_source", str(source.pk))
            s.page.check("input[name=kind][value=modal]")
            # Only the chosen trigger's fields are shown.
            assert s.page.locator(".field-trigger_seconds").is_hidden()
            s.page.check("input[name=trigger][value=delay]")
            assert s.page.locator(".field-trigger_seconds").is_visible()
            assert s.page.locator(".field-trigger_event").is_hidden()
            s.page.fill("#id_trigger_seconds", "-5")
            s.page.select_option("select[name='url_rules-0-match']", "regex")
            s.page.fill("input[name='url_rules-0-value']", "/products/([")
            s.page.click(".vy-rule-add")
            s.page.select_option("select[name='url_rules-1-mode']", "exclude")
            s.page.fill("input[name='url_rules-1-value']", "/checkout")
            s.page.check("#id_form_email")
            sms = s.page.locator(".vy-consents-table tr", has_text="SMS").first
            sms.locator("input[type=checkbox]").check()  # an SMS checkbox, and no phone field asked
            s.page.fill("#id_variants-0-weight", "100")
            s.page.fill("#id_variants-0-headline", "Hello {{ profile.first_name | default: 'there' }")
            s.page.fill("#id_variants-0-body", "Ten per cent off\n{% if coupon %}your code: {{ coupon }}")
            s.page.fill("#id_variants-0-cta_label", "Shop now")
            s.page.fill("#id_variants-0-cta_url", "https://elsewhere.example.net/")

            # While typing: each problem listed with the name of its field.
            s.page.locator(".vy-problem-list li[data-field='variants-0-cta_url']").wait_for(timeout=30000)
            _settled(s)
            listed = _problems(s)
            for expected in (
                "Seconds on the page: Ensure this value is greater than or equal to 1.",
                "Pages (URL rules): rule 1: not a valid regular expression",
                "Consent checkboxes: sms / marketing: the form must ask for a phone number",
                "Content A/en › Headline: line 1: expected '}}'",
                "Content A/en › Body: line 2: ",
                "Content A/en › Call-to-action URL",
            ):
                assert expected.lower() in listed.lower(), (expected, listed)
            s.shot("1-live-problems")

            # Save refuses it, each problem beside its field, and nothing is stored.
            s.submit("input[name=_continue]")
            errors = {
                name: s.page.inner_text(f".field-{name} .errorlist")
                for name in ("trigger_seconds", "consents", "url_rules", "headline", "body", "cta_url")
            }
            assert "greater than or equal to 1" in errors["trigger_seconds"]
            assert "must ask for a phone number" in errors["consents"]
            assert "rule 1: not a valid regular expression" in errors["url_rules"]
            assert errors["headline"].startswith("line 1: ")
            assert errors["body"].startswith("line 2: ")
            assert "allowed origins" in errors["cta_url"]
            assert not Message.objects.exists()
            # What was typed is all still there (the second rule too).
            assert s.page.input_value("input[name='url_rules-1-value']") == "/checkout"
            assert s.page.input_value("select[name='url_rules-1-mode']") == "exclude"
            _settled(s)
            s.shot("2-refused")

            s.page.fill("#id_trigger_seconds", "10")
            s.page.select_option("select[name='url_rules-0-match']", "contains")
            s.page.fill("input[name='url_rules-0-value']", "/")
            sms = s.page.locator(".vy-consents-table tr", has_text="SMS").first
            sms.locator("input[type=checkbox]").uncheck()
            s.page.locator(".vy-consents-table tr", has_text="Email").first.locator(
                "input[type=checkbox]"
            ).check()
            s.page.fill("#id_variants-0-headline", "Hello {{ profile.first_name | default: 'there' }}")
            s.page.fill(
                "#id_variants-0-body", "Ten per cent off\n{% if coupon %}your code: {{ coupon }}{% endif %}"
            )
            s.page.fill("#id_variants-0-coupon_code", "WELCOME10")
            s.page.fill("#id_variants-0-cta_url", "/sale")
            # The frames show it as the snippet does: a dialog on the desktop, a bottom sheet on the phone.
            _in_both_frames(s, "voyage-onsite [role=dialog] h2", "Hello there")
            _settled(s)
            assert _problems(s) == ""
            sheet = s.page.frame_locator("#onsite-preview-mobile").locator("voyage-onsite .box")
            assert sheet.evaluate("b => Math.round(b.getBoundingClientRect().width) === window.innerWidth")
            dialog = s.page.frame_locator("#onsite-preview-desktop").locator("voyage-onsite .box")
            assert dialog.evaluate("b => b.getBoundingClientRect().width < window.innerWidth / 2")
            s.shot("3-preview")

            # The frames follow the edits (docked: in view while the content is edited below) …
            s.page.check("#vy-preview-dock")
            s.page.fill("#id_variants-0-headline", "Welcome, {{ profile.first_name | default: 'friend' }}")
            _in_both_frames(s, "voyage-onsite h2", "Welcome, friend")
            _settled(s)
            # The frames never take the keyboard from the field being edited (the snippet focuses
            # a modal's first field when it opens; here that would swallow the next keystrokes).
            assert s.page.evaluate("document.activeElement.id") == "id_variants-0-headline"
            # Scrolled down to the trigger's fields: the docked preview is still at the top.
            s.page.locator("#id_trigger_seconds").evaluate("e => e.scrollIntoView({block: 'center'})")
            assert s.page.locator("#onsite-preview").evaluate("p => p.getBoundingClientRect().top") == 0
            assert s.page.evaluate("window.scrollY") > 800
            s.page.screenshot(path=str(s.artifacts / "3b-docked-while-editing.png"))
            s.page.uncheck("#vy-preview-dock")
            # … for a sample profile too …
            s.page.select_option("#vy-preview-profile", str(ana.pk))
            _in_both_frames(s, "voyage-onsite h2", "Welcome, Ana")
            # … and another kind.
            s.page.check("input[name=kind][value=bar_top]")
            _in_both_frames(s, "voyage-onsite .bar.top h2", "Welcome, Ana")
            _settled(s)
            s.shot("4-bar-for-a-profile")
            _fits(s)
            s.page.check("input[name=kind][value=modal]")
            s.page.select_option("#id_status", "active")
            s.submit("input[name=_continue]")
            assert s.page.locator(".errorlist").count() == 0, s.page.inner_text("#content")[:1500]
            message = Message.objects.get(name="Welcome offer")
            assert (message.status, message.trigger_seconds, message.variants.get().cta_url) == (
                "active",
                10,
                "/sale",
            )
            assert message.url_rules == [
                {"match": "contains", "value": "/", "exclude": False},
                {"match": "contains", "value": "/checkout", "exclude": True},
            ]
            assert message.consents == [
                {"channel": "email", "topic": "marketing", "label": "Email me offers and news"}
            ]
            assert "Nobody has seen it yet." in s.page.inner_text(".field-results")
            _in_both_frames(s, "voyage-onsite h2", "Welcome, friend")
            _settled(s)
            s.shot("5-saved")
            _fits(s)

            # Pause and resume from the page.
            s.submit("button.vy-state[name=pause]")
            assert "is paused" in s.page.inner_text(".messagelist")
            message.refresh_from_db()
            assert message.status == Status.PAUSED
            _in_both_frames(s, "voyage-onsite h2", "Welcome, friend")
            _settled(s)
            s.shot("6-paused")
            s.submit("button.vy-state[name=resume]")
            message.refresh_from_db()
            assert message.status == Status.ACTIVE

            # … and from the list, as before.
            s.goto("/admin/onsite/message/")
            s.page.check(f"input[name=_selected_action][value='{message.pk}']")
            s.page.select_option("select[name=action]", "pause")
            s.submit("button[name=index]")
            assert "1 message(s) paused." in s.page.inner_text(".messagelist")
            _fits(s)

            # The signed link opens the shop's own page (another origin) with the message forced on.
            s.goto(f"/admin/onsite/message/{message.pk}/change/")
            href = s.page.locator(".field-preview_link a").get_attribute("href")
            assert href.startswith(shop_url + "/?voyage_preview=")
            s.page.goto(href)
            s.page.locator("voyage-onsite [role=dialog] h2").wait_for(timeout=15000)
            assert s.page.locator("voyage-onsite h2").inner_text() == "Welcome, friend"
            s.shot("7-preview-on-the-shop")
            # A tampered token is refused, and nothing is shown.
            with s.page.expect_response(lambda r: r.url.endswith("/v1/onsite/decide")) as refused:
                s.page.goto(href[:-3] + "xyz")
            assert refused.value.status == 400
            assert s.page.locator("voyage-onsite").count() == 0
            s.problems[:] = [p for p in s.problems if "status of 400" not in p]
            assert s.problems == [], s.problems

        with browser_session(
            live_server.url, "mark", "pw-onsite-123", artifacts="onsite-admin", width=WIDTH
        ) as m:
            m.goto(f"/admin/onsite/message/{message.pk}/change/")
            assert m.page.locator("input[name=_save], input[name=_continue]").count() == 0
            assert m.page.locator("#id_name").count() == 0  # read only
            assert m.page.locator("button.vy-state").count() == 0
            assert m.page.locator(".vy-rule-add, .vy-chip").count() == 0
            assert "on pages whose URL contains '/'" in m.page.inner_text(".field-url_rules_summary")
            # Only the numbers of its own trigger.
            assert m.page.locator(".field-trigger_seconds").count() == 1
            assert m.page.locator(".field-trigger_pages, .field-embed_selector").count() == 0
            # The saved message, anonymously (marketers see no profiles).
            assert m.page.locator("#vy-preview-profile option").count() == 1
            _in_both_frames(m, "voyage-onsite h2", "Welcome, friend")
            _settled(m)
            m.shot("8-marketer-reads")
            _fits(m)
            m.goto("/admin/onsite/message/")
            assert m.page.locator("select[name=action]").count() == 0
            assert m.page.locator(".object-tools a.addlink").count() == 0
            assert m.problems == [], m.problems
    message.refresh_from_db()
    assert message.status == Status.PAUSED
