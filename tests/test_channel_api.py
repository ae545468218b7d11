"""The transactional send API: one message, idempotent, status and timeline readable; bad input → 400."""

import pytest

from channels.dispatch import dispatch_until_idle
from channels.models import Message
from tests.test_channel_support import profile_make, template_make
from tracking.models import Identity

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def test_send_by_user_id_is_idempotent_and_readable(api_client, fake_sendgrid):
    template_make("receipt")
    profile = profile_make(email="buyer@example.com")
    Identity.objects.create(profile=profile, kind="user_id", value="u-42")
    body = {"user_id": "u-42", "channel": "email", "template": "receipt", "data": {"code": "ORDER-1"}}
    first = api_client.post("/api/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == 201, first.content
    again = api_client.post("/api/messages/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1
    dispatch_until_idle()
    detail = api_client.get(f"/api/messages/{first.json()['id']}/").json()
    assert detail["status"] == "sent" and detail["topic"] == "transactional"
    assert [e["kind"] for e in detail["events"]] == ["queued", "sent"]
    assert detail["attempts"][0]["status_code"] == 202


def test_send_by_email_with_key_in_body(api_client, sandbox):
    template_make()
    profile_make(email="ana@example.com")
    response = api_client.post(
        "/api/messages/",
        {
            "email": "Ana@Example.com",
            "channel": "email",
            "template": "welcome",
            "data": {"code": "1"},
            "idempotency_key": "k",
        },
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "body,field",
    [
        ({"channel": "email", "template": "welcome", "idempotency_key": "k"}, "profile_id"),
        ({"user_id": "nobody", "channel": "email", "template": "welcome", "idempotency_key": "k"}, "user_id"),
        ({"profile_id": 1, "channel": "pigeon", "template": "welcome", "idempotency_key": "k"}, "channel"),
        ({"profile_id": 1, "channel": "email", "template": "nope", "idempotency_key": "k"}, "template"),
        ({"profile_id": 1, "channel": "email", "template": "welcome"}, "idempotency_key"),
        (
            {"profile_id": 999999, "channel": "email", "template": "welcome", "idempotency_key": "k"},
            "profile_id",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, sandbox, body, field):
    template_make()
    profile = profile_make()
    if body.get("profile_id") == 1:
        body["profile_id"] = profile.pk
    response = api_client.post("/api/messages/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_sending_needs_authentication(client):
    assert client.post("/api/messages/", {}, content_type="application/json").status_code in (401, 403)
