"""New products against their category's baseline.

- A product (its `product_id` on "Product Viewed", "Product Added", or in an order's `products`) is
  new when it was first seen within the last `days` days before the range's end.
- Over the range, per product: viewers (profiles with a "Product Viewed"), the share of viewers who
  added it ("Product Added") and who ordered it (an "Order Completed" whose `products` hold it).
- Baseline: the same shares over the category's other (not new) products. Significance: a pooled
  two-proportion z-test of the product's order conversion against the baseline (two-sided p, via
  scipy); "above" / "below" only when p < 0.05.
- Refund rate: orders of it followed by an "Order Refunded" of the same `order_id` ÷ its orders
  (shown only where refunds exist).
- Rising / stalling: viewers in the range's last 7 days against the 7 days before (≥ 1.5× rising,
  ≤ 0.67× stalling).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from math import sqrt
from typing import Any

from tracking.analytics.behaviour.common import (
    AnalysisInvalid,
    DateRange,
    analysis_cursor,
    product_names,
    range_parse,
    spec_event_names,
)
from tracking.analytics.models import SpecEvent

ALPHA = 0.05


@dataclass(frozen=True)
class NewProductOptions:
    range: DateRange
    days: int


def new_products_default() -> dict[str, Any]:
    today = date.today()
    return {"date_from": (today - timedelta(days=27)).isoformat(), "date_to": today.isoformat(), "days": "30"}


def new_products_parse(raw: dict[str, Any]) -> NewProductOptions:
    errors: list[tuple[str, str]] = []
    rng = range_parse(raw, errors, tz="utc")
    try:
        days = int(raw.get("days") or 30)
        if not 1 <= days <= 365:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(("days", "must be a whole number from 1 to 365"))
        days = 30
    if errors:
        raise AnalysisInvalid(errors)
    assert rng is not None
    return NewProductOptions(rng, days)


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined."""
    if not n1 or not n2:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (x1 / n1 - x2 / n2) / se
    from scipy.stats import norm  # imported on first use: web and worker startup stay light

    return float(2 * norm.sf(abs(z)))


def new_products_rows(*, options: NewProductOptions) -> list[dict[str, Any]]:
    lo, hi = options.range.utc_bounds()
    viewed = spec_event_names(SpecEvent.PRODUCT_VIEWED)
    added = spec_event_names(SpecEvent.PRODUCT_ADDED)
    ordered = spec_event_names(SpecEvent.ORDER_COMPLETED)
    refunded = spec_event_names(SpecEvent.ORDER_REFUNDED)
    marks = lambda xs: ", ".join(["%s"] * len(xs))  # noqa: E731
    split = hi - timedelta(days=7)
    sql = f"""
    WITH touch AS (
        SELECT e.profile_id AS pid, e.timestamp AS ts, 'v' AS kind, e.properties ->> 'product_id' AS product,
               e.properties ->> 'category' AS category, NULL::text AS order_id
        FROM tracking_event e WHERE e.name IN ({marks(viewed)}) AND e.profile_id IS NOT NULL AND e.timestamp < %s
        UNION ALL
        SELECT e.profile_id, e.timestamp, 'a', e.properties ->> 'product_id', e.properties ->> 'category', NULL
        FROM tracking_event e WHERE e.name IN ({marks(added)}) AND e.profile_id IS NOT NULL AND e.timestamp < %s
        UNION ALL
        SELECT e.profile_id, e.timestamp, 'o', item ->> 'product_id', item ->> 'category', e.properties ->> 'order_id'
        FROM tracking_event e CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(e.properties -> 'products') = 'array' THEN e.properties -> 'products' ELSE '[]' END) item
        WHERE e.name IN ({marks(ordered)}) AND e.profile_id IS NOT NULL AND e.timestamp < %s AND jsonb_typeof(item) = 'object'
    ),
    products AS (
        SELECT product, min(ts) AS first_seen, (array_agg(category ORDER BY ts) FILTER (WHERE category IS NOT NULL))[1] AS category
        FROM touch WHERE product IS NOT NULL GROUP BY product
    ),
    refunds AS (
        SELECT DISTINCT e.properties ->> 'order_id' AS order_id FROM tracking_event e
        WHERE e.name IN ({marks(refunded)}) AND e.properties ->> 'order_id' IS NOT NULL
    ),
    per AS (
        SELECT t.product,
               count(DISTINCT t.pid) FILTER (WHERE kind = 'v') AS viewers,
               count(DISTINCT t.pid) FILTER (WHERE kind = 'a' AND t.pid IN (SELECT pid FROM touch v WHERE v.kind = 'v' AND v.product = t.product AND v.ts >= %s)) AS adders,
               count(DISTINCT t.pid) FILTER (WHERE kind = 'o' AND t.pid IN (SELECT pid FROM touch v WHERE v.kind = 'v' AND v.product = t.product AND v.ts >= %s)) AS buyers,
               count(DISTINCT t.order_id) FILTER (WHERE kind = 'o') AS orders,
               count(DISTINCT t.order_id) FILTER (WHERE kind = 'o' AND t.order_id IN (SELECT order_id FROM refunds)) AS refunded,
               count(DISTINCT t.pid) FILTER (WHERE kind = 'v' AND t.ts >= %s) AS viewers_last7,
               count(DISTINCT t.pid) FILTER (WHERE kind = 'v' AND t.ts >= %s AND t.ts < %s) AS viewers_prev7
        FROM touch t WHERE t.ts >= %s AND t.product IS NOT NULL GROUP BY t.product
    )
    SELECT p.product, p.category, p.first_seen, COALESCE(per.viewers, 0), COALESCE(per.adders, 0), COALESCE(per.buyers, 0),
           COALESCE(per.orders, 0), COALESCE(per.refunded, 0), COALESCE(per.viewers_last7, 0), COALESCE(per.viewers_prev7, 0)
    FROM products p LEFT JOIN per ON per.product = p.product
    """
    params = [
        *viewed, hi, *added, hi, *ordered, hi, *refunded,
        lo, lo, split, split - timedelta(days=7), split, lo,
    ]  # fmt: skip
    with analysis_cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    new_since = hi - timedelta(days=options.days)
    baseline: dict[Any, list[int]] = {}
    for _, category, first_seen, viewers, adders, buyers, *_ in rows:
        if first_seen < new_since:
            b = baseline.setdefault(category, [0, 0, 0])
            b[0] += viewers
            b[1] += adders
            b[2] += buyers
    out = []
    for product, category, first_seen, viewers, adders, buyers, orders, refunded, last7, prev7 in rows:
        if first_seen < new_since:
            continue
        base_v, base_a, base_b = baseline.get(category, [0, 0, 0])
        p = two_proportion_p(buyers, viewers, base_b, base_v)
        conv = buyers / viewers if viewers else None
        base_conv = base_b / base_v if base_v else None
        verdict = "not enough data"
        if p is not None and conv is not None and base_conv is not None:
            verdict = (
                ("above" if conv > base_conv else "below") + " its category"
                if p < ALPHA
                else "like its category"
            )
        trend = "steady"
        if last7 >= 3 and last7 >= 1.5 * max(prev7, 1):
            trend = "rising"
        elif prev7 >= 3 and last7 <= prev7 / 1.5:
            trend = "stalling"
        out.append(
            {
                "product_id": product,
                "category": category,
                "first_seen": first_seen.date().isoformat(),
                "viewers": viewers,
                "add_to_cart_rate": round(adders / viewers, 6) if viewers else None,
                "order_conversion": round(conv, 6) if conv is not None else None,
                "category_add_to_cart_rate": round(base_a / base_v, 6) if base_v else None,
                "category_order_conversion": round(base_conv, 6) if base_conv is not None else None,
                "p_value": round(p, 6) if p is not None else None,
                "verdict": verdict,
                "orders": orders,
                "refund_rate": round(refunded / orders, 6)
                if orders and refunded
                else (0.0 if orders else None),
                "viewers_last_7_days": last7,
                "viewers_previous_7_days": prev7,
                "trend": trend,
            }
        )
    out.sort(key=lambda r: (-r["viewers"], r["product_id"]))
    return out


COLUMNS = [
    "product_id",
    "category",
    "first_seen",
    "viewers",
    "add_to_cart_rate",
    "category_add_to_cart_rate",
    "order_conversion",
    "category_order_conversion",
    "p_value",
    "verdict",
    "orders",
    "refund_rate",
    "trend",
]


def new_products_report(raw: dict[str, Any]) -> dict[str, Any]:
    options = new_products_parse(raw)
    rows = new_products_rows(options=options)
    names = product_names(ids=[r["product_id"] for r in rows[:200]])
    for r in rows:
        r["name"] = names.get(r["product_id"], "")
    top = [r for r in rows if r["viewers"]][:12]
    return {
        "date_from": options.range.date_from.isoformat(),
        "date_to": options.range.date_to.isoformat(),
        "days": options.days,
        "products": rows,
        "rising": [r for r in rows if r["trend"] == "rising"],
        "stalling": [r for r in rows if r["trend"] == "stalling"],
        "tables": {"products": {"columns": COLUMNS, "rows": [[r[c] for c in COLUMNS] for r in rows]}},
        "charts": {
            "conversion": {
                "labels": [r["name"] or r["product_id"] for r in top],
                "product": [r["order_conversion"] for r in top],
                "baseline": [r["category_order_conversion"] for r in top],
            }
        },
    }
