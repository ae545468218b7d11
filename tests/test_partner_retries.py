"""Which failures are retried, on what schedule, and which are final."""

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from channels.partner.conf import RETRY_SCHEDULE
from channels.partner.models import Delivery, DeliveryAttempt
from channels.partner.services import deliveries_dispatch, endpoint_create, partner_event_publish
from tests.fakes.partner import endpoint_subscribe, fake_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True
    settings.PARTNER_WEBHOOKS_READ_TIMEOUT = 0.5
    settings.PARTNER_WEBHOOKS_RETRY_JITTER = 0.1


@pytest.fixture
def fake():
    with fake_partner() as partner:
        endpoint_subscribe(partner)
        yield partner


def _publish_and_send(now):
    partner_event_publish(event_type="message.sent", payload={"message_id": 1}, idempotency_key="m1", now=now)
    deliveries_dispatch(now=now)
    return Delivery.objects.get()


def _assert_retry_in(delivery, now, seconds):
    delay = (delivery.next_attempt_at - now).total_seconds()
    assert seconds <= delay <= seconds * 1.1 + 0.001, delay


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_after_five_seconds(fake, status):
    now = timezone.now()
    fake.reply(status)
    delivery = _publish_and_send(now)
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert delivery.last_status_code == status
    _assert_retry_in(delivery, now, 5)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.outcome, attempt.error) == (status, "retry", f"HTTP {status}")


def test_too_many_requests_honours_retry_after_seconds(fake):
    now = timezone.now()
    fake.reply(429, headers={"Retry-After": "120"})
    delivery = _publish_and_send(now)
    assert delivery.status == "pending"
    assert (delivery.next_attempt_at - now).total_seconds() == pytest.approx(120, abs=0.01)


def test_too_many_requests_with_an_http_date_retry_after(fake):
    now = timezone.now()
    at = now + timedelta(minutes=10)
    fake.reply(429, headers={"Retry-After": at.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    delivery = _publish_and_send(now)
    assert 590 <= (delivery.next_attempt_at - now).total_seconds() <= 601


def test_too_many_requests_without_retry_after_follows_the_schedule(fake):
    now = timezone.now()
    fake.reply(429)
    _assert_retry_in(_publish_and_send(now), now, 5)


def test_timeout_is_retried(fake):
    now = timezone.now()
    fake.reply(200, delay=1.5)  # slower than the 0.5 s read timeout
    delivery = _publish_and_send(now)
    assert delivery.status == "pending"
    assert delivery.last_status_code is None
    assert delivery.last_error == "timed out"
    _assert_retry_in(delivery, now, 5)


def test_connection_refused_is_retried(settings):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint_create(url=f"http://127.0.0.1:{port}/hook", event_types=["*"])
    now = timezone.now()
    delivery = _publish_and_send(now)
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("connection error:")
    assert "refused" in delivery.last_error.lower()
    assert "/hook" not in delivery.last_error  # URLs (and tokens in them) stay out of the log
    _assert_retry_in(delivery, now, 5)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_client_errors_are_permanent_failures(fake, status):
    fake.reply(status)
    delivery = _publish_and_send(timezone.now())
    assert delivery.status == "failed"
    assert delivery.next_attempt_at is None
    deliveries_dispatch(now=timezone.now() + timedelta(days=2))
    assert len(fake.received) == 1


def test_redirects_are_not_followed_and_fail(fake):
    fake.reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    delivery = _publish_and_send(timezone.now())
    assert delivery.status == "failed"
    assert "redirects are not followed" in delivery.last_error
    assert len(fake.received) == 1


def test_full_schedule_then_dead(fake):
    """Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — then the delivery is dead."""
    assert RETRY_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    fake.reply(503, times=len(RETRY_SCHEDULE))
    now = timezone.now()
    partner_event_publish(event_type="message.sent", payload={}, idempotency_key="d", now=now)
    for attempt, next_delay in enumerate([*RETRY_SCHEDULE[1:], None], start=1):
        # Not due a moment before its time…
        assert deliveries_dispatch(now=now - timedelta(seconds=0.001)) == 0
        assert deliveries_dispatch(now=now) == 1
        delivery = Delivery.objects.get()
        assert delivery.attempts == attempt
        if next_delay is None:
            break
        assert delivery.status == "pending"
        _assert_retry_in(delivery, now, next_delay)
        now = delivery.next_attempt_at
    assert delivery.status == "dead"
    assert delivery.next_attempt_at is None
    assert len(fake.received) == 8
    assert list(DeliveryAttempt.objects.values_list("number", flat=True)) == list(range(1, 9))
    assert DeliveryAttempt.objects.last().outcome == "dead"


def test_success_after_retries_records_every_attempt(fake):
    fake.reply(500)
    fake.reply(429)
    now = timezone.now()
    delivery = _publish_and_send(now)
    deliveries_dispatch(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    deliveries_dispatch(now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert list(delivery.attempt_log.values_list("status_code", "outcome")) == [
        (500, "retry"),
        (429, "retry"),
        (200, "succeeded"),
    ]
    assert len({r.headers["webhook-id"] for r in fake.received}) == 1  # one id across retries
    assert all(r.verified for r in fake.received)


def test_a_leased_delivery_is_not_claimed_twice():
    from channels.partner.services import deliveries_claim

    endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    now = timezone.now()
    partner_event_publish(event_type="message.sent", payload={}, idempotency_key="l", now=now)
    assert len(deliveries_claim(now=now, limit=10)) == 1
    assert deliveries_claim(now=now, limit=10) == []
    # A worker that died holding it: the lease runs out and another worker takes it over.
    assert len(deliveries_claim(now=now + timedelta(minutes=3), limit=10)) == 1
