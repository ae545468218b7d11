"""Provider callbacks that are validly signed but hold what we cannot store get a 400, never a 500
(a 500 makes the provider retry forever); signed timestamps are believed for minutes, not a day (issue 11)."""

from __future__ import annotations

import time

import pytest

from channels.models import CallbackRejection, MessageStatus, Suppression
from tests.test_channel_results import (  # noqa: F401  (signing_key is a fixture)
    _sent_email,
    _sent_sms,
    _sg,
    _signed_post,
    _twilio_post,
    signing_key,
)

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db

BIG = "x" * 10_000


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        pytest.param({"reason": "550 no\u0000 user"}, "[0].reason", id="nul-in-reason"),
        pytest.param({"url": "https://shop.example/\u0000"}, "[0].url", id="nul-in-url"),
        pytest.param({"reason": BIG}, "[0].reason", id="10kb-reason"),
        pytest.param({"sg_event_id": BIG}, "[0].sg_event_id", id="10kb-event-id"),
        pytest.param({"sg_event_id": "e" * 300}, "[0].sg_event_id", id="event-id-longer-than-the-column"),
        pytest.param({"sg_event_id": "ev\u0000"}, "[0].sg_event_id", id="nul-in-event-id"),
    ],
)
def test_signed_sendgrid_events_with_unstorable_values_are_a_400(client, signing_key, extra, where):  # noqa: F811
    message = _sent_email()
    response = _signed_post(client, signing_key, [_sg(message, "bounce", 1, **extra)])
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(where)
    assert CallbackRejection.objects.filter(status_code=400).count() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_long_bounce_reason_suppresses_with_the_reason_cut_to_the_column(client, signing_key):  # noqa: F811
    message = _sent_email()
    reason = "550 5.1.1 " + "r" * 600
    assert _signed_post(client, signing_key, [_sg(message, "bounce", 1, reason=reason)]).status_code == 200
    assert Suppression.objects.get().detail == reason[:255]


@pytest.mark.parametrize("raw_id", ["9" * 400, "١٢٣"])
def test_a_message_id_that_cannot_be_ours_is_skipped(client, signing_key, raw_id):  # noqa: F811
    message = _sent_email()
    event = {**_sg(message, "delivered", 1), "voyage_message_id": raw_id}
    response = _signed_post(client, signing_key, [event])
    assert response.status_code == 200 and response.json() == {"received": 1, "recorded": 0}


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        pytest.param("9" * 400, "not a Unix time", id="400-digit"),
        pytest.param("-5", "not a Unix time", id="negative"),
        pytest.param("１２３", "not a Unix time", id="non-ascii-digits"),
        pytest.param(str(int(time.time()) - 3600), "too old", id="an-hour-old"),
        pytest.param(str(int(time.time()) + 23 * 3600), "in the future", id="23h-ahead"),
        pytest.param(str(int(time.time()) + 600), "in the future", id="10min-ahead"),
    ],
)
def test_sendgrid_signature_timestamps_outside_minutes_are_refused(client, signing_key, timestamp, reason):  # noqa: F811
    message = _sent_email()
    response = _signed_post(client, signing_key, [_sg(message, "delivered", 1)], timestamp=timestamp)
    assert response.status_code == 403, response.content
    assert reason in response.json()["detail"]


def test_an_unsigned_callback_with_a_400_digit_timestamp_is_refused_not_a_500(client, signing_key):  # noqa: F811
    response = client.post(
        "/webhooks/sendgrid/events/",
        data="[]",
        content_type="application/json",
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE="c2ln",
        HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP="1" * 400,
    )
    assert response.status_code == 403


def test_a_sendgrid_callback_signed_a_few_seconds_ahead_is_accepted(client, signing_key):  # noqa: F811
    message = _sent_email()
    ahead = int(time.time()) + 20
    response = _signed_post(client, signing_key, [_sg(message, "delivered", 1)], timestamp=ahead)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        pytest.param({"To": "+49151\x00"}, "To", id="nul-in-value"),
        pytest.param({"ErrorCode": BIG}, "ErrorCode", id="10kb-value"),
        pytest.param({"Extra\x00": "1"}, "Extra", id="nul-in-name"),
    ],
)
def test_signed_twilio_status_with_unstorable_values_is_a_400(client, fake_twilio, extra, where):
    message = _sent_sms(fake_twilio)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "failed", **extra}
    response = _twilio_post(client, fake_twilio, "/webhooks/twilio/status/", params)
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith(where)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"From": "+4915112345678", "Body": "STOP\x00"}, id="nul-in-body"),
        pytest.param({"From": "+4915112345678", "Body": BIG}, id="10kb-body"),
        pytest.param({"From": "+49" + "1" * 10_000, "Body": "STOP"}, id="10kb-from"),
    ],
)
def test_signed_twilio_inbound_with_unstorable_values_is_a_400(client, fake_twilio, params):
    response = _twilio_post(client, fake_twilio, "/webhooks/twilio/inbound/", params)
    assert response.status_code == 400, response.content
