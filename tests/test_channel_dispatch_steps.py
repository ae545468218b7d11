"""Dispatch's steps: one outcome per message, attempts recorded request by request, and an adapter
error that is not a ProviderError fails its request's messages with the error instead of leaving
them `sending`."""

import pytest

from channels.dispatch import dispatch_until_idle
from channels.models import Message, MessageAttempt, MessageStatus, Reason
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make

pytest_plugins = ["tests.test_channel_support"]
pytestmark = pytest.mark.django_db


def _enqueue(n: int) -> list[int]:
    template_make("code", channel="sms")
    ids = []
    for i in range(n):
        p = profile_make(phone=f"+1555{i:07d}")
        ids.append(
            message_enqueue(
                profile_id=p.pk,
                channel="sms",
                template_slug="code",
                data={"code": i},
                idempotency_key=f"s{i}",
            ).pk
        )
    return ids


def test_an_unparsable_answer_fails_that_request_with_the_error_and_the_rest_are_sent(fake_twilio, settings):
    settings.CHANNELS_DISPATCH_ON_COMMIT = False
    ids = _enqueue(4)
    fake_twilio.garbage_next(times=1)  # the first request's answer cannot be parsed
    stats = dispatch_until_idle()
    assert (stats.sent, stats.failed) == (3, 1)
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == ["failed", "sent", "sent", "sent"]
    failed = Message.objects.get(status=MessageStatus.FAILED)
    assert failed.pk == ids[0]
    assert failed.skip_reason == Reason.ADAPTER_ERROR
    assert failed.error.startswith("adapter error: ") and failed.lease_owner == ""
    assert [e.kind for e in failed.events.order_by("id")] == ["queued", "failed"]
    attempt = MessageAttempt.objects.get(message=failed)
    assert attempt.finished_at is not None and "adapter error" in attempt.error and not attempt.retryable
    assert not Message.objects.filter(status=MessageStatus.SENDING).exists()
    assert len(fake_twilio.messages) == 4  # the provider did get all four: failed is at most once


def test_every_message_gets_one_outcome_and_one_closed_attempt_per_request(fake_twilio, settings):
    settings.CHANNELS_DISPATCH_ON_COMMIT = False
    settings.CHANNELS_MAX_ATTEMPTS = 3
    settings.CHANNELS_RETRY_BASE_SECONDS = 60
    _enqueue(3)
    fake_twilio.fail_next(500)
    fake_twilio.invalid_numbers.add("+15550000002")
    stats = dispatch_until_idle()
    assert (stats.sent, stats.retrying, stats.failed, stats.requests) == (1, 1, 1, 3)
    kinds = sorted(k for k in Message.objects.values_list("events__kind", flat=True) if k != "queued")
    assert kinds == ["failed", "retry_scheduled", "sent"]
    assert MessageAttempt.objects.count() == 3
    assert not MessageAttempt.objects.filter(finished_at__isnull=True).exists()
    assert set(Message.objects.values_list("attempt_count", flat=True)) == {1}
    assert not Message.objects.exclude(lease_owner="").exists()
