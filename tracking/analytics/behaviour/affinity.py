"""Product affinity and cross-sell from "Order Completed" events (site and imported marketplace orders
alike: after ID mapping they are one profile's orders).

- An order's items: its `products` list; an item is its `product_id` (else `sku`), or its
  `category` at the category level (use it when products are many).
- Same order: baskets are orders. support(A, B) = baskets with both / baskets;
  confidence(A → B) = baskets with both / baskets with A; lift = confidence / (baskets with B / baskets).
- Within N days: each order is a basket holding its items plus the items the same profile ordered in
  the N days after it, so A → B reads "bought A, then B within N days" (directional).
- Repurchase interval: per category, the median days between one order holding it and the profile's
  next order holding it.
- Each strong pair links to the audience "bought A, not B" and suggests the category's repurchase
  interval as a journey delay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection

from tracking.analytics.behaviour.common import (
    AnalysisInvalid,
    DateRange,
    analysis_cursor,
    product_names,
    range_parse,
    spec_event_names,
)
from tracking.analytics.models import SpecEvent

AUDIENCE_ADD_URL = "/admin/audiences/audience/add/"
LEVELS = ("product", "category")
MODES = ("order", "days")


@dataclass(frozen=True)
class AffinityOptions:
    range: DateRange
    level: str
    mode: str
    days: int
    min_support: int  # baskets holding both


def affinity_default() -> dict[str, Any]:
    today = date.today()
    return {
        "date_from": (today - timedelta(days=89)).isoformat(),
        "date_to": today.isoformat(),
        "level": "product",
        "mode": "order",
        "days": "30",
        # Pairs seen in one or two baskets have a huge lift by chance; five keeps the page to pairs
        # that say something (the field lowers it for a small shop).
        "min_support": "5",
    }


def affinity_parse(raw: dict[str, Any]) -> AffinityOptions:
    errors: list[tuple[str, str]] = []
    rng = range_parse(raw, errors, tz="utc")
    level = raw.get("level") or "product"
    if level not in LEVELS:
        errors.append(("level", "must be product or category"))
    mode = raw.get("mode") or "order"
    if mode not in MODES:
        errors.append(("mode", "must be order (same order) or days (within N days)"))
    nums = {}
    for key, lo, hi, default in (("days", 1, 365, 30), ("min_support", 1, 100000, 2)):
        try:
            nums[key] = int(raw.get(key) or default)
            if not lo <= nums[key] <= hi:
                raise ValueError
        except (TypeError, ValueError):
            errors.append((key, f"must be a whole number from {lo} to {hi}"))
            nums[key] = default
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return AffinityOptions(rng, level, mode, nums["days"], nums["min_support"])


def _item_sql(level: str) -> str:
    if level == "category":
        return "NULLIF(item ->> 'category', '')"
    return "COALESCE(NULLIF(item ->> 'product_id', ''), NULLIF(item ->> 'sku', ''))"


def affinity_rows(*, options: AffinityOptions) -> dict[str, Any]:
    lo, hi = options.range.utc_bounds()
    names = spec_event_names(SpecEvent.ORDER_COMPLETED)
    marks = ", ".join(["%s"] * len(names))
    item = _item_sql(options.level)
    later = timedelta(days=options.days) if options.mode == "days" else timedelta(0)
    items_cte = f"""
    orders AS (
        SELECT e.id AS oid, e.profile_id AS pid, e.timestamp AS ts, e.properties -> 'products' AS products
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks}) AND e.timestamp >= %s AND e.timestamp < %s
          AND jsonb_typeof(e.properties -> 'products') = 'array'
    ),
    items AS (
        SELECT DISTINCT o.oid, o.pid, o.ts, {item} AS x
        FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.products) AS item
        WHERE jsonb_typeof(item) = 'object' AND {item} IS NOT NULL
    )"""
    # Baskets are orders inside the range; in "days" mode later orders (up to N days past the
    # range) fill them.
    if options.mode == "order":
        basket = "basket AS (SELECT oid AS b, x FROM items WHERE ts < %s)"
        basket_params: list[Any] = [hi]
    else:
        basket = (
            "basket AS (SELECT DISTINCT a.oid AS b, l.x FROM items a JOIN items l ON l.pid = a.pid "
            "AND l.ts >= a.ts AND l.ts <= a.ts + %s WHERE a.ts < %s)"
        )
        basket_params = [later, hi]
    anchors = "anchor AS (SELECT DISTINCT oid AS b, x FROM items WHERE ts < %s)"
    sql = f"""
    WITH {items_cte}, {basket}, {anchors},
    n AS (SELECT count(DISTINCT b) AS total FROM anchor),
    single AS (SELECT x, count(*) AS baskets FROM basket GROUP BY x),
    anchor_single AS (SELECT x, count(*) AS baskets FROM anchor GROUP BY x),
    pairs AS (
        SELECT a.x AS a, c.x AS b, count(*) AS both_
        FROM anchor a JOIN basket c ON c.b = a.b AND c.x <> a.x
        GROUP BY 1, 2 HAVING count(*) >= %s
    )
    SELECT p.a, p.b, p.both_, sa.baskets AS a_baskets, sb.baskets AS b_baskets, n.total
    FROM pairs p JOIN anchor_single sa ON sa.x = p.a JOIN single sb ON sb.x = p.b CROSS JOIN n
    ORDER BY p.both_::float / sa.baskets * n.total / sb.baskets DESC, p.both_ DESC, p.a, p.b
    LIMIT 500
    """
    params = [*names, lo, hi + later, *basket_params, hi, options.min_support]
    repurchase_sql = f"""
    WITH {items_cte.replace(_item_sql(options.level), "NULLIF(item ->> 'category', '')")},
    seq AS (
        SELECT x, ts, lead(ts) OVER (PARTITION BY pid, x ORDER BY ts, oid) AS next_ts FROM items
    )
    SELECT x, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM next_ts - ts) / 86400.0), count(*)
    FROM seq WHERE next_ts IS NOT NULL GROUP BY x ORDER BY x
    """
    with analysis_cursor() as cur:
        cur.execute(sql, params)
        pair_rows = cur.fetchall()
        cur.execute(repurchase_sql, [*names, lo, hi])
        repurchase = {x: (float(m), n) for x, m, n in cur.fetchall()}
    return _found(pair_rows, repurchase, options.level)


def _found(pair_rows: list[tuple], repurchase: dict[str, tuple[float, int]], level: str) -> dict[str, Any]:
    pairs = []
    for a, b, both, a_n, b_n, total in pair_rows:
        confidence = both / a_n
        lift = confidence / (b_n / total) if b_n and total else None
        pairs.append(
            {
                "a": a,
                "b": b,
                "baskets_with_both": both,
                "support": round(both / total, 6),
                "confidence": round(confidence, 6),
                "lift": round(lift, 4) if lift is not None else None,
                "audience_url": bought_a_not_b_url(a=a, b=b, level=level),
            }
        )
    return {"pairs": pairs, "repurchase": repurchase}


# --- rollups (same-order baskets): items and pairs per UTC day and level; repurchase facts -------------

ITEM_COLUMNS = "day, level, item, baskets"
PAIR_COLUMNS_ROLLUP = "day, level, a, b, baskets"
_ITEMS_CTE = """
    WITH orders AS (
        SELECT e.id AS oid, e.profile_id AS pid, e.timestamp AS ts, e.properties -> 'products' AS products
        FROM tracking_event e
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks}) AND e.timestamp >= %s AND e.timestamp < %s
          AND jsonb_typeof(e.properties -> 'products') = 'array'
    ),
    items AS MATERIALIZED (
        SELECT DISTINCT oid, ts, level, x FROM (
            SELECT o.oid, o.ts, lv.level,
                   CASE lv.level WHEN 'category' THEN {category} ELSE {product} END AS x
            FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.products) AS item
            CROSS JOIN (VALUES ('product'), ('category')) AS lv(level)
            WHERE jsonb_typeof(item) = 'object') q
        WHERE x IS NOT NULL
    )"""


def affinity_delta_sql(*, lo: datetime, hi: datetime) -> dict[str, tuple[str, list[Any]]]:
    """The orders of [lo, hi) (whole UTC days) as rollup rows at both levels: baskets holding each item
    (item "" counts the baskets), and baskets holding each ordered pair."""
    names = spec_event_names(SpecEvent.ORDER_COMPLETED)
    cte = _ITEMS_CTE.format(
        marks=", ".join(["%s"] * len(names)), category=_item_sql("category"), product=_item_sql("product")
    )
    params = [*names, lo, hi]
    item_sql = (
        cte
        + """
    SELECT (ts AT TIME ZONE 'UTC')::date, level, x, count(*) FROM items GROUP BY 1, 2, 3
    UNION ALL
    SELECT (ts AT TIME ZONE 'UTC')::date, level, '', count(DISTINCT oid) FROM items GROUP BY 1, 2"""
    )
    pair_sql = (
        cte
        + """
    SELECT (a.ts AT TIME ZONE 'UTC')::date, a.level, a.x, c.x, count(*)
    FROM items a JOIN items c ON c.oid = a.oid AND c.level = a.level AND c.x <> a.x GROUP BY 1, 2, 3, 4"""
    )
    return {"item": (item_sql, params), "pair": (pair_sql, params)}


def repurchase_facts_refresh(*, profile_ids: list[int] | None) -> int:
    """Recompute the repurchase facts of these profiles (all profiles when None) from all their orders."""
    names = spec_event_names(SpecEvent.ORDER_COMPLETED)
    marks = ", ".join(["%s"] * len(names))
    only = "" if profile_ids is None else " AND e.profile_id = ANY(%s)"
    sql = f"""
    INSERT INTO analytics_repurchasefact (profile_id, category, at, next_at)
    WITH items AS (
        SELECT DISTINCT e.id AS oid, e.profile_id AS pid, e.timestamp AS ts, NULLIF(item ->> 'category', '') AS x
        FROM tracking_event e CROSS JOIN LATERAL jsonb_array_elements(e.properties -> 'products') AS item
        WHERE e.profile_id IS NOT NULL AND e.name IN ({marks}){only}
          AND jsonb_typeof(e.properties -> 'products') = 'array' AND jsonb_typeof(item) = 'object'
    ),
    seq AS (SELECT pid, x, ts, lead(ts) OVER (PARTITION BY pid, x ORDER BY ts, oid) AS next_ts FROM items
            WHERE x IS NOT NULL)
    SELECT pid, x, ts, next_ts FROM seq WHERE next_ts IS NOT NULL
    """
    with connection.cursor() as cur:
        if profile_ids is None:
            cur.execute("TRUNCATE analytics_repurchasefact")
            cur.execute(sql, names)
        else:
            cur.execute("DELETE FROM analytics_repurchasefact WHERE profile_id = ANY(%s)", [profile_ids])
            cur.execute(sql, [*names, profile_ids])
        return cur.rowcount


def affinity_rows_rollup(*, options: AffinityOptions) -> dict[str, Any]:
    """`affinity_rows` for same-order baskets, from the rollups (plus days not folded yet)."""
    from tracking.analytics.behaviour.rollups import rollup_live_days, rollup_source

    rng = options.range
    item_src, item_params = rollup_source(
        kind="affinity", table="analytics_affinityitemday", columns=ITEM_COLUMNS, part="item", rng=rng
    )
    pair_src, pair_params = rollup_source(
        kind="affinity", table="analytics_affinitypairday", columns=PAIR_COLUMNS_ROLLUP, part="pair", rng=rng
    )
    sql = f"""
    WITH it AS (SELECT item, sum(baskets)::bigint AS n FROM ({item_src}) i WHERE level = %s GROUP BY item),
    pr AS (SELECT a, b, sum(baskets)::bigint AS both_ FROM ({pair_src}) p WHERE level = %s
           GROUP BY a, b HAVING sum(baskets) >= %s)
    SELECT p.a, p.b, p.both_, sa.n, sb.n, t.n
    FROM pr p JOIN it sa ON sa.item = p.a JOIN it sb ON sb.item = p.b JOIN it t ON t.item = ''
    ORDER BY p.both_::float / sa.n * t.n / sb.n DESC, p.both_ DESC, p.a, p.b
    LIMIT 500
    """
    lo, hi = rng.utc_bounds()
    with analysis_cursor() as cur:
        cur.execute(sql, [*item_params, options.level, *pair_params, options.level, options.min_support])
        pair_rows = cur.fetchall()
        live = rollup_live_days(kind="affinity", rng=rng)
        names = spec_event_names(SpecEvent.ORDER_COMPLETED)
        marks = ", ".join(["%s"] * len(names))
        stale = False
        if live:
            # Repurchase facts are per profile: a day not folded yet with orders makes them stale.
            cur.execute(
                f"SELECT EXISTS (SELECT 1 FROM tracking_event e WHERE e.name IN ({marks}) "
                "AND (e.timestamp AT TIME ZONE 'UTC')::date = ANY(%s::date[]))",
                [*names, live],
            )
            stale = cur.fetchone()[0]
        if stale:
            return affinity_rows(options=options)
        cur.execute(
            "SELECT category, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM next_at - at) / 86400.0), "
            "count(*) FROM analytics_repurchasefact WHERE at >= %s AND next_at < %s GROUP BY category ORDER BY category",
            [lo, hi],
        )
        repurchase = {x: (float(m), n) for x, m, n in cur.fetchall()}
    return _found(pair_rows, repurchase, options.level)


def affinity_uses_rollups(options: AffinityOptions) -> bool:
    return options.mode == "order"


def bought_a_not_b_rule(*, a: str, b: str, level: str) -> dict[str, Any]:
    prop = "products.category" if level == "category" else "products.product_id"

    def bought(x: str) -> dict[str, Any]:
        return {"event": "Order Completed", "where": [{"property": prop, "op": "eq", "value": x}]}

    return {"all": [bought(a), {"not": bought(b)}]}


def bought_a_not_b_url(*, a: str, b: str, level: str) -> str:
    rule = bought_a_not_b_rule(a=a, b=b, level=level)
    return (
        AUDIENCE_ADD_URL
        + "?"
        + urlencode({"name": f"Bought {a}, not {b}"[:200], "kind": "rule", "rule": json.dumps(rule)})
    )


PAIR_COLUMNS = ["a", "b", "baskets_with_both", "support", "confidence", "lift", "journey_delay_days"]


def affinity_report(raw: dict[str, Any]) -> dict[str, Any]:
    options = affinity_parse(raw)
    from_rollups = affinity_uses_rollups(options)
    found = affinity_rows_rollup(options=options) if from_rollups else affinity_rows(options=options)
    # The repurchase moment as a journey delay: at the category level, A's median days to buy again
    # (when the cross-sell message to "bought A, not B" has the best chance).
    for pair in found["pairs"]:
        interval = found["repurchase"].get(pair["a"]) if options.level == "category" else None
        pair["journey_delay_days"] = round(interval[0]) if interval else None
    repurchase = [
        {"category": x, "median_days": round(m, 1), "repurchases": n}
        for x, (m, n) in sorted(found["repurchase"].items())
    ]
    labels = (
        product_names(ids=sorted({x for p in found["pairs"][:100] for x in (p["a"], p["b"])}))
        if options.level == "product"
        else {}
    )
    for pair in found["pairs"]:
        pair["a_name"] = labels.get(pair["a"], "")
        pair["b_name"] = labels.get(pair["b"], "")
    top = found["pairs"][:12]
    return {
        "date_from": options.range.date_from.isoformat(),
        "date_to": options.range.date_to.isoformat(),
        "level": options.level,
        "mode": options.mode,
        "days": options.days,
        "from_rollups": from_rollups,
        "pairs": found["pairs"],
        "repurchase": repurchase,
        "tables": {
            "pairs": {
                "columns": PAIR_COLUMNS,
                "rows": [[p[c] for c in PAIR_COLUMNS] for p in found["pairs"]],
            },
            "repurchase": {
                "columns": ["category", "median_days", "repurchases"],
                "rows": [[r["category"], r["median_days"], r["repurchases"]] for r in repurchase],
            },
        },
        "charts": {
            "lift": {
                "labels": [f"{p['a_name'] or p['a']} → {p['b_name'] or p['b']}" for p in top],
                "values": [p["lift"] for p in top],
            }
        },
    }
