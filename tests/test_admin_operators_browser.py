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


def _person(first: str, last: str, *, email: str, phone: str, user_id: str):
    from tracking.models import Identity, IdentityKind

    profile = profile_add(traits={"firstName": first, "lastName": last, "email": email})
    for kind, value in (
        (IdentityKind.EMAIL, email),
        (IdentityKind.PHONE, phone),
        (IdentityKind.USER_ID, user_id),
    ):
        Identity.objects.create(profile=profile, kind=kind, value=value)
    return profile


def _found(s) -> set[str]:
    rows = s.page.locator("#result_list tbody tr th a").all_inner_texts()
    return {r.strip() for r in rows}


def test_profile_search_is_partial_and_case_insensitive_by_name_email_phone_and_user_id(browser):
    anna = _person(
        "Anna", "Fischer", email="anna.fischer@example.de", phone="+4915112345678", user_id="u-7781"
    )
    bob = _person("Bob", "Smith", email="bob@shop.example", phone="+14155550123", user_id="cust-9002")
    s = browser
    for term, expected in (
        ("fischer", {anna}),
        ("ANNA FISCH", {anna}),
        ("shop.EXAMPLE", {bob}),
        ("0151 123456", {anna}),  # national format, spaces: the digits are part of the E.164 number
        ("5550123", {bob}),
        ("7781", {anna}),
        ("cust-90", {bob}),
        ("example", {anna, bob}),
    ):
        s.page.goto(s.base + "/admin/tracking/profile/")
        s.page.fill("#searchbar", term)
        with s.page.expect_navigation():
            s.page.press("#searchbar", "Enter")
        assert _found(s) == {str(p.pk) for p in expected}, term
    s.page.goto(s.base + "/admin/tracking/profile/?q=fischer")
    s.shot("profile-search")
    assert s.problems == []


def test_events_and_memberships_lists_search_and_memberships_show_current_stays(browser):
    from datetime import timedelta

    from django.utils import timezone

    from audiences.models import Audience, AudienceMembership
    from audiences.testing import event_add

    anna = _person(
        "Anna", "Fischer", email="anna.fischer@example.de", phone="+4915112345678", user_id="u-7781"
    )
    bob = _person("Bob", "Smith", email="bob@shop.example", phone="+14155550123", user_id="cust-9002")
    event_add(profile=anna, name="Order Completed")
    event_add(profile=bob, name="Order Completed")
    event_add(profile=bob, name="Product Viewed")
    vip = Audience.objects.create(slug="vip", name="VIP")
    now = timezone.now()
    # Anna left and came back: one current stay and one in the history; Bob left.
    AudienceMembership.objects.create(
        audience=vip, profile=anna, entered_at=now - timedelta(days=9), exited_at=now - timedelta(days=5)
    )
    AudienceMembership.objects.create(audience=vip, profile=anna, entered_at=now - timedelta(days=2))
    AudienceMembership.objects.create(
        audience=vip, profile=bob, entered_at=now - timedelta(days=8), exited_at=now - timedelta(days=1)
    )
    s = browser
    s.goto("/admin/tracking/event/?q=fischer")
    rows = s.page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Order Completed" in rows.first.inner_text()
    s.shot("events-search")
    s.goto("/admin/tracking/event/?q=Product+Viewed")
    assert s.page.locator("#result_list tbody tr").count() == 1
    # Memberships: current stays by default, each person once.
    s.goto("/admin/audiences/audiencemembership/")
    assert s.page.locator("#result_list tbody tr").count() == 1
    s.shot("memberships-current")
    s.page.get_by_role("link", name="All, with history").click()
    s.page.wait_for_url("**/audiencemembership/?status=all")
    assert s.page.locator("#result_list tbody tr").count() == 3
    s.goto("/admin/audiences/audiencemembership/?status=all&q=smith")
    assert s.page.locator("#result_list tbody tr").count() == 1
    s.shot("memberships-search")
    assert s.problems == []


def test_profile_search_substring_queries_use_the_trigram_indexes(transactional_db):
    """Fast on millions of profiles means an index, not a scan: with sequential scans priced out,
    PostgreSQL answers the substring parts of the search from the two trigram indexes."""
    from django.db import connection, transaction

    from tracking.models import Profile
    from tracking.selectors import profiles_search

    query = Profile.objects.filter(profiles_search(term="fischer")).values("pk")
    sql, params = query.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "identity_value_trgm" in plan and "profile_name_trgm" in plan, plan


def _visible_secret_fields(s) -> set[str]:
    return set(
        s.page.evaluate(
            """() => [...document.querySelectorAll("[class*='field-secret_']")]
                 .filter(r => r.offsetParent !== null)
                 .map(r => [...r.classList].find(c => c.startsWith('field-secret_')).slice(13))"""
        )
    )


def _offered_providers(s) -> set[str]:
    return set(
        s.page.evaluate(
            "() => [...document.querySelectorAll('#id_provider option')].filter(o => !o.disabled).map(o => o.value)"
        )
    )


def test_channel_settings_offer_the_channels_providers_and_test_the_connection(browser):
    import json

    from channels.models import ChannelSettings
    from tests.fakes.sendgrid import FakeSendGrid
    from tests.fakes.twilio import FakeTwilio

    s = browser
    with FakeSendGrid(api_key="SG.right") as sendgrid, FakeTwilio() as twilio:
        s.goto("/admin/channels/channelsettings/add/")
        s.page.select_option("#id_channel", "email")
        assert _offered_providers(s) == {"sandbox", "sendgrid"}
        s.page.select_option("#id_provider", "sendgrid")
        assert _visible_secret_fields(s) == {"api_key", "webhook_public_key"}
        s.page.fill("#id_options", json.dumps({"base_url": sendgrid.url, "from_email": "shop@example.com"}))
        s.page.fill("#id_secret_api_key", "SG.wrong")
        s.shot("channel-settings-email")
        s.submit("input[name=_continue]")
        # A wrong key: the provider's answer, in words.
        s.submit("button.test-connection")
        error = s.page.inner_text(".messagelist .error")
        assert (
            "Connection failed" in error and "401" in error and "authorization grant is invalid" in error
        ), error
        s.shot("channel-settings-test-failed")
        s.page.fill("#id_secret_api_key", "SG.right")
        s.submit("input[name=_continue]")
        s.submit("button.test-connection")
        assert "Connection works" in s.page.inner_text(".messagelist .success")
        assert sendgrid.emails == []  # nothing was sent

        s.goto("/admin/channels/channelsettings/add/")
        s.page.select_option("#id_channel", "sms")
        assert _offered_providers(s) == {"sandbox", "twilio"}
        s.page.select_option("#id_provider", "twilio")
        assert _visible_secret_fields(s) == {"account_sid", "auth_token"}
        s.page.fill("#id_options", json.dumps({"base_url": twilio.url, "from_number": "+15005550006"}))
        s.page.fill("#id_secret_account_sid", twilio.account_sid)
        s.page.fill("#id_secret_auth_token", twilio.auth_token)
        s.submit("input[name=_continue]")
        s.submit("button.test-connection")
        assert "Voyage test account" in s.page.inner_text(".messagelist .success")
        s.shot("channel-settings-sms-ok")
        assert twilio.messages == []
    assert ChannelSettings.objects.count() == 2
    assert s.problems == []


def test_channel_settings_refuse_a_provider_that_cannot_send_the_channel(client, operator):
    client.force_login(operator)
    r = client.post(
        "/admin/channels/channelsettings/add/",
        {"channel": "email", "provider": "twilio", "enabled": "on", "options": "{}"},
    )
    assert r.status_code == 200
    assert "Twilio does not send email; choose one of: Sandbox" in r.content.decode()


def test_suppression_add_needs_no_time_and_stores_the_normalised_address(browser):
    from channels.models import Suppression

    s = browser
    s.goto("/admin/channels/suppression/add/")
    s.page.select_option("#id_channel", "email")
    s.page.fill("#id_address", "  Bounce.Test@Example.COM ")
    s.page.select_option("#id_reason", index=1)
    s.shot("suppression-add")
    s.submit("input[name=_save]")
    assert s.page.locator(".messagelist .success").count() == 1, s.page.inner_text("#content")
    assert list(Suppression.objects.values_list("address", flat=True)) == ["bounce.test@example.com"]
    assert s.problems == []


def test_admin_is_branded_voyage_and_view_site_opens_the_campaign_overview(browser):
    s = browser
    s.goto("/admin/")
    assert s.page.inner_text("#site-name") == "Voyage"
    assert "Django" not in s.page.title()
    s.submit("text=View site")
    assert s.page.url.endswith("/reports/")
    assert s.page.locator("h1").first.inner_text().strip() != ""
    s.shot("view-site")
    assert s.problems == []
