"""Mobile push through FCM HTTP v1 and browser push through Web Push (VAPID), against fake servers;
tokens the provider reports gone are retired; WhatsApp goes through Twilio with its prefix."""

import pytest

from channels.dispatch import dispatch_until_idle
from channels.models import MessageStatus
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def _push(profile, channel, key="p1"):
    message = message_enqueue(
        profile_id=profile.pk, channel=channel, template_slug=f"{channel}-hi", idempotency_key=key
    )
    dispatch_until_idle()
    message.refresh_from_db()
    return message


def test_fcm_push_is_sent_with_an_oauth_token(fake_fcm):
    template_make("push-hi", channel="push")
    profile = profile_make(push_token="device-token-1")
    message = _push(profile, "push")
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id.startswith("projects/voyage-test/messages/")
    [sent] = fake_fcm.messages
    assert sent["token"] == "device-token-1"
    assert sent["notification"]["title"] == f"Hi {profile.traits['first_name']}"
    assert sent["data"] == {"voyage_message_id": str(message.pk), "deep_link": "app://home"}


def test_unregistered_fcm_token_is_retired(fake_fcm):
    template_make("push-hi", channel="push")
    profile = profile_make(push_token="dead-token")
    fake_fcm.unregistered.add("dead-token")
    message = _push(profile, "push")
    assert message.status == MessageStatus.FAILED and "UNREGISTERED" in message.error
    assert not profile.contact_points.get(channel="push").active


def test_fcm_503_is_retried(fake_fcm, fast_retries):
    template_make("push-hi", channel="push")
    profile = profile_make(push_token="device-token-2")
    fake_fcm.fail_next(503)
    message = _push(profile, "push")
    assert message.status == MessageStatus.SENT
    assert list(message.attempts.values_list("status_code", flat=True)) == [503, 200]


def test_web_push_is_encrypted_and_vapid_signed(fake_webpush):
    template_make("webpush-hi", channel="webpush")
    profile = profile_make(webpush=fake_webpush.subscribe())
    message = _push(profile, "webpush")
    assert message.status == MessageStatus.SENT, message.error
    [received] = fake_webpush.received
    assert received["data"]["title"] == f"Hi {profile.traits['first_name']}"
    assert received["data"]["voyage_message_id"] == message.pk


def test_gone_web_push_subscription_is_retired(fake_webpush):
    template_make("webpush-hi", channel="webpush")
    subscription = fake_webpush.subscribe()
    fake_webpush.gone.add(subscription["endpoint"].rsplit("/", 1)[1])
    profile = profile_make(webpush=subscription)
    message = _push(profile, "webpush")
    assert message.status == MessageStatus.FAILED and "410" in message.error
    assert not profile.contact_points.get(channel="webpush").active


def test_whatsapp_goes_through_twilio_with_the_whatsapp_prefix(fake_twilio):
    template_make("whatsapp-hi", channel="whatsapp", body="Hola {{ profile.first_name }}")
    profile = profile_make(phone="+34600111222")
    message = _push(profile, "whatsapp")
    assert message.status == MessageStatus.SENT
    [sent] = fake_twilio.messages
    assert sent["To"] == "whatsapp:+34600111222" and sent["From"] == "whatsapp:+15005550006"
