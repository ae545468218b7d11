"""An endpoint's rate limit holds deliveries back to the next second instead of sending or failing them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.partner.models import Delivery
from channels.partner.services import deliveries_dispatch, partner_event_publish
from tests.fakes.partner import endpoint_subscribe, fake_partner

pytestmark = pytest.mark.django_db


def test_deliveries_over_the_rate_wait_for_the_next_second(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    with fake_partner() as fake:
        endpoint_subscribe(fake, rate_limit=2)
        now = timezone.now().replace(microsecond=0)
        for i in range(5):
            partner_event_publish(
                event_type="message.sent", payload={"i": i}, idempotency_key=f"r{i}", now=now
            )
        deliveries_dispatch(now=now)
        assert len(fake.received) == 2
        held = Delivery.objects.filter(status="pending")
        assert held.count() == 3
        assert set(held.values_list("attempts", flat=True)) == {0}  # throttling is not a failed attempt
        deliveries_dispatch(now=now + timedelta(seconds=1))
        assert len(fake.received) == 4
        deliveries_dispatch(now=now + timedelta(seconds=2))
        assert len(fake.received) == 5
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
