"""Results come back: SendGrid's signed Event Webhook, Twilio status callbacks, our pixel and click
redirect. Each becomes a timeline entry, a forward-only status, suppressions, and a profile event."""

import base64
import time

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from channels import tokens
from channels.dispatch import dispatch_until_idle
from channels.models import CallbackRejection, ChannelSettings, MessageStatus, Suppression
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tracking.models import Consent, Event
from tracking.processing import events_process_pending

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def signing_key(fake_sendgrid):
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = ChannelSettings.objects.get(channel="email")
    row.secrets = {**row.secrets, "webhook_public_key": base64.b64encode(der).decode()}
    row.save()
    return key


def _signed_post(client, key, events, *, timestamp=None, tamper=False):
    body = orjson.dumps(events).decode()
    ts = str(timestamp or int(time.time()))
    signature = base64.b64encode(key.sign((ts + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    if tamper:
        body = body.replace("delivered", "bounce")
    return client.post(
        "/webhooks/sendgrid/events/",
        data=body,
        content_type="application/json",
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=signature,
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=ts,
    )


def _sent_email(**profile_kw):
    template_make()
    profile = profile_make(**profile_kw)
    message = message_enqueue(
        profile_id=profile.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "1"},
        idempotency_key="e1",
        campaign_kind="broadcast",
        campaign_id=7,
    )
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.sent_at is not None
    return message


def _sg(message, event, n, **extra):
    return {
        "email": message.address,
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": f"ev-{n}",
        "sg_message_id": f"{message.provider_message_id}.filter.0",
        "voyage_message_id": str(message.pk),
        **extra,
    }


def test_sendgrid_events_update_status_and_reach_the_profile(client, signing_key):
    message = _sent_email()
    events = [
        _sg(message, "processed", 1),
        _sg(message, "delivered", 2),
        _sg(message, "open", 3),
        _sg(message, "click", 4, url="https://shop.example.com/x"),
    ]
    response = _signed_post(client, signing_key, events)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 4, "recorded": 4}
    message.refresh_from_db()
    assert message.status == MessageStatus.CLICKED
    assert list(message.events.order_by("id").values_list("kind", flat=True)) == [
        "queued",
        "sent",
        "processed",
        "delivered",
        "opened",
        "clicked",
    ]
    events_process_pending()
    names = set(Event.objects.filter(profile_id=message.profile_id).values_list("name", flat=True))
    assert {"Email Delivered", "Email Opened", "Email Link Clicked"} <= names
    clicked = Event.objects.get(profile_id=message.profile_id, name="Email Link Clicked")
    assert (
        clicked.properties["campaign_id"] == 7 and clicked.properties["url"] == "https://shop.example.com/x"
    )


def test_repeated_sendgrid_events_are_kept_once(client, signing_key):
    message = _sent_email()
    events = [_sg(message, "delivered", 1)]
    assert _signed_post(client, signing_key, events).json()["recorded"] == 1
    assert _signed_post(client, signing_key, events).json()["recorded"] == 0
    assert message.events.filter(kind="delivered").count() == 1


def test_late_delivered_does_not_hide_an_open(client, signing_key):
    message = _sent_email()
    _signed_post(client, signing_key, [_sg(message, "open", 1)])
    _signed_post(client, signing_key, [_sg(message, "delivered", 2)])
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED


@pytest.mark.parametrize(
    "event,reason",
    [
        ("bounce", "hard_bounce"),
        ("spamreport", "spam"),
        ("unsubscribe", "unsubscribe"),
        ("group_unsubscribe", "unsubscribe"),
    ],
)
def test_bounces_spam_reports_and_unsubscribes_are_suppressed(client, signing_key, event, reason):
    message = _sent_email()
    assert (
        _signed_post(client, signing_key, [_sg(message, event, 1, reason="550 no such user")]).status_code
        == 200
    )
    assert Suppression.objects.get(channel="email", address=message.address.lower()).reason == reason
    if reason != "hard_bounce":
        assert (
            Consent.objects.get(profile_id=message.profile_id, channel="email", topic="marketing").status
            == "withdrawn"
        )


def test_every_sendgrid_event_type_is_understood(client, signing_key):
    message = _sent_email()
    types = [
        "processed",
        "delivered",
        "deferred",
        "bounce",
        "dropped",
        "open",
        "click",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    ]
    response = _signed_post(client, signing_key, [_sg(message, t, i) for i, t in enumerate(types)])
    assert response.json()["recorded"] == len(types)


def test_unsigned_sendgrid_callback_is_refused_and_counted(client, signing_key):
    message = _sent_email()
    response = client.post(
        "/webhooks/sendgrid/events/",
        data=orjson.dumps([_sg(message, "delivered", 1)]),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert CallbackRejection.objects.filter(endpoint="sendgrid_events", status_code=403).count() == 1


def test_tampered_sendgrid_callback_is_refused(client, signing_key):
    message = _sent_email()
    assert _signed_post(client, signing_key, [_sg(message, "delivered", 1)], tamper=True).status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_sendgrid_callback_signed_by_another_key_is_refused(client, signing_key):
    message = _sent_email()
    other = ec.generate_private_key(ec.SECP256R1())
    assert _signed_post(client, other, [_sg(message, "delivered", 1)]).status_code == 403


def test_replayed_old_sendgrid_callback_is_refused(client, signing_key):
    message = _sent_email()
    old = int(time.time()) - 3 * 24 * 3600
    assert _signed_post(client, signing_key, [_sg(message, "delivered", 1)], timestamp=old).status_code == 403


@pytest.mark.parametrize(
    "payload,where",
    [
        ({"not": "a list"}, "body"),
        ([{"event": "delivered"}], "[0].sg_event_id"),
        ([{"event": "exploded", "sg_event_id": "x", "timestamp": 1}], "[0].event"),
    ],
)
def test_malformed_sendgrid_callback_is_a_400_naming_the_field(client, signing_key, payload, where):
    response = _signed_post(client, signing_key, payload)
    assert response.status_code == 400
    assert where in response.json()["detail"]
    assert CallbackRejection.objects.filter(status_code=400).count() == 1


# -- Twilio --------------------------------------------------------------------------------------
def _twilio_post(client, fake, path, params, *, token=None):
    url = f"http://127.0.0.1:8000{path}"
    signature = RequestValidator(token or fake.auth_token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def _sent_sms(fake_twilio):
    template_make("sms-offer", channel="sms")
    profile = profile_make(phone="+4915112345678")
    message = message_enqueue(
        profile_id=profile.pk,
        channel="sms",
        template_slug="sms-offer",
        data={"code": "9"},
        idempotency_key="s1",
    )
    dispatch_until_idle()
    message.refresh_from_db()
    return message


def test_sms_goes_through_the_twilio_sdk_to_the_fake(fake_twilio):
    message = _sent_sms(fake_twilio)
    assert message.status == MessageStatus.SENT and message.provider_message_id.startswith("SM")
    [sent] = fake_twilio.messages
    assert sent["To"] == "+4915112345678" and sent["From"] == "+15005550006"
    assert "your code 9" in sent["Body"] and "/c/" in sent["Body"]
    assert sent["StatusCallback"].endswith("/webhooks/twilio/status/")


def test_twilio_status_callback_with_price(client, fake_twilio):
    message = _sent_sms(fake_twilio)
    params = {
        "MessageSid": message.provider_message_id,
        "MessageStatus": "delivered",
        "From": "+15005550006",
        "To": "+4915112345678",
        "Price": "-0.0075",
        "PriceUnit": "USD",
        "AccountSid": fake_twilio.account_sid,
    }
    response = _twilio_post(client, fake_twilio, "/webhooks/twilio/status/", params)
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert float(message.cost) == 0.0075 and message.cost_currency == "USD"


def test_twilio_callback_with_a_bad_signature_is_refused(client, fake_twilio):
    message = _sent_sms(fake_twilio)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered"}
    assert (
        _twilio_post(client, fake_twilio, "/webhooks/twilio/status/", params, token="wrong").status_code
        == 403
    )
    assert client.post("/webhooks/twilio/status/", params).status_code == 403
    assert CallbackRejection.objects.filter(endpoint="twilio_status").count() == 2


def test_twilio_callback_without_sid_is_a_400(client, fake_twilio):
    assert (
        _twilio_post(client, fake_twilio, "/webhooks/twilio/status/", {"MessageStatus": "sent"}).status_code
        == 400
    )


def test_invalid_number_fails_permanently_and_is_retired(fake_twilio):
    fake_twilio.invalid_numbers.add("+4915112345678")
    message = _sent_sms(fake_twilio)
    assert message.status == MessageStatus.FAILED and message.skip_reason == "provider_rejected"
    assert "21211" in message.error
    assert not message.profile.contact_points.get(channel="sms").active


# -- our own pixel and redirect -------------------------------------------------------------------
def test_click_redirect_goes_only_where_it_was_signed_to(client, sandbox):
    message = _sent_email()
    url = tokens.click_url(message_id=message.pk, url="https://shop.example.com/p/1")
    response = client.get(url.split("8000", 1)[1])
    # Same place, with the campaign's UTM tags added (channels.utm).
    assert response.status_code == 302
    assert response["Location"].startswith("https://shop.example.com/p/1?utm_source=voyage&utm_medium=email")
    assert message.events.filter(kind="clicked", data__url="https://shop.example.com/p/1").exists()
    forged = url.split("8000", 1)[1].replace("/c/", "/c/x")
    assert client.get(forged).status_code == 404


def test_open_pixel_marks_the_message_opened(client, fake_sendgrid):
    message = _sent_email()
    response = client.get(tokens.open_url(message_id=message.pk).split("8000", 1)[1])
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    message.refresh_from_db()
    assert message.status == MessageStatus.OPENED
