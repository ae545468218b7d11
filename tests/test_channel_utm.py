"""Voyage's own messages carry UTM tags: a click on an email or SMS link, or a push's deep link, lands
on the shop with utm_source=voyage, the channel as medium, the campaign's slug and the template, and
the visit it starts is an Email/SMS/Push touch of that campaign in acquisition."""

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from channels.dispatch import dispatch_until_idle
from channels.services import message_enqueue
from channels.utm import utm_tag
from journeys.models import Broadcast
from tests.test_channel_support import profile_make, template_make
from tests.tracking_helpers import ingest
from tracking.analytics.models import Touch

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db

CLICK = re.compile(r"https?://[^\"'\s<>]+/c/[^\"'\s<>]+/")


def _follow(url: str) -> str:
    path = urlsplit(url).path
    response = Client().get(path)
    assert response.status_code == 302, response.content[:200]
    return response["Location"]


def _landing(source, user: str, url: str) -> Touch:
    """The shop's page view after the redirect, ingested; acquisition reads it once it is processed."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        ingest(
            source,
            {
                "type": "page",
                "userId": user,
                "timestamp": datetime(2026, 3, 2, 10, tzinfo=UTC).isoformat(),
                "context": {"page": {"url": url, "path": urlsplit(url).path}},
            },
        )
    return Touch.objects.get(profile__identities__value=user)


def test_email_click_lands_with_utm_tags_and_counts_as_an_email_touch(fake_sendgrid, source):
    template_make()
    broadcast = Broadcast.objects.create(name="Spring Sale 2026", audience_slug="everyone")
    message_enqueue(
        profile_id=profile_make().pk,
        channel="email",
        template_slug="welcome",
        data={"code": "X1"},
        campaign_kind="broadcast",
        campaign_id=broadcast.pk,
        variant="B",
        idempotency_key="utm-1",
    )
    assert dispatch_until_idle().sent == 1
    [email] = fake_sendgrid.emails
    click = next(u for u in CLICK.findall(html.unescape(email["html"])) if "/c/" in u)
    landing = _follow(click)
    query = parse_qs(urlsplit(landing).query)
    assert landing.startswith("https://shop.example.com/new?")
    assert query == {
        "ref": ["mail"],  # the designer's own parameters stay
        "x": ["1"],
        "utm_source": ["voyage"],
        "utm_medium": ["email"],
        "utm_campaign": ["spring-sale-2026"],
        "utm_content": ["welcome-B"],
    }
    touch = _landing(source, "clicker", landing)
    assert (touch.channel, touch.source, touch.medium, touch.campaign, touch.content) == (
        "Email",
        "voyage",
        "email",
        "spring-sale-2026",
        "welcome-B",
    )


def test_sms_click_is_an_sms_touch(fake_twilio, source):
    template_make("code", channel="sms")
    message_enqueue(
        profile_id=profile_make(phone="+4915112345678").pk,
        channel="sms",
        template_slug="code",
        data={"code": "7"},
        campaign_kind="journey",
        campaign_id=987654,  # no such journey: the campaign is named by kind and id
        idempotency_key="utm-2",
    )
    assert dispatch_until_idle().sent == 1
    [sms] = fake_twilio.messages
    landing = _follow(CLICK.search(sms["Body"]).group(0))
    query = parse_qs(urlsplit(landing).query)
    assert (query["utm_medium"], query["utm_campaign"], query["utm_content"]) == (
        ["sms"],
        ["journey-987654"],
        ["code"],
    )
    assert _landing(source, "texter", landing).channel == "SMS"


def test_push_deep_link_carries_the_tags_and_an_app_link_is_left_alone(fake_fcm, source):
    template_make("drop", channel="push", deep_link="https://shop.example.com/drop?id=4")
    template_make("home", channel="push")  # app://home
    profile = profile_make(push_token="tok-1")
    for slug in ("drop", "home"):
        message_enqueue(
            profile_id=profile.pk, channel="push", template_slug=slug, idempotency_key=f"p-{slug}"
        )
    assert dispatch_until_idle().sent == 2
    links = sorted(m["data"]["deep_link"] for m in fake_fcm.messages)
    assert links[0] == "app://home"
    assert _landing(source, "pusher", links[1]).channel == "Push"
    assert parse_qs(urlsplit(links[1]).query)["utm_campaign"] == ["message"]


def test_a_link_with_its_own_utm_source_keeps_its_tags():
    own = "https://shop.example.com/?utm_source=partner&utm_medium=referral"
    tags = {"utm_source": "voyage", "utm_medium": "email"}
    assert utm_tag(own, tags) == own
    assert utm_tag("mailto:help@example.com", tags) == "mailto:help@example.com"
