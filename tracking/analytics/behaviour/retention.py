"""Retention: of the people who did a start event in a period, how many did a return event 1, 2, … periods later.

Definition:

    {"start": {"event": NAME, "where": [...]}, "return": {"event": NAME, "where": [...]},
     "mode": "first_time" | "recurring", "period": "day" | "week" | "month", "periods": 2 … 36,
     "breakdown": [{"kind": "channel"} | {"kind": "country"} | {"kind": "trait", "key": K} | {"kind": "property", "key": K}],
     "date_from": …, "date_to": …, "tz": "utc" | "workspace" | "local"}

- Periods are calendar days, ISO weeks (Monday) or months in the chosen zone (each profile's own zone
  in local mode; an unknown or missing zone reads as the workspace's).
- first_time: a profile's cohort is the period of its first start event ever (kept when that period is
  inside the date range); recurring: every period in the range in which it did the start event.
- Column 0 is the cohort's size; column k counts cohort members with a return event in period
  cohort + k. A column whose period has not begun yet (at `now`, in the workspace zone) is empty
  (None), not 0, and is left out of the curve.
- Breakdown values come from the profile (acquisition channel = its first touch's channel, country,
  trait) or from the cohort's first start
  event (property).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from tracking.analytics.behaviour.common import (
    PROFILE_KINDS,
    AnalysisInvalid,
    DateRange,
    analysis_cursor,
    breakdown_parse,
    breakdown_sql,
    dim_label,
    event_filter_sql,
    event_name_parse,
    range_parse,
    spec_event_names,
    tz_parse,
    where_parse,
)

PERIODS = ("day", "week", "month")
MODES = ("first_time", "recurring")
EPOCH = date(2000, 1, 3)  # a Monday: weeks are numbered from it


@dataclass(frozen=True)
class EventSpec:
    event: str
    where: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RetentionDefinition:
    start: EventSpec
    ret: EventSpec
    mode: str
    period: str
    periods: int
    breakdown: list[dict[str, Any]]
    range: DateRange


def _spec(raw: Any, path: str, errors: list[tuple[str, str]]) -> EventSpec:
    if not isinstance(raw, dict):
        errors.append((path, 'must be an object like {"event": NAME, "where": [...]}'))
        return EventSpec("")
    errors += [(f"{path}.{k}", "unknown key") for k in raw if k not in ("event", "where")]
    return EventSpec(
        event_name_parse(raw.get("event"), f"{path}.event", errors),
        where_parse(raw.get("where"), f"{path}.where", errors),
    )


def retention_parse(raw: Any) -> RetentionDefinition:
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        raise AnalysisInvalid([("", "must be an object with start, return, date_from and date_to")])
    known = {"start", "return", "mode", "period", "periods", "breakdown", "date_from", "date_to", "tz"}
    errors += [(str(k), "unknown key") for k in raw if k not in known]
    start = _spec(raw.get("start"), "start", errors)
    ret = _spec(raw.get("return"), "return", errors)
    mode = raw.get("mode") or "first_time"
    if mode not in MODES:
        errors.append(("mode", "must be one of: " + ", ".join(MODES)))
    period = raw.get("period") or "week"
    if period not in PERIODS:
        errors.append(("period", "must be one of: " + ", ".join(PERIODS)))
    periods = raw.get("periods", 12)
    if isinstance(periods, bool) or not isinstance(periods, int) or not 2 <= periods <= 36:
        errors.append(("periods", "must be a whole number from 2 to 36"))
    breakdown = breakdown_parse(
        raw.get("breakdown"), errors, allowed=("channel", "country", "trait", "property")
    )
    tz = tz_parse(raw.get("tz"), errors)
    rng = range_parse(raw, errors, tz=tz)
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return RetentionDefinition(start, ret, mode, period, periods, breakdown, rng)


def period_no(day: date, period: str) -> int:
    if period == "day":
        return (day - EPOCH).days
    if period == "week":
        return (day - EPOCH).days // 7
    return day.year * 12 + day.month - 1


def period_start(no: int, period: str) -> date:
    if period == "day":
        return EPOCH + timedelta(days=no)
    if period == "week":
        return EPOCH + timedelta(days=7 * no)
    return date(no // 12, no % 12 + 1, 1)


def _span(period: str, periods: int) -> timedelta:
    return timedelta(days={"day": 1, "week": 7, "month": 31}[period] * (periods + 1))


def _bounds_cte(definition: RetentionDefinition) -> tuple[str, list[Any]]:
    """`_pb(name, bounds)`: per zone, the UTC instants at which the periods from the range's first
    to `periods` past its last begin (one row named '' for the workspace zone, and in local mode one
    per known zone). An event's period is then a binary search of its timestamp in its zone's
    array (`width_bucket`), instead of a zone conversion per event."""
    d = definition
    lo_no, hi_no = period_no(d.range.date_from, d.period), period_no(d.range.date_to, d.period)
    starts = [period_start(no, d.period) for no in range(lo_no, hi_no + d.periods + 1)]
    zone = "UTC" if d.range.tz == "utc" else settings.TIME_ZONE
    one = "SELECT %s::text AS name, %s::text AS zone"
    params: list[Any] = ["", zone]
    if d.range.tz == "local":
        one += " UNION ALL SELECT name, name FROM pg_timezone_names"
    sql = (
        "_pb AS MATERIALIZED (SELECT z.name, array_agg((day::timestamp AT TIME ZONE z.zone) ORDER BY day) AS bounds "
        f"FROM ({one}) z CROSS JOIN unnest(%s::date[]) day GROUP BY z.name)"
    )
    return sql, [*params, starts]


def retention_compute(*, definition: RetentionDefinition, now: datetime | None = None) -> dict[str, Any]:
    d = definition
    rng = d.range
    now = now or timezone.now()
    lo, hi = rng.utc_bounds()
    local = rng.tz == "local"
    bcols = [f"b{i}" for i in range(1, len(d.breakdown) + 1)]
    ev_dims = [
        (b, dim) for b, dim in zip(bcols, d.breakdown, strict=True) if dim["kind"] not in PROFILE_KINDS
    ]
    p_dims = [(b, dim) for b, dim in zip(bcols, d.breakdown, strict=True) if dim["kind"] in PROFILE_KINDS]
    lo_no, hi_no = period_no(rng.date_from, d.period), period_no(rng.date_to, d.period)
    cohorts_n = hi_no - lo_no + 1
    start_sql, start_params = event_filter_sql(names=spec_event_names(d.start.event), where=d.start.where)
    ret_sql, ret_params = event_filter_sql(names=spec_event_names(d.ret.event), where=d.ret.where)
    pb_cte, params = _bounds_cte(d)
    # A profile's period bounds: its own zone's (local mode; unknown or none → the workspace's), else the one zone's.
    default_bounds = "(SELECT bounds FROM _pb WHERE name = '')"
    if local:
        pjoin = " JOIN tracking_profile p ON p.id = {pid} LEFT JOIN _pb zb ON zb.name = p.timezone"
        bounds = f"COALESCE(zb.bounds, {default_bounds})"
    else:
        pjoin = " JOIN tracking_profile p ON p.id = {pid}" if p_dims else ""
        bounds = default_bounds
    ev_sel = "".join(f", {breakdown_sql(dim)} AS {b}" for b, dim in ev_dims)
    p_sel = "".join(f", {breakdown_sql(dim)} AS {b}" for b, dim in p_dims)
    if d.mode == "first_time":
        # The first start event ever (no lower bound): one per profile, then its period, zone and
        # profile breakdowns once per profile.
        if ev_dims:
            first = (
                f"SELECT DISTINCT ON (e.profile_id) e.profile_id AS pid, e.timestamp AS ts{ev_sel} "
                f"FROM tracking_event e WHERE e.profile_id IS NOT NULL AND {start_sql} AND e.timestamp < %s "
                "ORDER BY e.profile_id, e.timestamp, e.id"
            )
        else:
            first = (
                "SELECT e.profile_id AS pid, min(e.timestamp) AS ts FROM tracking_event e "
                f"WHERE e.profile_id IS NOT NULL AND {start_sql} AND e.timestamp < %s GROUP BY e.profile_id"
            )
        params += [*start_params, hi]
        cohort = (
            f"cohort AS MATERIALIZED (SELECT * FROM (SELECT f.pid, width_bucket(f.ts, {bounds}) AS c"
            f"{''.join(f', f.{b}' for b, _ in ev_dims)}{p_sel} FROM ({first}) f{pjoin.format(pid='f.pid')}) q "
            "WHERE c BETWEEN 1 AND %s)"
        )
    else:
        # Every period of the range with a start event; breakdowns read from the event come from
        # that period's first one.
        starts = (
            f"SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid, width_bucket(e.timestamp, {bounds}) AS c"
            f"{ev_sel}{p_sel} FROM tracking_event e{pjoin.format(pid='e.profile_id')} "
            f"WHERE e.profile_id IS NOT NULL AND {start_sql} AND e.timestamp >= %s AND e.timestamp < %s"
        )
        params += [*start_params, lo, hi]
        keys_all = "".join(f", {b}" for b in bcols)
        cohort = (
            f"cohort AS MATERIALIZED (SELECT DISTINCT ON (pid, c) pid, c{keys_all} FROM ({starts}) s "
            "WHERE c BETWEEN 1 AND %s ORDER BY pid, c, ts, eid)"
        )
    params.append(cohorts_n)
    r_bounds = bounds if local else default_bounds
    r_join = pjoin.format(pid="e.profile_id") if local else ""
    r_cte = (
        f"r AS (SELECT DISTINCT e.profile_id AS pid, width_bucket(e.timestamp, {r_bounds}) AS rp "
        f"FROM tracking_event e{r_join} WHERE e.profile_id IS NOT NULL AND {ret_sql} "
        "AND e.timestamp >= %s AND e.timestamp < %s AND e.profile_id IN (SELECT pid FROM cohort))"
    )
    params += [*ret_params, lo, hi + _span(d.period, d.periods)]
    keys = "c" + "".join(f", {b}" for b in bcols)
    sql = (
        f"WITH {pb_cte}, {cohort}, {r_cte} "
        f"SELECT {keys}, 0 AS k, count(*) FROM cohort GROUP BY {keys} "
        f"UNION ALL SELECT {keys}, r.rp - c AS k, count(*) FROM cohort JOIN r USING (pid) "
        f"WHERE r.rp - c BETWEEN 1 AND %s GROUP BY {keys}, r.rp - c"
    )
    params.append(d.periods - 1)
    with analysis_cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    now_zone = ZoneInfo("UTC" if rng.tz == "utc" else settings.TIME_ZONE)
    now_no = period_no(now.astimezone(now_zone).date(), d.period)
    table: dict[tuple, dict[int, int]] = {}
    for row in rows:
        c, values, k, n = lo_no + row[0] - 1, tuple(row[1 : 1 + len(bcols)]), row[-2], row[-1]
        table.setdefault((c, values), {})[k] = n
    cohorts = []
    curve_num = [0] * d.periods
    curve_den = [0] * d.periods
    for (c, values), cells in sorted(table.items(), key=lambda kv: (kv[0][0], [str(v) for v in kv[0][1]])):
        size = cells.get(0, 0)
        row_cells = []
        for k in range(d.periods):
            if c + k > now_no:
                row_cells.append({"k": k, "count": None, "rate": None})
                continue
            count = size if k == 0 else cells.get(k, 0)
            curve_num[k] += count
            curve_den[k] += size
            row_cells.append({"k": k, "count": count, "rate": round(count / size, 6) if size else None})
        cohorts.append(
            {
                "period_no": c,
                "period_start": period_start(c, d.period).isoformat(),
                "values": list(values),
                "size": size,
                "cells": row_cells,
            }
        )
    curve = [
        {"k": k, "rate": round(curve_num[k] / curve_den[k], 6) if curve_den[k] else None}
        for k in range(d.periods)
    ]
    return {
        "period": d.period,
        "periods": d.periods,
        "mode": d.mode,
        "date_from": rng.date_from.isoformat(),
        "date_to": rng.date_to.isoformat(),
        "breakdown_dimensions": [{**b, "label": dim_label(b)} for b in d.breakdown],
        "cohorts": cohorts,
        "curve": curve,
    }
