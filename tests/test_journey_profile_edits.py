"""Journeys change profiles through tracking's profiles_edit: trait times are stamped at the engine's
clock in tracking's one format, so `run_due --now` and later identify calls agree on which is newer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeys.testing import event_emit, journey_live, run_due
from tracking import signals
from tracking.ingest import ingest_messages
from tracking.models import Identity, Profile, Source
from tracking.processing import events_process_pending
from tracking.services.profiles import profiles_edit, trait_time

pytestmark = pytest.mark.django_db
# Years after the wall clock: `run_due --now` simulates it; a wall-clock stamp would be years older.
T0 = datetime(2035, 6, 1, 9, 0, 0, tzinfo=UTC)


def identify(source: Source, at: datetime, **traits) -> None:
    message = {"type": "identify", "userId": "u-1", "traits": traits, "timestamp": at.isoformat()}
    result = ingest_messages([message], source=source, received_at=at)
    assert not result.rejected, result.rejected
    events_process_pending()


def test_run_due_now_stamps_journey_traits_at_the_simulated_time_and_newest_still_wins(source):
    identify(source, T0 - timedelta(days=1), plan="free")
    profile = Identity.objects.get(value="u-1").profile
    journey_live(
        {
            "slug": "upgrade",
            "name": "Upgrade",
            "entry": {"event": "Paid"},
            "stages": [
                {"key": "wait", "transitions": [{"to": "gold", "after": {"days": 1}}]},
                {"key": "gold", "actions": [{"set_trait": {"plan": "gold", "perks.lounge": True}},
                                            {"tag": {"add": "gold"}}],
                 "transitions": [{"to": "done", "after": {"days": 1}}]},
                {"key": "done", "exit": True},
            ],
        }
    )  # fmt: skip
    event_emit(profile=profile, name="Paid", at=T0)
    run_due(T0 + timedelta(days=1, hours=1))
    profile.refresh_from_db()
    assert profile.traits["plan"] == "gold" and profile.traits["perks"] == {"lounge": True}
    assert profile.tags == ["gold"]
    # Stamped at the engine's clock (--now), in tracking's one format (UTC, microseconds).
    assert profile.trait_updated_at["plan"] == "2035-06-02T10:00:00.000000+00:00"
    assert profile.trait_updated_at["perks"] == trait_time(T0 + timedelta(days=1, hours=1))
    # An identify from before the journey's edit arrives late: the journey's newer value stays.
    identify(source, T0 + timedelta(hours=12), plan="silver")
    profile.refresh_from_db()
    assert profile.traits["plan"] == "gold"
    # One from after it wins.
    identify(source, T0 + timedelta(days=2), plan="platinum")
    profile.refresh_from_db()
    assert profile.traits["plan"] == "platinum"


def test_profiles_edit_keeps_newer_identify_values_announces_once_and_refuses_unknown_edits(
    django_capture_on_commit_callbacks,
):
    newer = trait_time(T0 + timedelta(hours=1))
    p = Profile.objects.create(traits={"plan": "pro"}, trait_updated_at={"plan": newer}, tags=["a"])
    q = Profile.objects.create()
    heard: list[list[int]] = []

    def receiver(sender, profile_ids, **kwargs):
        heard.append(sorted(profile_ids))

    signals.profile_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            changed = profiles_edit(
                edits={
                    p.pk: [("trait_set", ("plan", "free")), ("tag_remove", "a"), ("tag_add", "b")],
                    q.pk: [("trait_set", ("timezone", "Europe/Berlin"))],
                    987654321: [("tag_add", "x")],  # erased meanwhile: skipped
                },
                at=T0,
            )
    finally:
        signals.profile_changed.disconnect(receiver)
    assert sorted(changed) == sorted([p.pk, q.pk]) and heard == [sorted([p.pk, q.pk])]
    p.refresh_from_db()
    q.refresh_from_db()
    assert p.traits == {"plan": "pro"} and p.trait_updated_at == {"plan": newer} and p.tags == ["b"]
    assert q.traits == {"timezone": "Europe/Berlin"} and q.timezone == "Europe/Berlin"
    assert q.trait_updated_at == {"timezone": "2035-06-01T09:00:00.000000+00:00"}
    with pytest.raises(ValueError, match="unknown profile edit 'trait'"):
        profiles_edit(edits={q.pk: [("trait", ("a", 1))]}, at=T0)
