"""410 Gone disables an endpoint at once; so does failing continuously for days. Disabled endpoints get nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.partner.models import Delivery, Endpoint
from channels.partner.services import (
    deliveries_dispatch,
    delivery_replay,
    endpoint_enable,
    partner_event_publish,
)
from tests.fakes.partner import endpoint_subscribe, fake_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    settings.PARTNER_WEBHOOKS_DISABLE_AFTER_DAYS = 5


def test_gone_disables_the_endpoint_at_once_and_stops_its_other_deliveries():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        fake.reply(410)
        now = timezone.now()
        partner_event_publish(event_type="message.sent", payload={"n": 1}, idempotency_key="a", now=now)
        partner_event_publish(event_type="message.sent", payload={"n": 2}, idempotency_key="b", now=now)
        deliveries_dispatch(now=now)
        assert len(fake.received) == 1  # the second delivery was not sent to a gone endpoint
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410 Gone" in endpoint.disabled_reason
    assert endpoint.disabled_at == now
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failed", "failed"]
    skipped = Delivery.objects.get(idempotency_key="b")
    assert skipped.attempts == 0
    assert skipped.last_error.startswith("not sent: endpoint disabled")
    # New events no longer fan out to it.
    assert partner_event_publish(event_type="message.sent", payload={}, idempotency_key="c") == 0


def test_failing_for_five_days_disables_the_endpoint():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        fake.reply(500, times=100)
        start = timezone.now()
        for day in range(6):
            at = start + timedelta(days=day)
            partner_event_publish(event_type="message.sent", payload={}, idempotency_key=f"day{day}", now=at)
            deliveries_dispatch(now=at)
            endpoint.refresh_from_db()
            assert endpoint.failing_since == start
            if day < 5:
                assert endpoint.enabled, f"disabled too early, on day {day}"
    assert not endpoint.enabled
    assert "failed for 5.0 days" in endpoint.disabled_reason


def test_one_success_resets_the_failure_run():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        start = timezone.now()
        fake.reply(500)
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="a", now=start)
        deliveries_dispatch(now=start)
        endpoint.refresh_from_db()
        assert endpoint.failing_since == start
        later = start + timedelta(days=4)
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="b", now=later)
        deliveries_dispatch(now=later)  # 200 for "b", and "a"'s retry is long due: both succeed
        endpoint.refresh_from_db()
        assert endpoint.failing_since is None
        fake.reply(500)
        much_later = start + timedelta(days=6)
        partner_event_publish(event_type="message.sent", payload={}, idempotency_key="c", now=much_later)
        deliveries_dispatch(now=much_later)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.failing_since == much_later


def test_reenabled_endpoint_gets_replayed_deliveries():
    with fake_partner() as fake:
        endpoint = endpoint_subscribe(fake)
        fake.reply(410)
        partner_event_publish(event_type="message.sent", payload={"n": 1}, idempotency_key="a")
        deliveries_dispatch()
        endpoint.refresh_from_db()
        assert not endpoint.enabled
        endpoint_enable(endpoint=endpoint)
        delivery_replay(delivery=Delivery.objects.get())
        deliveries_dispatch()
        assert len(fake.received) == 2
    assert Delivery.objects.get().status == "succeeded"
    endpoint = Endpoint.objects.get()
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.failing_since is None
