"""Cron expressions and local wall-clock times, evaluated in any IANA zone, DST-correct.

Celery's own crontab parser reads the five fields; occurrences are enumerated per local calendar day so
a window of days costs days x fire-times, not minutes. A fire time that does not exist locally (spring
forward) happens at the shifted instant zoneinfo gives it; a repeated one (fall back) fires once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import ParseException, crontab_parser
from django.conf import settings


@dataclass(frozen=True)
class CronSpec:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday, as in cron
    dom_restricted: bool
    dow_restricted: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days_of_month
        dow_ok = (day.isoweekday() % 7) in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return dom_ok or dow_ok  # cron's rule: either field may match when both are given
        return dom_ok and dow_ok


def cron_parse(expr: object) -> CronSpec:
    if not isinstance(expr, str) or len(expr.split()) != 5:
        raise ValueError('must be a cron expression with five fields, e.g. "0 10 * * 1"')
    minute, hour, dom, month, dow = expr.split()
    try:
        days_of_week = {d % 7 for d in crontab_parser(8).parse(dow)}  # 7 is Sunday too
        return CronSpec(
            minutes=tuple(sorted(crontab_parser(60).parse(minute))),
            hours=tuple(sorted(crontab_parser(24).parse(hour))),
            days_of_month=frozenset(crontab_parser(31, 1).parse(dom)),
            months=frozenset(crontab_parser(12, 1).parse(month)),
            days_of_week=frozenset(days_of_week),
            dom_restricted=dom != "*",
            dow_restricted=dow != "*",
        )
    except (ParseException, ValueError) as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}")


def cron_occurrences(spec: CronSpec, *, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Fire times in (after, until], as aware UTC datetimes, with the wall clock read in `zone`."""
    found: list[datetime] = []
    day = after.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        if spec.day_matches(day):
            for h in spec.hours:
                for m in spec.minutes:
                    at = datetime.combine(day, time(h, m), tzinfo=zone).astimezone(UTC)
                    if after < at <= until:
                        found.append(at)
        day += timedelta(days=1)
    return sorted(set(found))


def zone_for(name: str | None) -> ZoneInfo:
    """A profile's zone; the workspace default when it has none or an unknown one."""
    default = getattr(settings, "JOURNEYS_DEFAULT_TIMEZONE", settings.TIME_ZONE)
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ValueError, KeyError, OSError):
                continue
    return ZoneInfo("UTC")


def local_time_parse(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def after_due(*, entered_at: datetime, after: dict, zone: ZoneInfo) -> datetime:
    """When an "after" transition fires for a stage entered at `entered_at`.

    Days are local calendar days (09:00 stays 09:00 across a DST change); hours and minutes are
    elapsed time. With "at", the wait ends at that local wall-clock time: for days, on the local date
    `days` after entry (the following day if that moment is not after entry); for hours/minutes, at
    the first such time not before entry + the delay.
    """
    days = after.get("days", 0)
    elapsed = timedelta(hours=after.get("hours", 0), minutes=after.get("minutes", 0))
    local = entered_at.astimezone(zone)
    if "at" not in after:
        target = datetime.combine(local.date() + timedelta(days=days), local.timetz().replace(tzinfo=None))
        return (target.replace(tzinfo=zone).astimezone(UTC) if days else entered_at) + elapsed
    at = local_time_parse(after["at"])
    if days and not elapsed:
        candidate = datetime.combine(local.date() + timedelta(days=days), at, tzinfo=zone).astimezone(UTC)
        if candidate <= entered_at:
            candidate = datetime.combine(local.date() + timedelta(days=days + 1), at, tzinfo=zone).astimezone(
                UTC
            )
        return candidate
    earliest = (
        datetime.combine(
            local.date() + timedelta(days=days), local.timetz().replace(tzinfo=None), tzinfo=zone
        ).astimezone(UTC)
        + elapsed
    )
    earliest_local = earliest.astimezone(zone)
    candidate = datetime.combine(earliest_local.date(), at, tzinfo=zone).astimezone(UTC)
    if candidate < earliest:
        candidate = datetime.combine(earliest_local.date() + timedelta(days=1), at, tzinfo=zone).astimezone(
            UTC
        )
    return candidate
