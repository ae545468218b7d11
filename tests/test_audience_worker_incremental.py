"""With real workers running, a profile enters an audience within seconds of its qualifying event."""

import time

import pytest
from django.test import override_settings

from audiences.models import Audience, AudienceMembership
from tests.workers import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_worker_moves_profile_into_audience_after_its_event(client, basic_auth):
    from config.celery import app

    audience = Audience.objects.create(
        slug="carts", name="Started a checkout", rule={"event": "Checkout Started", "within_days": 7}
    )
    app.conf.task_always_eager = False
    try:
        with celery_worker():
            started = time.time()
            r = client.post(
                "/v1/track",
                {"userId": "w-aud-1", "event": "Checkout Started"},
                content_type="application/json",
                **basic_auth,
            )
            assert r.status_code == 200
            while (
                time.time() - started < 20
                and not AudienceMembership.objects.filter(audience=audience).exists()
            ):
                time.sleep(0.2)
            elapsed = time.time() - started
    finally:
        app.conf.task_always_eager = True
    membership = AudienceMembership.objects.get(audience=audience)
    assert membership.exited_at is None
    # Seconds, not the minutes of a scheduled refresh (generous for a loaded 2-core CI machine).
    assert elapsed < 20
