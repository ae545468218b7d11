"""Deliveries are signed per Standard Webhooks and verify with the `standardwebhooks` library, across rotation."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from channels.partner.models import Delivery
from channels.partner.services import deliveries_dispatch, endpoint_secret_rotate, partner_event_publish
from channels.partner.signing import headers_build, secret_generate
from tests.fakes.partner import endpoint_subscribe, fake_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True


def test_generated_secret_is_whsec_base64_of_32_bytes():
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32
    assert secret != secret_generate()


def test_headers_verify_with_the_library_and_tampering_is_detected():
    secret = secret_generate()
    body = '{"type":"message.sent","data":{"message_id":1}}'
    ts = int(timezone.now().timestamp())
    headers = headers_build(secrets_=[secret], webhook_id="msg_abc", timestamp=ts, body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == {"type": "message.sent", "data": {"message_id": 1}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("1", "2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)


def test_delivered_request_carries_spec_headers_and_envelope():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake, event_types=["message.delivered"])
        partner_event_publish(event_type="message.delivered", payload={"message_id": 7}, idempotency_key="k1")
        assert deliveries_dispatch() == 1
        [got] = fake.received
    delivery = Delivery.objects.get()
    assert got.verified, got.verify_error
    assert got.headers["webhook-id"] == delivery.webhook_id
    assert delivery.webhook_id.startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 30
    assert got.headers["content-type"] == "application/json"
    assert got.payload["type"] == "message.delivered"
    assert got.payload["data"] == {"message_id": 7}
    assert delivery.status == "succeeded"
    assert endpoint.secret not in str(got.headers)


def test_rotation_signs_with_both_secrets_until_the_overlap_ends():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        old_secret = fake.secret
        new_secret = endpoint_secret_rotate(endpoint=endpoint)
        assert new_secret != old_secret

        partner_event_publish(event_type="profile.erased", payload={"profile_id": 1}, idempotency_key="a")
        deliveries_dispatch()
        [during] = fake.received
        signatures = during.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        # A partner still on the old secret and one already on the new one both verify.
        assert Webhook(old_secret).verify(during.body, during.headers)
        assert Webhook(new_secret).verify(during.body, during.headers)

        later = timezone.now() + timedelta(hours=25)
        partner_event_publish(
            event_type="profile.erased", payload={"profile_id": 2}, idempotency_key="b", now=later
        )
        fake.secret = new_secret
        deliveries_dispatch(now=later)
        after = fake.received[1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)


def test_partner_with_a_wrong_secret_rejects_and_the_delivery_is_not_counted_as_sent():
    with fake_partner() as fake:
        endpoint_subscribe(fake)
        fake.secret = secret_generate()  # the partner pasted the wrong secret
        partner_event_publish(event_type="profile.erased", payload={"profile_id": 1}, idempotency_key="x")
        deliveries_dispatch()
        [got] = fake.received
    assert not got.verified
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_status_code == 401
