"""The partner-webhooks API: endpoint CRUD, one-time secrets, rotation, the delivery log and replay."""

import pytest
from standardwebhooks.webhooks import Webhook

from channels.partner.models import Delivery, Endpoint
from channels.partner.services import deliveries_dispatch, partner_event_publish
from tests.fakes.partner import fake_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True


def _create(api_client, **data):
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["message.delivered"], **data}
    return api_client.post("/api/partner/endpoints/", body, format="json")


def test_create_reveals_the_secret_once(api_client):
    r = _create(api_client, description="Shopify app")
    assert r.status_code == 201, r.content
    secret = r.json()["secret"]
    assert secret.startswith("whsec_") and Webhook(secret)
    assert r["Cache-Control"] == "no-store"
    endpoint_id = r.json()["id"]
    for url in ("/api/partner/endpoints/", f"/api/partner/endpoints/{endpoint_id}/"):
        again = api_client.get(url)
        assert again.status_code == 200
        assert secret not in again.content.decode()
        assert "secret" not in str(again.json()).replace("secret_rotated_at", "")


def test_bad_input_names_the_field(api_client, settings):
    r = _create(api_client, event_types=["message.delivered", "message.nope"])
    assert r.status_code == 400
    assert "event_types[1]" in r.json()
    assert "message.nope" in r.json()["event_types[1]"][0]
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
    r = _create(api_client, url="http://169.254.169.254/latest/")
    assert r.status_code == 400
    assert "169.254.169.254 is a link-local address" in r.json()["url"][0]
    r = _create(api_client, url="not a url")
    assert r.status_code == 400 and "url" in r.json()
    assert not Endpoint.objects.exists()


def test_update_and_reenable(api_client):
    endpoint_id = _create(api_client).json()["id"]
    r = api_client.patch(
        f"/api/partner/endpoints/{endpoint_id}/", {"event_types": ["*"], "enabled": False}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["event_types"] == ["*"]
    assert r.json()["enabled"] is False
    assert r.json()["disabled_reason"] == "Disabled by an operator"
    r = api_client.patch(f"/api/partner/endpoints/{endpoint_id}/", {"enabled": True}, format="json")
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] == ""


def test_rotate_returns_a_new_secret_once(api_client):
    created = _create(api_client).json()
    r = api_client.post(f"/api/partner/endpoints/{created['id']}/rotate-secret/")
    assert r.status_code == 200
    assert r.json()["secret"].startswith("whsec_")
    assert r.json()["secret"] != created["secret"]
    assert r.json()["previous_secret_expires_at"]
    assert r["Cache-Control"] == "no-store"


def test_delivery_log_and_replay(api_client):
    with fake_partner() as fake:
        created = _create(api_client, url=fake.url).json()
        fake.secret = created["secret"]
        fake.reply(400)
        partner_event_publish(event_type="message.delivered", payload={"message_id": 3}, idempotency_key="m3")
        deliveries_dispatch()
        r = api_client.get(f"/api/partner/endpoints/{created['id']}/deliveries/")
        assert r.status_code == 200
        [row] = r.json()["results"]
        assert row["status"] == "failed"
        assert row["attempt_log"][0]["status_code"] == 400
        assert api_client.get("/api/partner/deliveries/", {"status": "failed"}).json()["count"] == 1
        assert api_client.get("/api/partner/deliveries/", {"status": "succeeded"}).json()["count"] == 0

        r = api_client.post(f"/api/partner/deliveries/{row['id']}/replay/")
        assert r.status_code == 202
        assert r.json()["status"] == "pending"
        deliveries_dispatch()
        assert [x.headers["webhook-id"] for x in fake.received] == [row["webhook_id"]] * 2
    assert Delivery.objects.get().status == "succeeded"


def test_replay_to_a_disabled_endpoint_is_refused(api_client):
    endpoint_id = _create(api_client).json()["id"]
    partner_event_publish(event_type="message.delivered", payload={}, idempotency_key="x")
    api_client.patch(f"/api/partner/endpoints/{endpoint_id}/", {"enabled": False}, format="json")
    r = api_client.post(f"/api/partner/deliveries/{Delivery.objects.get().pk}/replay/")
    assert r.status_code == 400
    assert "disabled" in r.json()["detail"][0]


def test_event_types_are_listed(api_client):
    names = [t["name"] for t in api_client.get("/api/partner/event-types/").json()]
    assert "message.clicked" in names and "profile.erased" in names


def test_schema_documents_the_partner_api(api_client):
    r = api_client.get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/api/partner/endpoints/",
        "/api/partner/endpoints/{id}/rotate-secret/",
        "/api/partner/endpoints/{id}/deliveries/",
        "/api/partner/deliveries/{id}/replay/",
        "/api/partner/event-types/",
    ):
        assert p in paths, p


def test_unauthenticated_requests_are_refused(client):
    assert client.get("/api/partner/endpoints/").status_code in (401, 403)
