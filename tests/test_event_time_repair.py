"""Events stored with times Python cannot read, before ingestion refused them (issue 11), are repaired
by tracking migration 0008: they take the time Voyage received them, keep the sender's values as
text, become readable (admin, API) and go back to the processor, which now handles them."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from core.models import SetAside, SetAsideState
from tests.test_set_aside import _poison_event, _raw_event, _track
from tracking.models import Event
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db

REPAIR = importlib.import_module("tracking.migrations.0008_events_unreadable_times_repaired").REPAIR


def test_unreadable_event_times_are_repaired_and_the_set_aside_events_processed(source):
    _track(source, "fine")
    past = _poison_event(source)
    future = _poison_event(source, timestamp="10000-01-01 00:00:00+00")
    early_but_readable = _raw_event(source, "early", "1969-07-20 20:17:00+00")
    assert events_process_pending().events == 2  # "fine" and the 1969 one (readable, so processed)
    assert {r.row_id for r in SetAside.objects.filter(state=SetAsideState.SET_ASIDE)} == {past, future}

    with connection.cursor() as cur:
        cur.execute(REPAIR)

    for pk, refused in ((past, "0001-12-31"), (future, "10000-01-01")):
        event = Event.objects.get(pk=pk)  # readable again
        assert event.timestamp == event.received_at and event.set_aside_at is None
        assert refused in event.context["voyage_refused_times"]["timestamp"]
    assert (
        Event.objects.get(pk=early_but_readable)
        .context["voyage_refused_times"]["timestamp"]
        .startswith("1969")
    )
    assert not SetAside.objects.filter(state=SetAsideState.SET_ASIDE).exists()
    assert events_process_pending().events == 2
    assert not Event.objects.filter(processed_at__isnull=True).exists()
    assert Event.objects.get(pk=_fine_pk()).context.get("voyage_refused_times") is None


def _fine_pk() -> int:
    return Event.objects.get(user_id="fine").pk
