"""A worker killed with SIGKILL mid-dispatch loses no message and sends none twice.

Real Celery workers on Redis and PostgreSQL; the fake SendGrid answers slowly so the kill lands
while requests are in flight. The second worker takes over once the first one's lease has run
out, asks SendGrid (Email Activity API) about the requests that were cut off, and sends the rest.
"""

import time

import pytest
from django.db import transaction

from channels.models import Message, MessageStatus
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tests.workers import celery_worker, worker_kill

pytest_plugins = ["tests.test_channel_support"]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

N = 120
WORKER_ENV = {
    "CHANNELS_LEASE_SECONDS": "3",
    "CHANNELS_DISPATCH_BATCH_SIZE": "10",
    "CHANNELS_HTTP_TIMEOUT": "5",
}


def _wait(predicate, timeout: float, kick=None, interval: float = 0.5) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if kick:
            kick()
        time.sleep(interval)
    return predicate()


def test_killed_worker_loses_nothing_and_duplicates_nothing(fake_sendgrid, settings):
    from channels.tasks import dispatch_task
    from config.celery import app

    settings.CHANNELS_DISPATCH_ON_COMMIT = False
    fake_sendgrid.delay = 0.4
    template_make(html="<p>Hi {{ profile.first_name }}</p>", text="")
    with transaction.atomic():
        for i in range(N):
            # Ten messages per claim (WORKER_ENV): twelve requests, several in flight at the kill.
            p = profile_make(traits={"n": i})
            message_enqueue(
                profile_id=p.pk, channel="email", template_slug="welcome", idempotency_key=f"kill-{i}"
            )
    app.conf.task_always_eager = False
    try:
        with celery_worker(name="doomed", extra_env=WORKER_ENV) as first:
            dispatch_task.delay()
            # Kill while a call is in flight (rows leased), not in the gap between two batches.
            assert _wait(
                lambda: (
                    len(fake_sendgrid.requests) >= 3
                    and Message.objects.filter(status=MessageStatus.SENDING).exists()
                ),
                30,
                interval=0.05,
            ), "the first worker never started sending"
            worker_kill(first)
        in_flight = Message.objects.filter(status=MessageStatus.SENDING).count()
        received_before_takeover = len(fake_sendgrid.emails)
        assert in_flight >= 1, "the kill should leave leased messages behind"
        assert received_before_takeover < N

        with celery_worker(name="heir", extra_env=WORKER_ENV):
            done = _wait(
                lambda: not Message.objects.exclude(status=MessageStatus.SENT).exists(),
                90,
                kick=dispatch_task.delay,
            )
        assert done, dict(Message.objects.values_list("status").annotate())
    finally:
        app.conf.task_always_eager = True

    counts = fake_sendgrid.count_by_message()
    ids = {str(pk) for pk in Message.objects.values_list("pk", flat=True)}
    assert set(counts) == ids  # nothing lost
    assert set(counts.values()) == {1}  # nothing twice
    # Every message the kill left in flight was resolved by asking the provider, not by guessing.
    recovered = Message.objects.filter(events__kind="sent", events__data__recovered=True).count()
    resent = Message.objects.filter(attempts__number=2).distinct().count()
    print(f"in flight at the kill: {in_flight}, recovered by lookup: {recovered}, resent: {resent}")
    assert recovered + resent == in_flight
