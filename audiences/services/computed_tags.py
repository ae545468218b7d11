"""Computed tags, recomputed in bulk SQL: each family is one INSERT … SELECT replacing its rows.

Families (rules use them like manual tags, e.g. {"tag": "rfm:champions"}):
- rfm:<segment> (value: the R, F and M scores 1–5, quintiles over buyers of the last year):
  champions, loyal, potential, at_risk, hibernating, lost;
- lifecycle:<stage>: new, active, at_risk, churned (thresholds in settings);
- active_hour:<0-23> and active_weekday:<mon…sun>: when the profile is most active, in its own
  time zone (UTC when it has none or an unknown one);
- favourite_category:<category>: the category seen most in its events;
- coupon_sensitivity:<high|medium|low> (value: the share of orders with a coupon or discount).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audiences.models import Audience, AudienceKind, ComputedTag
from audiences.rules import rule_dependencies

FAMILIES = ("rfm", "lifecycle", "active_hour", "active_weekday", "favourite_category", "coupon_sensitivity")

RFM_SEGMENT_SQL = (
    "CASE WHEN r >= 4 AND f >= 4 THEN 'champions' WHEN r >= 3 AND f >= 3 THEN 'loyal' "
    "WHEN r >= 3 THEN 'potential' WHEN f >= 3 THEN 'at_risk' WHEN r = 2 THEN 'hibernating' ELSE 'lost' END"
)


def _number(path: str) -> str:
    """SQL for a numeric event property, 0 when absent or not a number."""
    return f"(CASE WHEN jsonb_typeof(e.properties -> '{path}') = 'number' THEN (e.properties ->> '{path}')::numeric ELSE 0 END)"


def _text(path: str) -> str:
    return f"COALESCE(e.properties ->> '{path}', '')"


def _replace(family: str, select_sql: str, params: list[Any], now: datetime) -> int:
    """Replace a family's tags with the rows (profile_id, name, value) of `select_sql`."""
    table = ComputedTag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE family = %s", [family])
        cursor.execute(
            f"INSERT INTO {table} (profile_id, name, family, value, computed_at) "
            f"SELECT s.profile_id, s.name, %s, s.value, %s FROM ({select_sql}) s",
            [family, now, *params],
        )
        return cursor.rowcount


def rfm_recompute(*, now: datetime) -> int:
    since = now - timedelta(days=settings.AUDIENCES_RFM_WINDOW_DAYS)
    concat = "r::text || f::text || m::text"
    sql = f"""
        WITH orders AS (
            SELECT e.profile_id, MAX(e.timestamp) AS last_at, COUNT(*) AS n,
                   SUM({_number(settings.AUDIENCES_ORDER_REVENUE_PROPERTY)}) AS money
            FROM tracking_event e
            WHERE e.name = %s AND e.profile_id IS NOT NULL AND e.timestamp >= %s
            GROUP BY e.profile_id
        ), scored AS (
            SELECT profile_id,
                   NTILE(5) OVER (ORDER BY last_at) AS r,
                   NTILE(5) OVER (ORDER BY n) AS f,
                   NTILE(5) OVER (ORDER BY money) AS m
            FROM orders
        )
        SELECT profile_id, 'rfm:' || {RFM_SEGMENT_SQL} AS name, {concat} AS value FROM scored
    """
    return _replace("rfm", sql, [settings.AUDIENCES_ORDER_EVENT, since], now)


def lifecycle_recompute(*, now: datetime) -> int:
    sql = """
        SELECT id AS profile_id, 'lifecycle:' || CASE
            WHEN first_seen_at >= %s THEN 'new'
            WHEN last_seen_at >= %s THEN 'active'
            WHEN last_seen_at >= %s THEN 'at_risk'
            ELSE 'churned' END AS name, '' AS value
        FROM tracking_profile WHERE last_seen_at IS NOT NULL
    """
    params = [
        now - timedelta(days=settings.AUDIENCES_LIFECYCLE_NEW_DAYS),
        now - timedelta(days=settings.AUDIENCES_LIFECYCLE_ACTIVE_DAYS),
        now - timedelta(days=settings.AUDIENCES_LIFECYCLE_AT_RISK_DAYS),
    ]
    return _replace("lifecycle", sql, params, now)


def active_times_recompute(*, now: datetime) -> int:
    since = now - timedelta(days=settings.AUDIENCES_ACTIVITY_WINDOW_DAYS)
    local = """
        WITH zones AS (SELECT name FROM pg_timezone_names),
        local AS (
            SELECT e.profile_id, e.timestamp AT TIME ZONE COALESCE(z.name, 'UTC') AS t
            FROM tracking_event e
            JOIN tracking_profile p ON p.id = e.profile_id
            LEFT JOIN zones z ON z.name = p.timezone
            WHERE e.timestamp >= %s AND e.profile_id IS NOT NULL
        ), buckets AS (
            SELECT profile_id, {part} AS k, COUNT(*) AS n,
                   ROW_NUMBER() OVER (PARTITION BY profile_id ORDER BY COUNT(*) DESC, {part}) AS rk
            FROM local GROUP BY profile_id, {part}
        )
        SELECT profile_id, {label} AS name, n::text AS value FROM buckets WHERE rk = 1
    """
    total = _replace(
        "active_hour",
        local.format(part="EXTRACT(HOUR FROM t)::int", label="'active_hour:' || k::text"),
        [since],
        now,
    )
    days = "(ARRAY['mon','tue','wed','thu','fri','sat','sun'])[k]"
    total += _replace(
        "active_weekday",
        local.format(part="EXTRACT(ISODOW FROM t)::int", label=f"'active_weekday:' || {days}"),
        [since],
        now,
    )
    return total


def favourite_category_recompute(*, now: datetime) -> int:
    since = now - timedelta(days=settings.AUDIENCES_ACTIVITY_WINDOW_DAYS)
    cats = """
            SELECT e.profile_id, c.v #>> '{}' AS c FROM tracking_event e
            CROSS JOIN LATERAL jsonb_path_query(
                e.properties, '$.category ? (@.type() == "string")') AS c(v)
            WHERE e.timestamp >= %s AND e.profile_id IS NOT NULL
            UNION ALL
            SELECT e.profile_id, c.v #>> '{}' FROM tracking_event e
            CROSS JOIN LATERAL jsonb_path_query(
                e.properties, '$.products.category ? (@.type() == "string")') AS c(v)
            WHERE e.timestamp >= %s AND e.profile_id IS NOT NULL
        """
    norm = "lower(replace(trim(c), ' ', '_'))"
    sql = f"""
        WITH cats AS ({cats}), ranked AS (
            SELECT profile_id, {norm} AS c, COUNT(*) AS n,
                   ROW_NUMBER() OVER (PARTITION BY profile_id ORDER BY COUNT(*) DESC, {norm}) AS rk
            FROM cats WHERE trim(c) <> '' GROUP BY profile_id, {norm}
        )
        SELECT profile_id, substr('favourite_category:' || c, 1, 100) AS name, n::text AS value
        FROM ranked WHERE rk = 1
    """
    return _replace("favourite_category", sql, [since, since], now)


def coupon_sensitivity_recompute(*, now: datetime) -> int:
    since = now - timedelta(days=settings.AUDIENCES_RFM_WINDOW_DAYS)
    coupon, discount = settings.AUDIENCES_ORDER_COUPON_PROPERTIES
    share = "ROUND(AVG(d)::numeric, 2)"
    sql = f"""
        WITH orders AS (
            SELECT e.profile_id,
                   CASE WHEN {_text(coupon)} <> '' OR {_number(discount)} > 0 THEN 1.0 ELSE 0.0 END AS d
            FROM tracking_event e
            WHERE e.name = %s AND e.profile_id IS NOT NULL AND e.timestamp >= %s
        ), shares AS (SELECT profile_id, {share} AS s FROM orders GROUP BY profile_id)
        SELECT profile_id,
               'coupon_sensitivity:' || CASE WHEN s >= 0.5 THEN 'high' WHEN s >= 0.2 THEN 'medium' ELSE 'low' END AS name,
               s::text AS value
        FROM shares
    """
    return _replace("coupon_sensitivity", sql, [settings.AUDIENCES_ORDER_EVENT, since], now)


def computed_tags_recompute(*, now: datetime | None = None) -> int:
    """Recompute every family, then refresh the audiences whose rules use tags (after commit)."""
    now = now or timezone.now()
    with transaction.atomic():
        total = rfm_recompute(now=now)
        total += lifecycle_recompute(now=now)
        total += active_times_recompute(now=now)
        total += favourite_category_recompute(now=now)
        total += coupon_sensitivity_recompute(now=now)
        _refresh_tag_audiences()
    return total


def _refresh_tag_audiences() -> None:
    from audiences.tasks import audience_refresh_task

    audiences = {s: (k, r) for s, k, r in Audience.objects.values_list("slug", "kind", "rule")}
    for pk, rule in Audience.objects.filter(kind=AudienceKind.RULE).values_list("pk", "rule"):
        if rule_dependencies(rule, audiences=audiences).tags:
            transaction.on_commit(lambda pk=pk: audience_refresh_task.delay(pk))


def tag_slug(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip().lower())
