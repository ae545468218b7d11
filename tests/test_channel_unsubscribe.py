"""Opting out without login: RFC 8058 one-click POST, the preference page, SMS keywords via Twilio."""

import pytest
from twilio.request_validator import RequestValidator

from channels import tokens
from channels.dispatch import dispatch_until_idle
from channels.models import MessageStatus, Reason, Suppression
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tracking.models import Consent, Event
from tracking.processing import events_process_pending

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def _path(url):
    return url.split("127.0.0.1:8000", 1)[1]


def _email(profile, key="e1"):
    return message_enqueue(
        profile_id=profile.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "1"},
        idempotency_key=key,
    )


def test_one_click_post_unsubscribes_without_login(client, fake_sendgrid):
    template_make()
    profile = profile_make()
    message = _email(profile)
    dispatch_until_idle()
    header = fake_sendgrid.emails[0]["headers"]["List-Unsubscribe"]
    assert header.startswith("<http") and header.endswith(">")
    message.refresh_from_db()
    response = client.post(_path(header[1:-1]), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    consent = Consent.objects.get(profile=profile, channel="email", topic="marketing")
    assert consent.status == "withdrawn" and consent.method == "one_click"
    assert Suppression.objects.get(address=message.address.lower()).reason == "unsubscribe"
    events_process_pending()
    assert Event.objects.filter(profile=profile, name="Unsubscribed").exists()
    # The next marketing email is not sent, and says why.
    nxt = _email(profile, "e2")
    dispatch_until_idle()
    nxt.refresh_from_db()
    assert (nxt.status, nxt.skip_reason) in {
        (MessageStatus.SKIPPED, Reason.UNSUBSCRIBED),
        (MessageStatus.SKIPPED, Reason.SUPPRESSED),
    }


def test_unsubscribe_link_shows_a_confirmation_page_first(client, sandbox):
    profile = profile_make()
    url = tokens.unsubscribe_url(profile_id=profile.pk, channel="email", message_id=None)
    response = client.get(_path(url))
    assert response.status_code == 200 and b"Unsubscribe" in response.content
    assert not Consent.objects.filter(profile=profile).exists()


def test_forged_unsubscribe_token_is_a_404(client, sandbox):
    profile = profile_make()
    url = tokens.unsubscribe_url(profile_id=profile.pk, channel="email", message_id=None)
    assert client.post(_path(url).replace("/u/", "/u/A")).status_code == 404


def test_preference_page_changes_consent_by_token(client, sandbox):
    profile = profile_make(phone="+4915112345678")
    url = _path(tokens.preferences_url(profile_id=profile.pk, channel="email", message_id=None))
    page = client.get(url)
    assert page.status_code == 200 and b"Marketing by Email" in page.content
    response = client.post(url, {"sms": "on"})  # email unticked, sms kept
    assert response.status_code == 200
    assert Consent.objects.get(profile=profile, channel="email", topic="marketing").status == "withdrawn"
    assert Consent.objects.get(profile=profile, channel="sms", topic="marketing").status == "granted"


def _inbound(client, fake, body, sender="+4915112345678"):
    params = {
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "MessageSid": "SMin",
        "AccountSid": fake.account_sid,
    }
    url = "http://127.0.0.1:8000/webhooks/twilio/inbound/"
    sig = RequestValidator(fake.auth_token).compute_signature(url, params)
    return client.post("/webhooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=sig)


@pytest.mark.parametrize(
    "word", ["STOP", "unsubscribe", "End", "QUIT", "CANCEL", "OPTOUT", "REVOKE", "STOPALL"]
)
def test_sms_stop_keywords_opt_out_and_suppress(client, fake_twilio, word):
    template_make("otp", channel="sms", body="code {{ data.code }}")
    profile = profile_make(phone="+4915112345678")
    response = _inbound(client, fake_twilio, word)
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert Consent.objects.get(profile=profile, channel="sms", topic="marketing").status == "withdrawn"
    assert Suppression.objects.get(channel="sms", address="+4915112345678").reason == "opt_out"
    # Carriers block everything after STOP: even transactional SMS are not attempted.
    m = message_enqueue(
        profile_id=profile.pk,
        channel="sms",
        template_slug="otp",
        topic="transactional",
        data={"code": "1"},
        idempotency_key="after-stop",
    )
    dispatch_until_idle()
    m.refresh_from_db()
    assert (m.status, m.skip_reason) == (MessageStatus.SKIPPED, Reason.SUPPRESSED)
    assert fake_twilio.messages == []


@pytest.mark.parametrize("word", ["START", "yes", "UNSTOP"])
def test_sms_start_keywords_opt_back_in(client, fake_twilio, word):
    profile = profile_make(phone="+4915112345678")
    _inbound(client, fake_twilio, "STOP")
    response = _inbound(client, fake_twilio, word)
    assert b"<Message>" in response.content
    assert Consent.objects.get(profile=profile, channel="sms", topic="marketing").status == "granted"
    assert not Suppression.objects.filter(channel="sms").exists()


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_sms_help_keywords_answer_with_twiml(client, fake_twilio, word):
    profile_make(phone="+4915112345678")
    response = _inbound(client, fake_twilio, word)
    assert b"<Response><Message>" in response.content and b"STOP" in response.content


def test_unsigned_inbound_sms_is_refused(client, fake_twilio):
    profile = profile_make(phone="+4915112345678")
    response = client.post("/webhooks/twilio/inbound/", {"From": "+4915112345678", "Body": "STOP"})
    assert response.status_code == 403
    assert Consent.objects.get(profile=profile, channel="sms").status == "granted"
