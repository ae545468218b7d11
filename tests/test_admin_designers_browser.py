"""Journey designers' first-time paths in a real headless Chromium: a broadcast form that cannot be
saved broken and sends now or on schedule; templates whose demo preview renders; test sends to the
designer's own inbox. A screenshot per page under test-artifacts/designers/."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from tests.browser import browser_session, needs_chromium
from tracking.roles import roles_sync

pytestmark = needs_chromium


@pytest.fixture
def designer(transactional_db) -> User:
    roles_sync()
    user = User.objects.create_user("dana", "dana@shop.example", "pw-designer-123", is_staff=True)
    user.groups.add(Group.objects.get(name="journey designer"))
    return user


@pytest.fixture
def browser(live_server, designer, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with browser_session(live_server.url, "dana", "pw-designer-123", artifacts="designers") as s:
        yield s


def _options(s, selector: str) -> list[str]:
    return s.page.evaluate(f"() => [...document.querySelectorAll('{selector} option')].map(o => o.value)")


def test_broadcast_form_offers_only_real_channels_audiences_and_templates_and_sends_now(browser):
    from django.utils import timezone

    from audiences.models import Audience, AudienceMembership
    from channels.models import Message, Template
    from journeys.models import Broadcast
    from journeys.testing import profile_add

    shoppers = Audience.objects.create(slug="shoppers", name="Shoppers", rule={"tag": "s"})
    for _ in range(3):
        AudienceMembership.objects.create(audience=shoppers, profile=profile_add(), entered_at=timezone.now())
    Template.objects.create(slug="spring-sale", name="Spring sale", channel="email")
    Template.objects.create(slug="spring-sms", name="Spring SMS", channel="sms")
    s = browser
    s.goto("/admin/journeys/broadcast/add/")
    assert "e-mail" not in _options(s, "#id_channel") and "email" in _options(s, "#id_channel")
    assert _options(s, "#id_audience_slug") == ["", "shoppers"]
    assert set(_options(s, "#id_variants-0-template_slug")) == {"", "spring-sale", "spring-sms"}
    s.page.fill("#id_name", "Spring sale")
    s.page.select_option("#id_audience_slug", "shoppers")
    s.page.select_option("#id_channel", "email")
    # An SMS template on an email broadcast is refused on save, with the reason.
    s.page.fill("#id_variants-0-key", "a")
    s.page.select_option("#id_variants-0-template_slug", "spring-sms")
    s.submit("input[name=_send_now]")
    assert "is for sms, not email" in s.page.inner_text("#content")
    assert not Broadcast.objects.exists()
    s.page.select_option("#id_variants-0-template_slug", "spring-sale")
    s.shot("broadcast-form")
    s.submit("input[name=_send_now]")
    assert "sending now" in s.page.inner_text(".messagelist"), s.page.inner_text("#content")
    broadcast = Broadcast.objects.get()
    assert broadcast.channel == "email" and broadcast.occurrence == 1
    assert Message.objects.filter(channel="email").count() == 3
    s.shot("broadcast-sent")
    assert s.problems == []


def test_save_and_schedule_checks_the_broadcast_and_says_what_is_missing(browser):
    from audiences.models import Audience
    from channels.models import Template
    from journeys.models import Broadcast

    Audience.objects.create(slug="shoppers", name="Shoppers", rule={"tag": "s"})
    Template.objects.create(slug="spring-sale", name="Spring sale", channel="email")
    s = browser
    s.goto("/admin/journeys/broadcast/add/")
    s.page.fill("#id_name", "No date yet")
    s.page.select_option("#id_audience_slug", "shoppers")
    s.page.fill("#id_variants-0-key", "a")
    s.page.select_option("#id_variants-0-template_slug", "spring-sale")
    s.submit("input[name=_schedule]")
    assert "send_at: set when to send" in s.page.inner_text(".messagelist")
    assert Broadcast.objects.get().status == "draft"
    s.shot("broadcast-schedule-missing-date")
    assert s.problems == []


@pytest.fixture
def demo_templates(transactional_db):
    import io

    from channels import demo

    demo.load_demo(stdout=io.StringIO())


def _preview(s, slug: str, profile_id: int):
    from channels.models import Template

    pk = Template.objects.get(slug=slug).pk
    s.goto(f"/admin/channels/template/{pk}/preview/?profile_id={profile_id}")
    assert s.page.locator(".errornote").count() == 0, s.page.inner_text(".errornote")


def test_demo_templates_preview_for_a_demo_profile_with_its_first_name_and_language(browser, demo_templates):
    from audiences.testing import profile_add

    anna = profile_add(
        traits={"firstName": "Anna", "lastName": "Fischer", "email": "anna@example.de"}, locale="de-DE"
    )
    tom = profile_add(traits={"firstName": "Tom"}, locale="en")
    s = browser
    # Sent by the demo journey without any data: renders its fallback instead of failing.
    _preview(s, "recommendations", tom.pk)
    assert "Picked for you, Tom" in s.page.inner_text("#content")
    assert "bestsellers" in s.page.content()
    s.shot("preview-recommendations")
    # Segment's firstName is the profile's first name in templates written with first_name.
    _preview(s, "welcome", anna.pk)
    content = s.page.inner_text("#content")
    assert "Willkommen bei Voyage Demo Store, Anna!" in content and "Freund" not in content
    # The unsubscribe footer Voyage adds speaks the message's language.
    html = s.page.get_attribute("iframe", "srcdoc")
    assert ">Abmelden</a>" in html and ">Unsubscribe</a>" not in html
    s.shot("preview-welcome-de")
    assert s.problems == []


def test_test_send_goes_to_the_designers_own_inbox_rendered_for_the_profile(browser, demo_templates):
    from audiences.testing import profile_add
    from channels.dispatch import dispatch_until_idle
    from channels.models import SandboxDelivery

    anna = profile_add(traits={"firstName": "Anna"}, locale="en")  # no email address at all
    s = browser
    _preview(s, "welcome", anna.pk)
    assert s.page.is_checked("input[name=send_to][value=me]")
    s.submit("button[name=test_send]")
    assert "queued to dana@shop.example" in s.page.inner_text(".messagelist")
    dispatch_until_idle(timeout=30)
    delivery = SandboxDelivery.objects.get()
    assert delivery.to == "dana@shop.example" and "Anna" in delivery.subject
    s.shot("test-send-to-me")
    assert s.problems == []
