"""Slots and promotions: exposure, clicks, penetration and the orders that followed a click.

- A slot is (promotion_id, creative, position) from "Promotion Viewed" / "Promotion Clicked".
- Impressions and clicks count events; CTR = clicks / impressions; click penetration = profiles
  who clicked ÷ profiles who saw it.
- An "Order Completed" is credited to the last promotion the profile clicked before it, when that
  click is within `window_hours` (default 24); revenue per `currency` (never added across them).
- Trend: impressions and clicks per day (UTC or the workspace zone).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tracking.analytics.behaviour.common import (
    AnalysisInvalid,
    DateRange,
    analysis_cursor,
    money_total,
    range_parse,
    spec_event_names,
    tz_parse,
    utc_days,
)
from tracking.analytics.models import SpecEvent
from tracking.analytics.money import fx_rates_ensure


@dataclass(frozen=True)
class SlotOptions:
    range: DateRange
    window_hours: int


def slots_default() -> dict[str, Any]:
    today = date.today()
    return {
        "date_from": (today - timedelta(days=27)).isoformat(),
        "date_to": today.isoformat(),
        "tz": "utc",
        "window_hours": "24",
    }


def slots_parse(raw: dict[str, Any]) -> SlotOptions:
    errors: list[tuple[str, str]] = []
    tz = tz_parse(raw.get("tz"), errors)
    if tz == "local":
        errors.append(("tz", "slots are counted in UTC or the workspace zone"))
    rng = range_parse(raw, errors, tz=tz if tz != "local" else "utc")
    try:
        window = int(raw.get("window_hours") or 24)
        if not 1 <= window <= 24 * 30:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(("window_hours", "must be a whole number of hours from 1 to 720"))
        window = 24
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return SlotOptions(rng, window)


# Orders credited to the last promotion clicked before them: a profile's events in (timestamp, id)
# order are cut into groups at each click; a group's orders within the window of its click (and in
# [lo, hi)) are that click's. One pass, no self-join (a self-join of the CTE was planned as a nested
# loop: quadratic). Params: window, lo, hi.
CREDIT_CTE = """g AS (
        SELECT *, count(*) FILTER (WHERE kind = 'c') OVER w AS grp, max(ts) FILTER (WHERE kind = 'c') OVER w AS cts
        FROM ev WINDOW w AS (PARTITION BY pid ORDER BY ts, eid)
    ),
    per AS (
        SELECT pid, grp,
               min(COALESCE(props ->> 'promotion_id', '')) FILTER (WHERE kind = 'c') AS pr,
               min(COALESCE(props ->> 'creative', '')) FILTER (WHERE kind = 'c') AS cr,
               min(COALESCE(props ->> 'position', '')) FILTER (WHERE kind = 'c') AS po,
               jsonb_agg(jsonb_build_array(COALESCE(props ->> 'currency', ''), (ts AT TIME ZONE 'UTC')::date, props -> 'revenue'))
                   FILTER (WHERE kind = 'o' AND ts <= cts + %s AND ts >= %s AND ts < %s) AS orders
        FROM g WHERE grp > 0 GROUP BY pid, grp
    ),
    credit AS (
        SELECT pr, cr, po, o ->> 0 AS currency, (o ->> 1)::date AS day, count(*) AS orders,
               sum(CASE WHEN jsonb_typeof(o -> 2) = 'number' THEN (o ->> 2)::numeric END) AS revenue
        FROM per, jsonb_array_elements(orders) AS o GROUP BY 1, 2, 3, 4, 5
    )"""

SLOT_KEY = (
    "COALESCE(props ->> 'promotion_id', '') AS pr, COALESCE(props ->> 'creative', '') AS cr, "
    "COALESCE(props ->> 'position', '') AS po"
)


def slots_rows(*, options: SlotOptions) -> tuple[list[dict[str, Any]], list[tuple]]:
    lo, hi = options.range.utc_bounds()
    window = timedelta(hours=options.window_hours)
    viewed = spec_event_names(SpecEvent.PROMOTION_VIEWED)
    clicked = spec_event_names(SpecEvent.PROMOTION_CLICKED)
    ordered = spec_event_names(SpecEvent.ORDER_COMPLETED)
    marks = lambda xs: ", ".join(["%s"] * len(xs))  # noqa: E731
    zone = "UTC" if options.range.tz == "utc" else None
    sql = f"""
    WITH ev AS (
        SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid,
               CASE WHEN e.name IN ({marks(viewed)}) THEN 'v' WHEN e.name IN ({marks(clicked)}) THEN 'c' ELSE 'o' END AS kind,
               e.properties AS props
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks([*viewed, *clicked, *ordered])})
          AND e.timestamp >= %s AND e.timestamp < %s
    ),
    slot_ev AS (
        SELECT pid, ts, kind, {SLOT_KEY} FROM ev
        WHERE kind IN ('v', 'c') AND ts >= %s AND ts < %s
    ),
    {{CREDIT_CTE}}
    SELECT s.pr, s.cr, s.po, count(*) FILTER (WHERE kind = 'v') AS impressions, count(*) FILTER (WHERE kind = 'c') AS clicks,
           count(DISTINCT pid) FILTER (WHERE kind = 'v') AS viewers, count(DISTINCT pid) FILTER (WHERE kind = 'c') AS clickers,
           (SELECT jsonb_agg(jsonb_build_array(c2.currency, c2.orders, c2.revenue, c2.day)) FROM credit c2 WHERE (c2.pr, c2.cr, c2.po) = (s.pr, s.cr, s.po)) AS credited
    FROM slot_ev s GROUP BY s.pr, s.cr, s.po ORDER BY impressions DESC, clicks DESC, s.pr, s.cr, s.po
    """
    params = [*viewed, *clicked, *viewed, *clicked, *ordered, lo - window, hi, lo, hi, window, lo, hi]
    sql = sql.replace("{CREDIT_CTE}", CREDIT_CTE)
    trend_sql = f"""
        SELECT (e.timestamp AT TIME ZONE %s)::date AS day,
               count(*) FILTER (WHERE e.name IN ({marks(viewed)})) AS impressions,
               count(*) FILTER (WHERE e.name IN ({marks(clicked)})) AS clicks
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks([*viewed, *clicked])}) AND e.timestamp >= %s AND e.timestamp < %s
        GROUP BY 1 ORDER BY 1
    """
    from django.conf import settings

    with analysis_cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        cur.execute(trend_sql, [zone or settings.TIME_ZONE, *viewed, *clicked, *viewed, *clicked, lo, hi])
        trend = cur.fetchall()
    fx_rates_ensure()
    return [_slot_row(*r) for r in rows], trend


def _slot_row(
    promotion: str,
    creative: str,
    position: str,
    impressions: int,
    clicks: int,
    viewers: int,
    clickers: int,
    credited: Any,
) -> dict[str, Any]:
    # [currency, orders, revenue, order day] per credited order day; jsonb arrives as text.
    credited = (json.loads(credited) if isinstance(credited, str) else credited) or []
    return {
        "promotion_id": promotion,
        "creative": creative,
        "position": position,
        "impressions": impressions,
        "clicks": clicks,
        "ctr": round(clicks / impressions, 6) if impressions else None,
        "viewers": viewers,
        "clickers": clickers,
        "click_penetration": round(clickers / viewers, 6) if viewers else None,
        "orders": sum(int(c[1]) for c in credited),
        **money_total(((c[0], c[3], Decimal(str(c[2]))) for c in credited if c[2] is not None), ensure=False),
    }


# --- rollups: per UTC day, slot and profile (analytics_slotday) + credited orders (analytics_slotcredit) ---

ROLLUP_WINDOW_HOURS = 24  # rollups hold the default window; another window reads raw events
SLOTDAY_COLUMNS = "day, promotion_id, creative, position, profile_id, views, clicks"
SLOTCREDIT_COLUMNS = "day, promotion_id, creative, position, currency, orders, revenue"


def slots_delta_sql(*, lo: datetime, hi: datetime) -> dict[str, tuple[str, list[Any]]]:
    """The slot events and credited orders of [lo, hi) (whole UTC days) as rollup rows."""
    window = timedelta(hours=ROLLUP_WINDOW_HOURS)
    viewed = spec_event_names(SpecEvent.PROMOTION_VIEWED)
    clicked = spec_event_names(SpecEvent.PROMOTION_CLICKED)
    ordered = spec_event_names(SpecEvent.ORDER_COMPLETED)
    marks = lambda xs: ", ".join(["%s"] * len(xs))  # noqa: E731
    cte = f"""
    WITH ev AS (
        SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid,
               CASE WHEN e.name IN ({marks(viewed)}) THEN 'v' WHEN e.name IN ({marks(clicked)}) THEN 'c' ELSE 'o' END AS kind,
               e.properties AS props
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks([*viewed, *clicked, *ordered])})
          AND e.timestamp >= %s AND e.timestamp < %s
    )"""
    params = [*viewed, *clicked, *viewed, *clicked, *ordered, lo - window, hi]
    key = "COALESCE({p} ->> 'promotion_id', ''), COALESCE({p} ->> 'creative', ''), COALESCE({p} ->> 'position', '')"
    day_sql = (
        cte
        + f"""
    SELECT (ts AT TIME ZONE 'UTC')::date AS day, {key.format(p="props")}, pid,
           count(*) FILTER (WHERE kind = 'v'), count(*) FILTER (WHERE kind = 'c')
    FROM ev WHERE kind IN ('v', 'c') AND ts >= %s GROUP BY 1, 2, 3, 4, 5"""
    )
    credit_sql = (
        cte
        + ",\n    "
        + CREDIT_CTE
        + """
    SELECT day, pr, cr, po, currency, orders, revenue FROM credit"""
    )
    return {"day": (day_sql, [*params, lo]), "credit": (credit_sql, [*params, window, lo, hi])}


def slots_rows_rollup(*, options: SlotOptions) -> tuple[list[dict[str, Any]], list[tuple]]:
    """`slots_rows` for UTC days and the default window, from the rollups (plus days not folded yet)."""
    from tracking.analytics.behaviour.rollups import rollup_source

    rng = options.range
    day_src, day_params = rollup_source(
        kind="slots", table="analytics_slotday", columns=SLOTDAY_COLUMNS, part="day", rng=rng
    )
    credit_src, credit_params = rollup_source(
        kind="slots", table="analytics_slotcredit", columns=SLOTCREDIT_COLUMNS, part="credit", rng=rng
    )
    sql = f"""
    WITH d AS MATERIALIZED ({day_src}),
    cr AS (SELECT promotion_id, creative, position, day, currency, sum(orders) AS orders, sum(revenue) AS revenue
           FROM ({credit_src}) c GROUP BY 1, 2, 3, 4, 5)
    SELECT s.*, (SELECT jsonb_agg(jsonb_build_array(cr.currency, cr.orders, cr.revenue, cr.day)) FROM cr
                 WHERE (cr.promotion_id, cr.creative, cr.position) = (s.pr, s.cr, s.po)) AS credited
    FROM (SELECT promotion_id AS pr, creative AS cr, position AS po, sum(views)::bigint AS impressions,
                 sum(clicks)::bigint AS clicks, count(DISTINCT profile_id) FILTER (WHERE views > 0) AS viewers,
                 count(DISTINCT profile_id) FILTER (WHERE clicks > 0) AS clickers
          FROM d GROUP BY 1, 2, 3) s
    ORDER BY s.impressions DESC, s.clicks DESC, s.pr, s.cr, s.po
    """
    with analysis_cursor() as cur:
        cur.execute(sql, [*day_params, *credit_params])
        rows = cur.fetchall()
        cur.execute(
            f"SELECT day, sum(views)::bigint, sum(clicks)::bigint FROM ({day_src}) d GROUP BY 1 ORDER BY 1",
            day_params,
        )
        trend = cur.fetchall()
    fx_rates_ensure()
    return [_slot_row(*r) for r in rows], trend


def slots_uses_rollups(options: SlotOptions) -> bool:
    return utc_days(options.range) and options.window_hours == ROLLUP_WINDOW_HOURS


COLUMNS = [
    "promotion_id",
    "creative",
    "position",
    "impressions",
    "clicks",
    "ctr",
    "viewers",
    "clickers",
    "click_penetration",
    "orders",
    "revenue",
    "revenue_currency",
]


def slots_report(raw: dict[str, Any]) -> dict[str, Any]:
    options = slots_parse(raw)
    from_rollups = slots_uses_rollups(options)
    rows, trend = slots_rows_rollup(options=options) if from_rollups else slots_rows(options=options)
    days = {d: (i, c) for d, i, c in trend}
    series = []
    day = options.range.date_from
    while day <= options.range.date_to:
        i, c = days.get(day, (0, 0))
        series.append({"day": day.isoformat(), "impressions": i, "clicks": c})
        day += timedelta(days=1)

    def cell(v: Any) -> Any:
        return " ".join(f"{k or '(no currency)'} {a}" for k, a in v.items()) if isinstance(v, dict) else v

    return {
        "date_from": options.range.date_from.isoformat(),
        "date_to": options.range.date_to.isoformat(),
        "window_hours": options.window_hours,
        "from_rollups": from_rollups,
        "slots": rows,
        "trend": series,
        "tables": {
            "slots": {"columns": COLUMNS, "rows": [[cell(r[c]) for c in COLUMNS] for r in rows]},
            "trend": {
                "columns": ["day", "impressions", "clicks"],
                "rows": [[s["day"], s["impressions"], s["clicks"]] for s in series],
            },
        },
        "charts": {
            "trend": {
                "labels": [s["day"] for s in series],
                "impressions": [s["impressions"] for s in series],
                "clicks": [s["clicks"] for s in series],
            }
        },
    }
