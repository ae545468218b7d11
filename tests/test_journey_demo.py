"""The demo's lifecycle journey is valid, publishes, and replays the store's history into runs."""

from datetime import timedelta
from io import StringIO

import pytest
from django.utils import timezone

from journeys.definition import definition_validate
from journeys.demo import LIFECYCLE, load_demo
from journeys.models import Run
from journeys.testing import profile_add
from tracking.models import Event, Source

pytestmark = pytest.mark.django_db


def stored_event(profile, name, at):
    source, _ = Source.objects.get_or_create(name="web")
    return Event.objects.create(
        source=source, message_id=f"{profile.pk}-{name}-{at.timestamp()}", type="track", name=name,
        profile=profile, timestamp=at, received_at=at, processed_at=at,
    )  # fmt: skip


def test_lifecycle_journey_replays_history_and_loading_twice_changes_nothing():
    assert definition_validate(LIFECYCLE, check_references=False).ok
    now = timezone.now()
    buyer, lapsed, fresh = profile_add(), profile_add(), profile_add()
    stored_event(buyer, "Signed Up", now - timedelta(days=20))
    stored_event(buyer, "Order Completed", now - timedelta(days=19))
    stored_event(lapsed, "Signed Up", now - timedelta(days=200))
    stored_event(fresh, "Signed Up", now - timedelta(hours=1))
    out = StringIO()
    load_demo(stdout=out)
    load_demo(stdout=out)
    stages = {r.profile_id: r.stage_key for r in Run.objects.all()}
    assert stages[buyer.pk] == "engaged"
    assert stages[lapsed.pk] == "lost"  # new → churned (14 days) → lost (60 days)
    assert stages[fresh.pk] == "new"
    assert Run.objects.count() == 3
    # The goal (an order within 30 days) is attributed while catching up, too.
    assert Run.objects.get(profile=buyer).converted_at == now - timedelta(days=19)
    assert Run.objects.get(profile=lapsed).converted_at is None
    assert "3 shoppers enrolled" in out.getvalue()
