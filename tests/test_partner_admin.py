"""An operator manages partner endpoints in the admin: secret shown once, rotation, disabling notices, replay."""

import re

import pytest
from standardwebhooks.webhooks import Webhook

from channels.partner.models import Delivery, Endpoint
from channels.partner.services import (
    deliveries_dispatch,
    endpoint_create,
    endpoint_disable,
    partner_event_publish,
)
from tests.fakes.partner import endpoint_subscribe, fake_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _secret_in(html: str) -> str:
    return re.search(r'id="signing-secret"[^>]*>(whsec_[^<]+)<', html).group(1)


def test_creating_an_endpoint_shows_the_secret_once(admin_client):
    r = admin_client.post(
        "/admin/partner/endpoint/add/",
        {
            "url": "http://127.0.0.1:9/hook",
            "description": "ERP",
            "event_types": ["message.sent", "profile.erased"],
        },
    )
    assert r.status_code == 200, r.content
    html = r.content.decode()
    secret = _secret_in(html)
    assert Webhook(secret)
    assert "will not be shown again" in html
    assert "no-store" in r["Cache-Control"]
    endpoint = Endpoint.objects.get()
    assert endpoint.event_types == ["message.sent", "profile.erased"]
    assert endpoint.secret == secret
    change = admin_client.get(f"/admin/partner/endpoint/{endpoint.pk}/change/").content.decode()
    listing = admin_client.get("/admin/partner/endpoint/").content.decode()
    assert secret not in change and secret not in listing
    assert 'value="message.sent"' in change and "checked" in change  # event types as checkboxes


def test_a_private_url_is_refused_in_the_form(admin_client, settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
    r = admin_client.post(
        "/admin/partner/endpoint/add/", {"url": "http://10.0.0.1/hook", "event_types": ["*"]}
    )
    assert r.status_code == 200
    assert "10.0.0.1 is a private address" in r.content.decode()
    assert not Endpoint.objects.exists()


def test_rotating_shows_the_new_secret_once(admin_client):
    endpoint, old = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    confirm = admin_client.get(f"/admin/partner/endpoint/{endpoint.pk}/rotate-secret/")
    assert confirm.status_code == 200 and "Rotate the secret" in confirm.content.decode()
    r = admin_client.post(f"/admin/partner/endpoint/{endpoint.pk}/rotate-secret/")
    new = _secret_in(r.content.decode())
    endpoint.refresh_from_db()
    assert new != old and endpoint.secret == new and endpoint.previous_secret == old


def test_disabled_endpoints_are_announced_and_can_be_enabled(admin_client):
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"], description="Warehouse")
    endpoint_disable(endpoint=endpoint, reason="The partner answered 410 Gone on 2025-01-02 03:04 UTC")
    listing = admin_client.get("/admin/partner/endpoint/").content.decode()
    assert "Warehouse</a> is disabled" in listing
    assert "410 Gone" in listing
    change = admin_client.get(f"/admin/partner/endpoint/{endpoint.pk}/change/").content.decode()
    assert "This endpoint is disabled" in change
    r = admin_client.post(f"/admin/partner/endpoint/{endpoint.pk}/enable/")
    assert r.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and not endpoint.disabled_reason
    r = admin_client.post(f"/admin/partner/endpoint/{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "Disabled by an operator"


def test_delivery_log_shows_attempts_and_replays(admin_client):
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        fake.reply(422)
        partner_event_publish(event_type="message.sent", payload={"message_id": 9}, idempotency_key="m9")
        deliveries_dispatch()
        delivery = Delivery.objects.get()
        log = admin_client.get(f"/admin/partner/delivery/?endpoint__id__exact={endpoint.pk}").content.decode()
        assert delivery.webhook_id in log
        detail = admin_client.get(f"/admin/partner/delivery/{delivery.pk}/change/").content.decode()
        assert "HTTP 422" in detail and "Replay this delivery" in detail
        r = admin_client.post(
            "/admin/partner/delivery/",
            {"action": "replay_selected", "_selected_action": [delivery.pk]},
        )
        assert r.status_code == 302
        deliveries_dispatch()
        assert len(fake.received) == 2
        admin_client.post(f"/admin/partner/delivery/{delivery.pk}/replay/")
        deliveries_dispatch()
        assert len(fake.received) == 3
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert list(delivery.attempt_log.values_list("number", flat=True)) == [1, 2, 3]


def test_unticking_enabled_in_the_form_disables_with_a_reason(admin_client):
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    r = admin_client.post(
        f"/admin/partner/endpoint/{endpoint.pk}/change/",
        {"url": endpoint.url, "description": "", "event_types": ["message.sent"], "rate_limit": ""},
    )
    assert r.status_code == 302, r.content
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Disabled by an operator" and endpoint.disabled_at
    assert endpoint.event_types == ["message.sent"]
