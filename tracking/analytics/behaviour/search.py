"""Site search keyword health, from "Products Searched" events and what followed them.

- Keyword: the search's `query` property, lower-cased, trimmed, inner whitespace collapsed, then read
  through the synonym list (*Search synonyms* in the admin: "tee" → "t-shirt").
- Zero results: the search's `results_count` property is 0 (searches without it are not counted as
  zero-result, and the rate's denominator is the searches that carry it).
- What follows a search is credited to it when it is the profile's latest search before the event and
  the event is within `window_minutes` (default 60) of it: the first "Product Clicked" (its
  `position`, 1 = top), "Product Added", "Order Completed" (its `revenue`, per `currency`: amounts
  in different currencies are never added up).
- Rates are per search: click-through = searches followed by a click / searches, and so on.
"""

from __future__ import annotations

import json
from collections import defaultdict
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

NORMALISE_SQL = r"regexp_replace(lower(btrim({q})), '\s+', ' ', 'g')"
# Flags (each explained on the page); thresholds here so the page and the docs quote the same.
MIN_SEARCHES = 5
ZERO_RESULT_RATE = 0.5
HIGH_CTR, LOW_PURCHASE = 0.4, 0.02
POSITION_OVER = 3.0
RISING_RATIO, RISING_MIN = 1.5, 5
FLAG_TEXT = {
    "zero_results": f"Unmet demand: at least {ZERO_RESULT_RATE:.0%} of its searches showed no results.",
    "clicks_no_sales": f"The results attract but do not sell: click-through ≥ {HIGH_CTR:.0%} but purchase conversion < {LOW_PURCHASE:.0%}.",
    "low_position": f"Ranking does not match intent: people click on average below position {POSITION_OVER:g}.",
    "rising": f"Rising demand: the range's last 7 days had ≥ {RISING_RATIO:g}× the searches of the 7 days before (and at least {RISING_MIN}).",
}


@dataclass(frozen=True)
class SearchOptions:
    range: DateRange
    window_minutes: int


def search_default() -> dict[str, Any]:
    today = date.today()
    return {
        "date_from": (today - timedelta(days=27)).isoformat(),
        "date_to": today.isoformat(),
        "tz": "utc",
        "window_minutes": "60",
    }


def search_parse(raw: dict[str, Any]) -> SearchOptions:
    errors: list[tuple[str, str]] = []
    tz = tz_parse(raw.get("tz"), errors)
    rng = range_parse(raw, errors, tz=tz if tz != "local" else "utc")
    if tz == "local":
        errors.append(("tz", "search keywords are counted in UTC or the workspace zone"))
    try:
        window = int(raw.get("window_minutes") or 60)
        if not 1 <= window <= 7 * 1440:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(("window_minutes", "must be a whole number of minutes from 1 to 10080"))
        window = 60
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return SearchOptions(rng, window)


def _names(spec: str) -> list[str]:
    return spec_event_names(spec)


def _groups_cte(*, scan_lo: datetime, scan_hi: datetime, window: timedelta) -> tuple[str, list[Any]]:
    """`WITH … per AS (…)`: one row per search with what followed it, in one pass and without joins.

    A profile's events in (timestamp, id) order are cut into groups at each search; a group's other
    events follow that search (it is the latest before them) and count when within `window` of it.
    (Joining searches to their follow-ups instead made PostgreSQL misjudge the CTE join and run it
    as a nested loop: quadratic in the searches of the range.)
    """
    searched = _names(SpecEvent.PRODUCTS_SEARCHED)
    clicked = _names(SpecEvent.PRODUCT_CLICKED)
    added = _names(SpecEvent.PRODUCT_ADDED)
    ordered = _names(SpecEvent.ORDER_COMPLETED)
    all_names = [*searched, *clicked, *added, *ordered]
    marks = lambda xs: ", ".join(["%s"] * len(xs))  # noqa: E731
    sql = f"""
    WITH ev AS (
        SELECT e.profile_id AS pid, e.timestamp AS ts, e.id AS eid,
               CASE WHEN e.name IN ({marks(searched)}) THEN 's'
                    WHEN e.name IN ({marks(clicked)}) THEN 'c'
                    WHEN e.name IN ({marks(added)}) THEN 'a' ELSE 'o' END AS kind,
               e.properties AS props
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks(all_names)})
          AND e.timestamp >= %s AND e.timestamp < %s
    ),
    grouped AS (
        SELECT *, count(*) FILTER (WHERE kind = 's') OVER w AS g, max(ts) FILTER (WHERE kind = 's') OVER w AS sts
        FROM ev WINDOW w AS (PARTITION BY pid ORDER BY ts, eid)
    ),
    marked AS (SELECT *, (kind <> 's' AND ts <= sts + %s) AS inw FROM grouped WHERE g > 0),
    per AS (
        SELECT pid, g, min(sts) AS sts,
               min(props ->> 'query') FILTER (WHERE kind = 's') AS query,
               bool_or(CASE WHEN jsonb_typeof(props -> 'results_count') = 'number'
                            THEN (props ->> 'results_count')::numeric = 0 END) FILTER (WHERE kind = 's') AS zero,
               bool_or(inw AND kind = 'c') AS clicked,
               (array_agg(CASE WHEN jsonb_typeof(props -> 'position') = 'number'
                               THEN (props ->> 'position')::numeric END ORDER BY ts, eid)
                    FILTER (WHERE inw AND kind = 'c'))[1] AS position,
               bool_or(inw AND kind = 'a') AS added,
               bool_or(inw AND kind = 'o') AS ordered,
               jsonb_agg(jsonb_build_array(COALESCE(props ->> 'currency', ''), (ts AT TIME ZONE 'UTC')::date,
                                           props -> 'revenue')) FILTER (WHERE inw AND kind = 'o') AS orders
        FROM marked GROUP BY pid, g
    )"""
    return sql, [*searched, *clicked, *added, *all_names, scan_lo, scan_hi, window]


# Revenue of searches' orders per key, currency and order day: only numeric `revenue` values count.
_ORDER_ITEMS = """
    SELECT {key}, o ->> 0 AS currency, (o ->> 1)::date AS order_day,
           sum(CASE WHEN jsonb_typeof(o -> 2) = 'number' THEN (o ->> 2)::numeric END) AS amount
    FROM {source}, jsonb_array_elements(orders) AS o GROUP BY {groups}"""


def search_rows(*, options: SearchOptions) -> list[dict[str, Any]]:
    """One row per keyword, from raw events (any window, UTC or the workspace's days)."""
    lo, hi = options.range.utc_bounds()
    window = timedelta(minutes=options.window_minutes)
    norm = NORMALISE_SQL.format(q="per.query")
    split = hi - timedelta(days=7)
    # Downstream events may follow the range's last search by up to the window; searches before
    # the range still decide which search a downstream event belongs to (they start a new group).
    cte, params = _groups_cte(scan_lo=lo - window, scan_hi=hi + window, window=window)
    items = _ORDER_ITEMS.format(key="keyword", source="searches", groups="1, 2, 3")
    sql = f"""{cte},
    searches AS (
        SELECT per.*, COALESCE(syn.keyword, {norm}) AS keyword FROM per
        LEFT JOIN analytics_searchsynonym syn ON syn.term = {norm}
        WHERE per.sts >= %s AND per.sts < %s AND COALESCE(btrim(per.query), '') <> ''
    ),
    rev AS (
        SELECT keyword, jsonb_agg(jsonb_build_array(currency, order_day, amount)) AS revenue
        FROM ({items}) i WHERE amount IS NOT NULL GROUP BY keyword
    ),
    agg AS (
    SELECT s.keyword, count(*) AS searches, count(DISTINCT s.pid) AS searchers,
           count(*) FILTER (WHERE s.zero) AS zero, count(s.zero) AS with_count,
           count(*) FILTER (WHERE s.clicked) AS clicks, avg(s.position) AS position,
           count(*) FILTER (WHERE s.added) AS adds, count(*) FILTER (WHERE s.ordered) AS orders,
           count(*) FILTER (WHERE s.sts >= %s) AS last7,
           count(*) FILTER (WHERE s.sts >= %s AND s.sts < %s) AS prev7
    FROM searches s GROUP BY s.keyword)
    SELECT agg.*, rev.revenue FROM agg LEFT JOIN rev USING (keyword) ORDER BY agg.searches DESC, agg.keyword
    """
    params += [lo, hi, split, split - timedelta(days=7), split]
    with analysis_cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    fx_rates_ensure()
    return [_keyword_row(r) for r in rows]


# --- rollups: per UTC day, term and profile (analytics_searchday) + revenue (analytics_searchcredit) ---

ROLLUP_WINDOW_MINUTES = 60  # rollups hold the default window; another window reads raw events
SEARCHDAY_COLUMNS = (
    "day, term, profile_id, searches, zero, with_count, clicks, position_sum, position_n, adds, orders"
)
SEARCHCREDIT_COLUMNS = "day, term, order_day, currency, amount"


def search_delta_sql(*, lo: datetime, hi: datetime) -> dict[str, tuple[str, list[Any]]]:
    """The searches of [lo, hi) (whole UTC days) as rollup rows: {"day": (sql, params), "credit": …}.

    The same statement fills the rollups (fold, rebuild) and stands in for days not folded yet.
    """
    window = timedelta(minutes=ROLLUP_WINDOW_MINUTES)
    cte, params = _groups_cte(scan_lo=lo - window, scan_hi=hi + window, window=window)
    norm = NORMALISE_SQL.format(q="per.query")
    searches = f"""{cte},
    searches AS (
        SELECT per.*, {norm} AS term FROM per
        WHERE per.sts >= %s AND per.sts < %s AND COALESCE(btrim(per.query), '') <> ''
    )"""
    params = [*params, lo, hi]
    day_sql = (
        searches
        + """
    SELECT (s.sts AT TIME ZONE 'UTC')::date AS day, s.term, s.pid AS profile_id, count(*) AS searches,
           count(*) FILTER (WHERE s.zero) AS zero, count(s.zero) AS with_count,
           count(*) FILTER (WHERE s.clicked) AS clicks, sum(s.position) AS position_sum,
           count(s.position) AS position_n, count(*) FILTER (WHERE s.added) AS adds,
           count(*) FILTER (WHERE s.ordered) AS orders
    FROM searches s GROUP BY 1, 2, 3"""
    )
    items = _ORDER_ITEMS.format(
        key="(sts AT TIME ZONE 'UTC')::date AS day, term", source="searches", groups="1, 2, 3, 4"
    )
    credit_sql = (
        searches
        + f"""
    SELECT day, term, order_day, currency, amount FROM ({items}) i WHERE amount IS NOT NULL"""
    )
    return {"day": (day_sql, params), "credit": (credit_sql, params)}


def search_rows_rollup(*, options: SearchOptions) -> list[dict[str, Any]]:
    """The same rows as `search_rows` for UTC days and the default window, from the rollups (days not
    folded yet are read live through the same delta statement)."""
    from tracking.analytics.behaviour.rollups import rollup_source

    rng = options.range
    day_src, day_params = rollup_source(
        kind="search", table="analytics_searchday", columns=SEARCHDAY_COLUMNS, part="day", rng=rng
    )
    credit_src, credit_params = rollup_source(
        kind="search", table="analytics_searchcredit", columns=SEARCHCREDIT_COLUMNS, part="credit", rng=rng
    )
    last7 = rng.date_to - timedelta(days=6)
    sql = f"""
    WITH r AS ({day_src}),
    kw AS (SELECT COALESCE(syn.keyword, r.term) AS keyword, r.* FROM r
           LEFT JOIN analytics_searchsynonym syn ON syn.term = r.term),
    cr AS (SELECT COALESCE(syn.keyword, c.term) AS keyword, c.order_day, c.currency, sum(c.amount) AS amount
           FROM ({credit_src}) c LEFT JOIN analytics_searchsynonym syn ON syn.term = c.term GROUP BY 1, 2, 3),
    rev AS (SELECT keyword, jsonb_agg(jsonb_build_array(currency, order_day, amount)) AS revenue FROM cr
            WHERE amount IS NOT NULL GROUP BY keyword),
    agg AS (
    SELECT k.keyword, sum(k.searches)::bigint AS searches, count(DISTINCT k.profile_id) AS searchers,
           sum(k.zero)::bigint AS zero, sum(k.with_count)::bigint AS with_count, sum(k.clicks)::bigint AS clicks,
           sum(k.position_sum) / NULLIF(sum(k.position_n), 0) AS position,
           sum(k.adds)::bigint AS adds, sum(k.orders)::bigint AS orders,
           COALESCE(sum(k.searches) FILTER (WHERE k.day >= %s), 0)::bigint AS last7,
           COALESCE(sum(k.searches) FILTER (WHERE k.day >= %s AND k.day < %s), 0)::bigint AS prev7
    FROM kw k GROUP BY k.keyword)
    SELECT agg.*, rev.revenue FROM agg LEFT JOIN rev USING (keyword) ORDER BY agg.searches DESC, agg.keyword
    """
    params = [*day_params, *credit_params, last7, last7 - timedelta(days=7), last7]
    with analysis_cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    fx_rates_ensure()
    return [_keyword_row(r) for r in rows]


def search_uses_rollups(options: SearchOptions) -> bool:
    return utc_days(options.range) and options.window_minutes == ROLLUP_WINDOW_MINUTES


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 6) if b else None


def _keyword_row(r: dict[str, Any]) -> dict[str, Any]:
    searches = r["searches"]
    # (currency, order day, amount) items; Django reads jsonb from a raw cursor as text.
    items = json.loads(r["revenue"]) if isinstance(r["revenue"], str) else (r["revenue"] or [])
    row = {
        "keyword": r["keyword"],
        "searches": searches,
        "searchers": r["searchers"],
        "zero_results": r["zero"],
        "zero_result_rate": _rate(r["zero"], r["with_count"]),
        "click_through": _rate(r["clicks"], searches),
        "average_position": round(float(r["position"]), 2) if r["position"] is not None else None,
        "add_to_cart_rate": _rate(r["adds"], searches),
        "purchase_conversion": _rate(r["orders"], searches),
        **money_total(((c, d, Decimal(str(a))) for c, d, a in items), ensure=False),
        "searches_last_7_days": r["last7"],
        "searches_previous_7_days": r["prev7"],
    }
    flags = []
    if searches >= MIN_SEARCHES:
        if (row["zero_result_rate"] or 0) >= ZERO_RESULT_RATE:
            flags.append("zero_results")
        if (row["click_through"] or 0) >= HIGH_CTR and (row["purchase_conversion"] or 0) < LOW_PURCHASE:
            flags.append("clicks_no_sales")
        if row["average_position"] is not None and row["average_position"] > POSITION_OVER:
            flags.append("low_position")
    if r["last7"] >= RISING_MIN and r["last7"] >= RISING_RATIO * max(r["prev7"], 1):
        flags.append("rising")
    row["flags"] = flags
    return row


COLUMNS = [
    "keyword",
    "searches",
    "searchers",
    "zero_results",
    "zero_result_rate",
    "click_through",
    "average_position",
    "add_to_cart_rate",
    "purchase_conversion",
    "revenue",
    "revenue_currency",
    "flags",
]


def _cell(v: Any) -> Any:
    if isinstance(v, dict):
        return " ".join(f"{k or '(no currency)'} {a}" for k, a in v.items())
    if isinstance(v, list):
        return " ".join(v)
    return v


def search_report(raw: dict[str, Any]) -> dict[str, Any]:
    options = search_parse(raw)
    from_rollups = search_uses_rollups(options)
    rows = search_rows_rollup(options=options) if from_rollups else search_rows(options=options)
    zero = sorted((r for r in rows if r["zero_results"]), key=lambda r: (-r["zero_results"], r["keyword"]))
    by_flag: dict[str, int] = defaultdict(int)
    for r in rows:
        for f in r["flags"]:
            by_flag[f] += 1
    top = rows[:15]
    return {
        "date_from": options.range.date_from.isoformat(),
        "date_to": options.range.date_to.isoformat(),
        "window_minutes": options.window_minutes,
        "from_rollups": from_rollups,
        "keywords": rows,
        "zero_result_keywords": zero,
        "flag_text": FLAG_TEXT,
        "flag_counts": dict(by_flag),
        "tables": {
            "keywords": {"columns": COLUMNS, "rows": [[_cell(r[c]) for c in COLUMNS] for r in rows]},
            "zero_results": {
                "columns": ["keyword", "zero_result_searches", "searches", "searchers"],
                "rows": [[r["keyword"], r["zero_results"], r["searches"], r["searchers"]] for r in zero],
            },
        },
        "charts": {
            "keywords": {
                "labels": [r["keyword"] for r in top],
                "searches": [r["searches"] for r in top],
                "zero": [r["zero_results"] for r in top],
            }
        },
    }
