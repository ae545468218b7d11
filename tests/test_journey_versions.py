"""Publishing freezes a version; runs stay on their version; a new version can migrate runs by mapping."""

from datetime import UTC, datetime, timedelta

import pytest

from journeys.definition import DefinitionInvalid
from journeys.models import Run, RunStatus
from journeys.services.versions import (
    VersionFrozen,
    draft_create,
    journey_archive,
    version_publish,
    version_update,
)
from journeys.testing import event_emit, journey_live, profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2034, 6, 1, 8, 0, tzinfo=UTC)


def v1():
    return {
        "slug": "nurture",
        "name": "Nurture",
        "entry": {"event": "Signed Up"},
        "reentry": "after_exit",
        "stages": [
            {"key": "intro", "transitions": [{"to": "tips", "after": {"days": 1}}]},
            {"key": "tips", "transitions": [{"to": "end", "after": {"days": 1}}]},
            {"key": "end", "exit": True},
        ],
    }


def test_published_versions_are_frozen_and_runs_stay_on_their_version():
    journey = journey_live(v1(), now=T0)
    first = journey.live_version
    with pytest.raises(VersionFrozen):
        version_update(version=first, definition={**v1(), "name": "changed"})
    early = profile_add()
    event_emit(profile=early, name="Signed Up", at=T0)
    run_due(T0)

    d2 = v1()
    d2["stages"][1]["transitions"][0]["after"] = {"days": 5}
    draft = draft_create(journey=journey, definition=d2)
    version_publish(version=draft, now=T0 + timedelta(hours=1))
    late = profile_add()
    event_emit(profile=late, name="Signed Up", at=T0 + timedelta(hours=2))
    run_due(T0 + timedelta(days=3))
    assert Run.objects.get(profile=early).version == first
    assert Run.objects.get(profile=early).status == RunStatus.COMPLETED  # v1 timing: 2 days
    assert Run.objects.get(profile=late).version == draft
    assert Run.objects.get(profile=late).stage_key == "tips"  # v2 timing: 5 more days


def test_a_new_version_migrates_runs_with_an_explicit_stage_mapping():
    journey = journey_live(v1(), now=T0)
    p = profile_add()
    event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0 + timedelta(days=1))
    assert Run.objects.get(profile=p).stage_key == "tips"

    d2 = v1()
    d2["stages"] = [
        {"key": "intro", "transitions": [{"to": "advice", "after": {"days": 1}}]},
        {
            "key": "advice",
            "actions": [{"tag": {"add": "advised"}}],
            "transitions": [{"to": "end", "after": {"days": 3}}],
        },
        {"key": "end", "exit": True},
    ]
    draft = draft_create(journey=journey, definition=d2)
    with pytest.raises(DefinitionInvalid, match="migrate.tips"):
        version_publish(version=draft, migrate={"tips": "no-such-stage"}, now=T0 + timedelta(days=1, hours=1))
    version_publish(version=draft, migrate={"tips": "advice"}, now=T0 + timedelta(days=1, hours=1))
    run = Run.objects.get(profile=p)
    assert (run.version_id, run.stage_key) == (draft.pk, "advice")
    assert run.steps.last().reason == "migrated to version 2"
    run_due(T0 + timedelta(days=3))
    assert Run.objects.get(profile=p).status == RunStatus.ACTIVE  # new timing: 3 days in "advice"
    run_due(T0 + timedelta(days=4, hours=2))
    assert Run.objects.get(profile=p).status == RunStatus.COMPLETED


def test_archiving_exits_active_runs_and_stops_entries():
    journey = journey_live(v1(), now=T0)
    p = profile_add()
    event_emit(profile=p, name="Signed Up", at=T0)
    journey_archive(journey=journey, now=T0 + timedelta(hours=1))
    run = Run.objects.get(profile=p)
    assert (run.status, run.end_reason) == (RunStatus.EXITED, "journey archived")
    event_emit(profile=profile_add(), name="Signed Up", at=T0 + timedelta(hours=2))
    assert Run.objects.count() == 1
