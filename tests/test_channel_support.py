"""Shared builders and fixtures for the channel tests (imported by the test_channel_* modules)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from channels.models import ChannelSettings, Template, TemplateVariant
from tests.fakes.fcm import FakeFcm
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webpush import FakeWebPush
from tracking.models import Channel, ContactPoint, Profile
from tracking.services.profiles import consent_set

_seq = itertools.count(1)

WELCOME_HTML = (
    "<html><body><p>Hello {{ profile.first_name | default: 'there' }},</p>"
    '<p><a href="https://shop.example.com/new?ref=mail&amp;x=1">See what is new</a></p>'
    "<p>Code: {{ data.code }}</p></body></html>"
)


def profile_make(
    *,
    email: str | None = None,
    phone: str | None = None,
    push_token: str | None = None,
    webpush: dict | None = None,
    tz: str = "Europe/Berlin",
    locale: str = "en",
    traits: dict[str, Any] | None = None,
    sms_opt_in: bool = True,
) -> Profile:
    n = next(_seq)
    profile = Profile.objects.create(
        timezone=tz, locale=locale, traits={"first_name": f"Ana{n}", **(traits or {})}
    )
    if email is not False:
        ContactPoint.objects.create(
            profile=profile, channel=Channel.EMAIL, address=email or f"ana{n}@example.com"
        )
    if phone:
        ContactPoint.objects.create(profile=profile, channel=Channel.SMS, address=phone)
        ContactPoint.objects.create(profile=profile, channel=Channel.WHATSAPP, address=phone)
        if sms_opt_in:
            consent_set(profile=profile, channel="sms", granted=True, method="form")
            consent_set(profile=profile, channel="whatsapp", granted=True, method="form")
    if push_token:
        ContactPoint.objects.create(profile=profile, channel=Channel.PUSH, address=push_token)
    if webpush:
        import orjson

        ContactPoint.objects.create(
            profile=profile, channel=Channel.WEBPUSH, address=orjson.dumps(webpush).decode()
        )
    return profile


def template_make(slug: str = "welcome", channel: str = "email", **fields: Any) -> Template:
    template = Template.objects.create(slug=slug, name=slug.title(), channel=channel)
    defaults: dict[str, Any] = {}
    if channel == "email":
        defaults = {
            "subject": "Welcome {{ profile.first_name }}",
            "html": WELCOME_HTML,
            "text": "Hello {{ profile.first_name }}",
        }
    elif channel in ("sms", "whatsapp"):
        defaults = {
            "body": "Hi {{ profile.first_name }}, your code {{ data.code }} https://shop.example.com/c"
        }
    elif channel in ("push", "webpush"):
        defaults = {"title": "Hi {{ profile.first_name }}", "body": "New for you", "deep_link": "app://home"}
    locales = fields.pop("locales", None)
    TemplateVariant.objects.create(template=template, locale="en", **{**defaults, **fields})
    for locale, content in (locales or {}).items():
        TemplateVariant.objects.create(template=template, locale=locale, **content)
    return template


@pytest.fixture
def fast_retries(settings):
    settings.CHANNELS_RETRY_BASE_SECONDS = 0.0
    settings.CHANNELS_HTTP_TIMEOUT = 1.0
    settings.CHANNELS_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def fake_sendgrid(db):
    with FakeSendGrid() as fake:
        ChannelSettings.objects.create(
            channel="email",
            provider="sendgrid",
            options={"base_url": fake.url, "from_email": "shop@example.com", "activity_lookup": True},
            secrets={"api_key": fake.api_key},
        )
        yield fake


@pytest.fixture
def fake_twilio(db):
    with FakeTwilio() as fake:
        for channel in ("sms", "whatsapp"):
            ChannelSettings.objects.create(
                channel=channel,
                provider="twilio",
                options={
                    "base_url": fake.url,
                    "from_number": "+15005550006",
                    "whatsapp_from": "+15005550006",
                    "quiet_hours": None,
                },
                secrets={"account_sid": fake.account_sid, "auth_token": fake.auth_token},
            )
        yield fake


@pytest.fixture
def fake_fcm(db):
    with FakeFcm() as fake:
        ChannelSettings.objects.create(
            channel="push",
            provider="fcm",
            options={"base_url": fake.url},
            secrets={"service_account": fake.service_account()},
        )
        yield fake


@pytest.fixture
def fake_webpush(db):
    from py_vapid import Vapid

    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    import base64

    with FakeWebPush() as fake:
        ChannelSettings.objects.create(
            channel="webpush",
            provider="webpush",
            options={"vapid_subject": "mailto:ops@example.com"},
            secrets={"vapid_private_key": base64.urlsafe_b64encode(raw).decode().rstrip("=")},
        )
        yield fake


@pytest.fixture
def sandbox(db):
    for channel in ("email", "sms", "whatsapp", "push", "webpush"):
        ChannelSettings.objects.create(channel=channel, provider="sandbox", options={"quiet_hours": None})
