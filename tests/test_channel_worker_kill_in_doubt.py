"""A worker SIGKILLed while one request is in flight puts only that request in doubt.

Real Celery workers on Redis and PostgreSQL, the fake Twilio (a provider that cannot be asked about
past sends), one batch of 200 one-recipient messages. The fake holds back its answer to the k-th
message (k random), the worker is killed while it waits, a second worker takes over once the lease
has run out. Counted at the fake: the k-1 messages answered before the kill and every message never
attempted arrive exactly once; the one in flight is failed `in_doubt` (at most once, the default) or
sent again (CHANNELS_IN_DOUBT_POLICY=resend, at least once) — and nothing else is.
"""

import random
import time

import pytest
from django.db import transaction

from channels.models import Message, MessageAttempt, MessageStatus, Reason
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tests.workers import celery_worker, worker_kill

pytest_plugins = ["tests.test_channel_support"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N = 200
WORKER_ENV = {
    "CHANNELS_LEASE_SECONDS": "3",
    "CHANNELS_DISPATCH_BATCH_SIZE": str(N),
    "CHANNELS_HTTP_TIMEOUT": "60",
}
FINAL = (MessageStatus.SENT, MessageStatus.FAILED)


def _wait(predicate, timeout: float, kick=None, interval: float = 0.5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if kick:
            kick()
        time.sleep(interval)
    return predicate()


@pytest.mark.parametrize("policy", ["fail", "resend"])
def test_a_kill_mid_batch_puts_only_the_request_in_flight_in_doubt(fake_twilio, settings, policy):
    from channels.tasks import dispatch_task
    from config.celery import app

    settings.CHANNELS_DISPATCH_ON_COMMIT = False
    template_make("code", channel="sms")
    with transaction.atomic():
        for i in range(N):
            p = profile_make(phone=f"+1555{i:07d}")
            message_enqueue(
                profile_id=p.pk,
                channel="sms",
                template_slug="code",
                data={"code": i},
                idempotency_key=f"k-{i}",
            )
    k = random.randint(1, N - 1)
    print(f"holding the answer to message {k} of {N}")
    fake_twilio.hold_at(k)
    env = {**WORKER_ENV, "CHANNELS_IN_DOUBT_POLICY": policy}
    app.conf.task_always_eager = False
    try:
        with celery_worker(name="doomed", extra_env=env) as first:
            dispatch_task.delay()
            assert fake_twilio.holding.wait(timeout=120), "the worker never reached the held request"
            worker_kill(first)
        fake_twilio.release.set()

        # What the kill left: k-1 results recorded, one attempt open, the rest never attempted.
        assert len(fake_twilio.messages) == k
        assert Message.objects.filter(status=MessageStatus.SENT).count() == k - 1
        assert Message.objects.filter(status=MessageStatus.SENDING).count() == N - k + 1
        open_attempts = MessageAttempt.objects.filter(finished_at__isnull=True)
        assert open_attempts.count() == 1
        in_flight = open_attempts.get().message
        assert in_flight.address == fake_twilio.messages[-1]["To"]
        assert MessageAttempt.objects.count() == k

        with celery_worker(name="heir", extra_env=env):
            done = _wait(
                lambda: not Message.objects.exclude(status__in=FINAL).exists(), 180, kick=dispatch_task.delay
            )
        assert done, dict(Message.objects.values_list("status").annotate())
    finally:
        app.conf.task_always_eager = True

    counts = fake_twilio.count_by_to()
    addresses = set(Message.objects.values_list("address", flat=True))
    assert set(counts) == addresses and len(addresses) == N  # nothing lost
    twice = {to for to, n in counts.items() if n > 1}
    in_flight.refresh_from_db()
    if policy == "fail":
        assert twice == set()
        assert in_flight.status == MessageStatus.FAILED and in_flight.skip_reason == Reason.IN_DOUBT
        assert Message.objects.filter(status=MessageStatus.SENT).count() == N - 1
    else:
        assert twice == {in_flight.address} and counts[in_flight.address] == 2
        assert Message.objects.filter(status=MessageStatus.SENT).count() == N
    # Only the message in flight was attempted twice; the never-attempted ones once.
    assert list(MessageAttempt.objects.filter(number=2).values_list("message_id", flat=True)) == (
        [in_flight.pk] if policy == "resend" else []
    )
