"""Retry classes: timeouts, 429 (honouring Retry-After) and 5xx are retried with backoff; other 4xx fail at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.dispatch import messages_dispatch, retry_delay
from channels.models import Message, MessageStatus, Reason
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def _one_message():
    template_make()
    profile = profile_make()
    return message_enqueue(
        profile_id=profile.pk,
        channel="email",
        template_slug="welcome",
        data={"code": "R1"},
        idempotency_key="r1",
    )


def _make_due(message):
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_then_sent(fake_sendgrid, fast_retries, status):
    message = _one_message()
    fake_sendgrid.fail_next(status)
    messages_dispatch(max_batches=1)
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING and message.attempt_count == 1
    assert f"HTTP {status}" in message.error
    _make_due(message)
    messages_dispatch(max_batches=1)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    attempts = list(message.attempts.values_list("status_code", "retryable"))
    assert attempts == [(status, True), (202, False)]
    assert fake_sendgrid.count_by_message()[str(message.pk)] == 1


def test_rate_limited_429_waits_at_least_retry_after(fake_sendgrid, fast_retries):
    message = _one_message()
    fake_sendgrid.fail_next(429, retry_after=120)
    before = timezone.now()
    messages_dispatch(max_batches=1)
    message.refresh_from_db()
    assert message.status == MessageStatus.PENDING
    assert message.due_at >= before + timedelta(seconds=120)
    assert message.attempts.get().status_code == 429


def test_timeout_is_retried(fake_sendgrid, fast_retries):
    message = _one_message()
    fake_sendgrid.timeout_next(seconds=2.0)  # the client gives up after 1 s
    messages_dispatch(max_batches=1)
    message.refresh_from_db()
    attempt = message.attempts.get()
    assert attempt.status_code is None and "timeout" in attempt.error and attempt.retryable
    assert message.status == MessageStatus.PENDING


def test_client_errors_fail_without_retry(fake_sendgrid, fast_retries):
    message = _one_message()
    fake_sendgrid.fail_next(400)
    messages_dispatch(max_batches=1)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.skip_reason == Reason.PROVIDER_REJECTED
    assert message.attempts.get().retryable is False


def test_retries_stop_at_the_attempt_cap(fake_sendgrid, fast_retries):
    message = _one_message()
    fake_sendgrid.fail_next(503, times=5)
    for _ in range(fast_retries.CHANNELS_MAX_ATTEMPTS):
        _make_due(message)
        messages_dispatch(max_batches=1)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.skip_reason == Reason.RETRIES_EXHAUSTED
    assert message.attempts.count() == fast_retries.CHANNELS_MAX_ATTEMPTS
    assert fake_sendgrid.count_by_message()[str(message.pk)] == 0


def test_backoff_grows_exponentially_with_jitter(settings):
    settings.CHANNELS_RETRY_BASE_SECONDS = 10
    settings.CHANNELS_RETRY_MAX_SECONDS = 10_000
    for attempt, base in ((1, 10), (2, 20), (3, 40), (5, 160)):
        delays = {retry_delay(attempt=attempt, retry_after=None) for _ in range(20)}
        assert all(base * 0.5 <= d <= base * 1.5 for d in delays)
        assert len(delays) > 1
