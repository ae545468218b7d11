"""run_due --now walks journeys through days; "after" waits are exact across zones and DST changes."""

from datetime import UTC, datetime

import pytest

from journeys.models import Run, RunStatus
from journeys.testing import event_emit, journey_live, profile_add, run_due

pytestmark = pytest.mark.django_db


def T(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC) if "+" not in s else datetime.fromisoformat(s)


def at_ten_journey():
    return journey_live(
        {
            "slug": "ten-am",
            "name": "Next day at ten",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "welcome", "actions": [{"tag": {"add": "welcomed"}}],
                 "transitions": [{"to": "nudge", "after": {"days": 1, "at": "10:00"}}]},
                {"key": "nudge", "actions": [{"tag": {"add": "nudged"}}],
                 "transitions": [{"to": "done", "after": {"hours": 2}}]},
                {"key": "done", "exit": True},
            ],
        }
    )  # fmt: skip


def stage_of(profile):
    return Run.objects.get(profile=profile).stage_key


def test_at_ten_local_time_across_the_spring_dst_change_in_each_zone():
    at_ten_journey()
    berlin = profile_add(timezone="Europe/Berlin")
    new_york = profile_add(timezone="America/New_York")
    tokyo = profile_add(timezone="Asia/Tokyo")
    signed_up = T("2030-03-30T20:00:00")  # Berlin 21:00 CET, the night before clocks go forward
    for p in (berlin, new_york, tokyo):
        event_emit(profile=p, name="Signed Up", at=signed_up)

    run_due(signed_up)
    assert {stage_of(p) for p in (berlin, new_york, tokyo)} == {"welcome"}
    assert set(berlin.__class__.objects.get(pk=berlin.pk).tags) == {"welcomed"}

    # Tokyo: entered 05:00 JST on the 31st → 10:00 JST on 1 April = 01:00Z.
    # Berlin: 10:00 CEST (UTC+2, DST began at 01:00Z on the 31st) = 08:00Z, not 09:00Z.
    # New York (already on EDT): 10:00 EDT on the 31st = 14:00Z.
    run_due(T("2030-03-31T07:59:00"))
    assert stage_of(berlin) == "welcome"
    run_due(T("2030-03-31T08:00:00"))
    assert stage_of(berlin) == "nudge"
    assert stage_of(new_york) == "welcome"
    step = Run.objects.get(profile=berlin).steps.get(stage_key="nudge")
    assert step.at == T("2030-03-31T08:00:00") and step.reason == "after"

    run_due(T("2030-03-31T14:00:00"))
    assert stage_of(new_york) == "nudge"
    assert stage_of(tokyo) == "welcome"
    assert Run.objects.get(profile=berlin).status == RunStatus.COMPLETED  # 08:00 + 2h passed

    run_due(T("2030-04-01T01:00:00"))
    assert stage_of(tokyo) == "nudge"
    assert Run.objects.get(profile=tokyo).steps.get(stage_key="nudge").at == T("2030-04-01T01:00:00")


def test_a_day_is_a_local_calendar_day_across_dst_and_hours_are_elapsed_time():
    journey_live(
        {
            "slug": "day-later",
            "name": "Day later",
            "entry": {"event": "Signed Up"},
            "stages": [
                {"key": "a", "transitions": [{"to": "b", "after": {"days": 1}}]},
                {"key": "b", "transitions": [{"to": "c", "after": {"hours": 24}}]},
                {"key": "c", "exit": True},
            ],
        }
    )
    berlin = profile_add(timezone="Europe/Berlin")
    event_emit(profile=berlin, name="Signed Up", at=T("2030-03-30T07:00:00"))  # 08:00 CET
    run_due(T("2030-04-05T00:00:00"))  # catch up several days in one call
    steps = {s.stage_key: s.at for s in Run.objects.get(profile=berlin).steps.all()}
    assert steps["b"] == T("2030-03-31T06:00:00")  # 08:00 CEST: 23 hours later
    assert steps["c"] == T("2030-04-01T06:00:00")  # 24 elapsed hours later


def test_at_time_in_autumn_dst_change_and_for_profiles_without_a_zone(settings):
    settings.JOURNEYS_DEFAULT_TIMEZONE = "America/Sao_Paulo"
    at_ten_journey()
    berlin = profile_add(timezone="Europe/Berlin")
    nowhere = profile_add()  # falls back to the workspace default zone
    entered = T("2030-10-26T12:00:00")  # Berlin CEST; clocks go back on the 27th
    for p in (berlin, nowhere):
        event_emit(profile=p, name="Signed Up", at=entered)
    run_due(T("2030-10-28T00:00:00"))
    by_profile = {p: Run.objects.get(profile=p).steps.get(stage_key="nudge").at for p in (berlin, nowhere)}
    assert by_profile[berlin] == T("2030-10-27T09:00:00")  # 10:00 CET (UTC+1)
    assert by_profile[nowhere] == T("2030-10-27T13:00:00")  # 10:00 in São Paulo (UTC-3)


def test_run_due_refuses_a_bad_now():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--now"):
        call_command("run_due", now="yesterday")
    with pytest.raises(CommandError, match="UTC offset"):
        call_command("run_due", now="2030-01-01T10:00:00")
