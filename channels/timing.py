"""Time in the recipient's own zone: local send times, quiet hours and calendar-day windows (DST-correct)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings


def zone_of(tz_name: str | None) -> ZoneInfo:
    for name in (tz_name, settings.CHANNELS_DEFAULT_TIME_ZONE, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_hhmm(value: str) -> time:
    """'10:00' → time(10, 0); raises ValueError naming the value."""
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError):
        raise ValueError(f"{value!r} is not a time of day as HH:MM")


def _localize(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant `day at` in `zone` (UTC). Per PEP 495, fold=0 gives the first of two repeated wall
    times in autumn, and for a wall time skipped in spring the instant just after the gap (02:30 → 03:30)."""
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def next_local_time(*, local: time, tz_name: str | None, after: datetime) -> datetime:
    """The first instant at or after `after` whose wall-clock time in the zone is `local` (UTC result)."""
    zone = zone_of(tz_name)
    day = after.astimezone(zone).date()
    for offset in range(0, 3):
        candidate = _localize(day + timedelta(days=offset), local, zone)
        if candidate >= after:
            return candidate
    raise AssertionError("unreachable: a local time recurs every day")


def quiet_hours_end(*, start: time, end: time, tz_name: str | None, at: datetime) -> datetime | None:
    """If `at` falls in the daily quiet window [start, end) of the zone, the UTC instant it ends."""
    zone = zone_of(tz_name)
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        inside = start <= now < end
        end_day = local.date()
    else:  # the window spans midnight, e.g. 21:00–08:00
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return _localize(end_day, end, zone)


def calendar_window_start(*, days: int, tz_name: str | None, at: datetime) -> datetime:
    """Start (UTC) of the last `days` calendar days in the zone, today included: midnight days-1 ago."""
    zone = zone_of(tz_name)
    today = at.astimezone(zone).date()
    return _localize(today - timedelta(days=max(days, 1) - 1), time(0, 0), zone)
