"""The daily rollup (one row per zone, local day and creative) against the raw recompute where days
are hardest: a workspace zone that changes its offset inside the range (DST), profiles in half-hour
and DST zones, a cutoff in the middle of a local day (the partial edge day is completed by the raw
tail), and facts that change under the rollup between rebuilds — a profile merge, a newer ECB file —
which mark days dirty and are refolded without waiting for the hourly rebuild."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import TestCase

from tests.test_analytics_attribution import order, page
from tests.test_analytics_rollup import DAYS, HIST, ORIGINS, START, _assert_equal, _plain, _shop
from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.attribution import attribution_refresh
from tracking.analytics.acquisition.figures import acquisition_figures
from tracking.analytics.acquisition.rollup import acquisition_rollup_rebuild, acquisition_rollup_refold
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.money import fx_rates_load
from tracking.models import Profile
from tracking.services.profiles import profile_merge

pytestmark = pytest.mark.django_db

# US daylight saving time starts on Sunday 2026-03-08 (02:00 local): New York is UTC−5 before, UTC−4 after.
DST_RANGE = {"start": date(2026, 3, 5), "end": date(2026, 3, 10)}
PROFILE_ZONES = (
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/New_York",
    "Pacific/Kiritimati",
    "",
    "Not/AZone",
)


def _profile_zones() -> None:
    for n, profile in enumerate(Profile.objects.order_by("id")):
        profile.timezone = PROFILE_ZONES[n % len(PROFILE_ZONES)]
        profile.save(update_fields=["timezone"])


def _rollup_rows(zone: str, day: date) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM analytics_acquisitionday WHERE zone = %s AND day = %s", [zone, day]
        )
        return cursor.fetchone()[0]


def test_dst_zone_with_partial_edge_days_equals_the_raw_recompute(source, tmp_path, settings):
    _shop(source, tmp_path, settings, tz="America/New_York")
    _profile_zones()
    # Cut at 2026-03-09 15:25 UTC (11:25 in New York): that local day is half in the rollup, half in the tail.
    cut = datetime(2026, 3, 9, 15, 25, tzinfo=UTC)
    state = acquisition_rollup_rebuild(now=cut)
    assert state.workspace_zone == "America/New_York"
    assert _rollup_rows("workspace", date(2026, 3, 9)) > 0  # the partial edge day is folded up to the cutoff
    for zone in ("utc", "workspace", "profile"):
        for level in ("day", "creative"):
            for model in ("last", "position"):
                raw = _assert_equal(level=level, model=model, zone=zone, **DST_RANGE)
        assert raw.total.sessions and raw.total.orders and raw.total.new_customers, zone
    # Ranges that begin or end on the cutoff's own day, and one within the DST switch day only.
    for start, end in ((date(2026, 3, 9), date(2026, 3, 12)), (date(2026, 3, 3), date(2026, 3, 9))):
        _assert_equal(level="day", zone="workspace", start=start, end=end)
        _assert_equal(level="channel", zone="profile", start=start, end=end)
    _assert_equal(level="creative", zone="workspace", start=date(2026, 3, 8), end=date(2026, 3, 8))
    # The workspace day of the DST switch has 23 hours: it is not the UTC day.
    utc = acquisition_figures(level="day", zone="utc", source="raw", **DST_RANGE)
    local = acquisition_figures(level="day", zone="workspace", source="raw", **DST_RANGE)
    assert [(r.day, r.sessions) for r in utc.rows] != [(r.day, r.sessions) for r in local.rows]


def test_a_profile_merge_refolds_its_days_without_a_rebuild(source, tmp_path, settings):
    _shop(source, tmp_path, settings)
    # Two profiles of one person: an ad click on one device, an order a day later on another.
    click = START + timedelta(days=3, hours=5)
    ingest(
        source,
        page("phone", click, query=ORIGINS[2]),
        page("laptop", click + timedelta(days=1), query=ORIGINS[0]),
        order("laptop", click + timedelta(days=1, hours=2), 80, "EUR"),
    )
    touches_extract(since=START, until=START + timedelta(days=DAYS + 5))
    attribution_refresh()
    acquisition_rollup_rebuild(now=START + timedelta(days=DAYS + 6))
    before = acquisition_figures(level="creative", model="first", **_range())
    phone = Profile.objects.get(identities__value="phone")
    laptop = Profile.objects.get(identities__value="laptop")
    with TestCase.captureOnCommitCallbacks(execute=True):
        profile_merge(survivor=laptop, merged=phone, reason="test")
    after = _assert_equal(level="creative", model="first", **_range())
    # One new profile fewer, and the order's first-touch credit moved from the Google ad to the reel.
    assert after.total.new_profiles == before.total.new_profiles - 1
    revenue = {r.creative: r.revenue for r in after.rows}
    old = {r.creative: r.revenue for r in before.rows}
    assert revenue["reel-1"] == old["reel-1"] + 80 and revenue["ad-a"] == old["ad-a"] - 80
    _assert_equal(level="day", model="linear", zone="profile", **_range())


def test_a_newer_ecb_file_refolds_the_days_it_changes(source, tmp_path, settings):
    _shop(source, tmp_path, settings)
    acquisition_rollup_rebuild(now=START + timedelta(days=DAYS + 6))
    before = acquisition_figures(level="day", **_range())
    # The newer file revises the USD rate of 2026-03-05.
    newer = tmp_path / "newer.csv"
    newer.write_text(HIST.replace("2026-03-05,1.1500", "2026-03-05,1.3000"))
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        fx_rates_load(path=newer)
    # Marked but not yet refolded: a range touching those days is computed raw, never stale.
    assert acquisition_figures(level="day", **_range()).source == "raw"
    far = {"start": date(2026, 4, 20), "end": date(2026, 4, 30)}
    assert acquisition_figures(level="day", **far).source == "rollup"
    assert callbacks  # the refold is woken after commit
    assert sorted(acquisition_rollup_refold())[-1] == date(2026, 3, 5)
    after = _assert_equal(level="day", **_range())
    changed = {r.day for r, b in zip(after.rows, before.rows, strict=True) if r.as_dict() != b.as_dict()}
    assert date(2026, 3, 5) in changed
    # Loading the same file again changes no rate: nothing is marked.
    with TestCase.captureOnCommitCallbacks(execute=True):
        fx_rates_load(path=newer)
    assert acquisition_rollup_refold() == []
    assert _plain(acquisition_figures(level="day", **_range())) == _plain(after)


def _range() -> dict:
    return {"start": date(2026, 3, 1), "end": date(2026, 3, 16)}
