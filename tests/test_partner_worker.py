"""A real Celery worker on Redis delivers partner webhooks woken on commit, and retries on the beat's tick."""

import time

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from channels.partner.beat import TASK_NAME, periodic_task_install
from channels.partner.models import Delivery
from channels.partner.services import partner_event_publish
from channels.partner.tasks import deliveries_dispatch_task
from tests.fakes.partner import endpoint_subscribe, fake_partner
from tests.workers import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _wait(predicate, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, PARTNER_WEBHOOKS_ALLOW_PRIVATE=True)
def test_worker_delivers_on_commit_and_retries_on_the_tick():
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        with fake_partner() as fake, celery_worker(extra_env={"PARTNER_WEBHOOKS_ALLOW_PRIVATE": "1"}):
            endpoint_subscribe(fake, event_types=["message.delivered"])
            fake.reply(503)
            with transaction.atomic():
                partner_event_publish(
                    event_type="message.delivered", payload={"message_id": 1}, idempotency_key="e2e"
                )
                assert fake.received == []  # nothing leaves before the caller commits
            assert _wait(lambda: Delivery.objects.filter(attempts=1).exists())
            delivery = Delivery.objects.get()
            assert delivery.status == "pending" and delivery.last_status_code == 503
            wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
            assert 3 < wait <= 5.6
            time.sleep(max(0.0, wait) + 0.2)
            deliveries_dispatch_task.delay()  # what the beat tick does every few seconds
            assert _wait(lambda: Delivery.objects.filter(status="succeeded").exists())
        assert [r.verified for r in fake.received] == [True, True]
        assert fake.received[1].payload["data"] == {"message_id": 1}
    finally:
        app.conf.task_always_eager = True


def test_the_beat_tick_is_installed_once():
    periodic_task_install()
    periodic_task_install()
    task = PeriodicTask.objects.get(name=TASK_NAME)
    assert task.task == "partner.deliveries_dispatch"
    assert task.interval.every == 5 and task.interval.period == "seconds"
    assert task.enabled
