"""Who subscribes to what is cached per process, and every change to endpoints reaches the cache."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from channels.models import Message
from channels.partner import subscribers
from channels.partner.models import Delivery, Endpoint
from channels.partner.services import endpoint_create, endpoint_disable, endpoint_enable
from channels.signals import message_status_changed
from tracking.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    subscribers._subscriptions.forget()


def _message() -> Message:
    return Message.objects.create(
        profile=Profile.objects.create(),
        channel="email",
        idempotency_key=f"m-{timezone.now()}",
        due_at=timezone.now(),
    )


def _announce(message: Message, kind: str = "delivered") -> None:
    message_status_changed.send(sender=Message, message_id=message.pk, status=kind, kind=kind)


def test_a_new_subscription_takes_effect_at_once():
    message = _message()
    _announce(message)  # nobody listens yet: the empty set is now cached
    assert not Delivery.objects.exists()
    endpoint_create(url="http://127.0.0.1:9/hook", event_types=["message.delivered"])
    _announce(message)
    assert Delivery.objects.filter(event_type="message.delivered").count() == 1


def test_disabling_and_enabling_an_endpoint_reach_the_cache():
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["message.delivered"])
    assert "message.delivered" in subscribers.subscribed_event_types()
    endpoint_disable(endpoint=endpoint, reason="test")
    assert "message.delivered" not in subscribers.subscribed_event_types()
    endpoint_enable(endpoint=endpoint)
    assert "message.delivered" in subscribers.subscribed_event_types()


def test_another_process_change_is_seen_through_the_shared_version(monkeypatch):
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["message.opened"])
    assert subscribers.subscribed_event_types() == {"message.opened"}
    # Another process changes the row (no signal here) and bumps the shared version, as its save would.
    Endpoint.objects.filter(pk=endpoint.pk).update(event_types=["message.clicked"])
    assert subscribers.subscribed_event_types() == {"message.opened"}  # within the check interval
    cache.incr(subscribers.SUBSCRIPTIONS_VERSION_KEY)
    monkeypatch.setattr(subscribers, "SUBSCRIPTIONS_CHECK_SECONDS", 0.0)
    assert subscribers.subscribed_event_types() == {"message.clicked"}


def test_a_write_that_bypasses_the_version_is_picked_up_after_the_maximum_age(monkeypatch):
    endpoint, _ = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["message.opened"])
    assert subscribers.subscribed_event_types() == {"message.opened"}
    Endpoint.objects.filter(pk=endpoint.pk).update(event_types=["*"])
    monkeypatch.setattr(subscribers, "SUBSCRIPTIONS_CHECK_SECONDS", 0.0)
    assert subscribers.subscribed_event_types() == {"message.opened"}  # same version, still young
    monkeypatch.setattr(subscribers, "SUBSCRIPTIONS_MAX_AGE", 0.0)
    assert subscribers.subscribed_event_types() == {"*"}
