"""A real Celery worker on Redis resolves ingested events to profiles after the request returns."""

import time

import pytest
from django.test import override_settings

from tests.workers import celery_worker
from tracking.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_worker_resolves_events_woken_on_commit(client, basic_auth):
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        with celery_worker():
            r = client.post(
                "/v1/track",
                {"userId": "w1", "event": "Checkout Started"},
                content_type="application/json",
                **basic_auth,
            )
            assert r.status_code == 200
            deadline = time.time() + 20
            while time.time() < deadline and Event.objects.filter(profile__isnull=True).exists():
                time.sleep(0.2)
        assert Event.objects.get().profile_id is not None
    finally:
        app.conf.task_always_eager = True
