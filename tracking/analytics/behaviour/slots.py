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
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from tracking.analytics.behaviour.common import (
    AnalysisInvalid,
    DateRange,
    range_parse,
    spec_event_names,
    tz_parse,
)
from tracking.analytics.models import SpecEvent


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
    g AS (
        SELECT *, count(*) FILTER (WHERE kind = 'c') OVER (PARTITION BY pid ORDER BY ts, eid) AS grp FROM ev
    ),
    credit AS (
        SELECT {SLOT_KEY.replace("props", "c.props")},
               COALESCE(o.props ->> 'currency', '') AS currency,
               count(*) AS orders,
               sum(CASE WHEN jsonb_typeof(o.props -> 'revenue') = 'number' THEN (o.props ->> 'revenue')::numeric END) AS revenue
        FROM g o JOIN g c ON c.pid = o.pid AND c.grp = o.grp AND c.kind = 'c'
        WHERE o.kind = 'o' AND o.grp > 0 AND o.ts <= c.ts + %s AND o.ts >= %s AND o.ts < %s
        GROUP BY 1, 2, 3, 4
    )
    SELECT s.pr, s.cr, s.po, count(*) FILTER (WHERE kind = 'v') AS impressions, count(*) FILTER (WHERE kind = 'c') AS clicks,
           count(DISTINCT pid) FILTER (WHERE kind = 'v') AS viewers, count(DISTINCT pid) FILTER (WHERE kind = 'c') AS clickers,
           (SELECT jsonb_agg(jsonb_build_array(c2.currency, c2.orders, c2.revenue)) FROM credit c2 WHERE (c2.pr, c2.cr, c2.po) = (s.pr, s.cr, s.po)) AS credited
    FROM slot_ev s GROUP BY s.pr, s.cr, s.po ORDER BY impressions DESC, clicks DESC, s.pr, s.cr, s.po
    """
    params = [*viewed, *clicked, *viewed, *clicked, *ordered, lo - window, hi, lo, hi, window, lo, hi]
    trend_sql = f"""
        SELECT (e.timestamp AT TIME ZONE %s)::date AS day,
               count(*) FILTER (WHERE e.name IN ({marks(viewed)})) AS impressions,
               count(*) FILTER (WHERE e.name IN ({marks(clicked)})) AS clicks
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks([*viewed, *clicked])}) AND e.timestamp >= %s AND e.timestamp < %s
        GROUP BY 1 ORDER BY 1
    """
    from django.conf import settings

    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
        cur.execute(trend_sql, [zone or settings.TIME_ZONE, *viewed, *clicked, *viewed, *clicked, lo, hi])
        trend = cur.fetchall()
    out = []
    for promotion, creative, position, impressions, clicks, viewers, clickers, credited in rows:
        # Django reads jsonb from a raw cursor as text.
        credited = json.loads(credited) if isinstance(credited, str) else credited
        orders = sum(int(c[1]) for c in credited or [])
        revenue = {c[0]: str(Decimal(str(c[2]))) for c in credited or [] if c[2] is not None}
        out.append(
            {
                "promotion_id": promotion,
                "creative": creative,
                "position": position,
                "impressions": impressions,
                "clicks": clicks,
                "ctr": round(clicks / impressions, 6) if impressions else None,
                "viewers": viewers,
                "clickers": clickers,
                "click_penetration": round(clickers / viewers, 6) if viewers else None,
                "orders": orders,
                "revenue": dict(sorted(revenue.items())),
            }
        )
    return out, trend


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
]


def slots_report(raw: dict[str, Any]) -> dict[str, Any]:
    options = slots_parse(raw)
    rows, trend = slots_rows(options=options)
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
