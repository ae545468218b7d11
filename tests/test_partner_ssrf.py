"""Partner URLs on private, loopback, link-local or otherwise non-public addresses are refused, at save and at send."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels.partner import transport
from channels.partner.destination import address_refusal
from channels.partner.models import Delivery, DeliveryAttempt
from channels.partner.services import (
    deliveries_dispatch,
    endpoint_create,
    endpoint_update,
    partner_event_publish,
)
from tests.fakes.partner import endpoint_subscribe, fake_partner


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address, kind):
    reason = address_refusal(address)
    assert reason and kind in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_are_accepted(address):
    assert address_refusal(address) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/hook",
        "http://localhost/hook",
    ],
)
def test_saving_an_endpoint_on_a_private_address_is_refused(settings, url):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as exc:
        endpoint_create(url=url, event_types=["*"])
    message = exc.value.message_dict["url"][0]
    assert "partner webhooks only go to public addresses" in message


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/"])
def test_other_schemes_and_credentials_are_refused(settings, url):
    with pytest.raises(ValidationError) as exc:
        endpoint_create(url=url, event_types=["*"])
    assert "url" in exc.value.message_dict


@pytest.mark.django_db
def test_changing_the_url_to_a_private_address_is_refused(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    endpoint, _ = endpoint_create(url="http://127.0.0.1:1/hook", event_types=["*"])
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as exc:
        endpoint_update(endpoint=endpoint, data={"url": "http://10.9.8.7/hook"})
    assert "10.9.8.7 is a private address" in exc.value.message_dict["url"][0]


@pytest.mark.django_db
def test_send_time_check_refuses_a_destination_that_became_private(settings):
    """Saved while allowed (or while DNS pointed elsewhere): the send is refused, not attempted, not retried."""
    with fake_partner() as fake:
        settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
        endpoint_subscribe(fake)
        settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="a")
        deliveries_dispatch(now=timezone.now())
        assert fake.received == []
    delivery = Delivery.objects.get()
    assert delivery.status == "failed"
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert DeliveryAttempt.objects.get().error == delivery.last_error


def test_the_transport_refuses_a_connection_that_lands_on_a_private_address(settings):
    """The address actually connected to is checked too (a DNS answer can change after our check)."""
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = False
    with fake_partner() as fake:
        response = transport.post(url=fake.url, body=b"{}", headers={})
        assert fake.received == []
    assert response.refused
    assert response.status_code is None
    assert "127.0.0.1 is a loopback address" in response.error


def test_the_setting_allows_private_destinations(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    with fake_partner() as fake:
        response = transport.post(url=fake.url, body=b"{}", headers={})
        assert len(fake.received) == 1
    assert response.status_code == 200
