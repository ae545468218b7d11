"""The acquisition page's rollup: per UTC hour and creative (channel, campaign, utm_content), the
sessions, new profiles (+ their ROAS-window revenue), new customers, per credit model the orders,
revenue, orders without a rate and partner cost, and per ad and day the impressions, clicks and
cost in the workspace currency — every sum the page shows.

Rebuilt whole by `acquisition_rollup_rebuild()` right after the order credits are recomputed
(`analytics.acquisition_refresh`, hourly; also at the end of the demo load). It covers everything
before `cutoff` (the hour the rebuild started); `acquisition_figures` adds the raw figures from the
cutoff on (the live tail), so the page is never staler than the credits themselves. Ad spend is in it too (one row
per ad and day, cost converted): a spend import refreshes those rows at once
(`acquisition_rollup_spend_refresh`). Loading new exchange rates takes effect at the next rebuild. Sums are
PostgreSQL `numeric` without a scale, so rollup + tail equals the raw recompute exactly
(tests/test_analytics_rollup.py, bench/acquisition.py).

Served from the rollup: days in UTC, or in the workspace zone when its offset is whole hours over the
range; and the ROAS window the rollup was built for (setting ANALYTICS_ROAS_WINDOW_DAYS, default 30).
Each profile's own zone, or another window, is computed raw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking.analytics.money import fx_rates_ensure, workspace_currency

DEFAULT_WINDOW_DAYS = 30

_FIRST_TOUCH = """
  SELECT DISTINCT ON (profile_id) profile_id, id, at, channel, campaign, content
  FROM analytics_touch ORDER BY profile_id, at, id
"""
_FX_ORDER = "analytics_fx(o.revenue, o.currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s)"
_COLUMNS = (
    "hour, channel, campaign, creative, model, sessions, new_profiles, new_customers, "
    "window_revenue, window_missing, orders, revenue, missing, partner_cost"
)
_SPEND = f"""INSERT INTO analytics_acquisitionhour ({_COLUMNS}, impressions, clicks, cost, cost_missing)
    SELECT s.day::timestamp AT TIME ZONE 'UTC', s.channel, s.campaign, s.ad, 'spend', 0, 0, 0, 0, 0, 0, 0, 0, 0,
           sum(s.impressions), sum(s.clicks), COALESCE(sum(fx), 0), count(*) FILTER (WHERE fx IS NULL)
    FROM (SELECT s.*, analytics_fx(s.cost, s.currency, s.day, %(ws)s) AS fx FROM analytics_adspend s) s
    GROUP BY 1, 2, 3, 4"""
_REBUILD = [
    # Sessions: every touch.
    f"""INSERT INTO analytics_acquisitionhour ({_COLUMNS})
    SELECT date_trunc('hour', t.at, 'UTC'), t.channel, t.campaign, t.content, '', count(*), 0, 0, 0, 0, 0, 0, 0, 0
    FROM analytics_touch t WHERE t.at < %(cutoff)s GROUP BY 1, 2, 3, 4""",
    # New profiles (at their first-ever touch) and their revenue within the ROAS window of it.
    f"""INSERT INTO analytics_acquisitionhour ({_COLUMNS})
    SELECT date_trunc('hour', a.at, 'UTC'), a.channel, a.campaign, a.content, '', 0, count(*), 0,
           COALESCE(sum(w.revenue), 0), COALESCE(sum(w.missing), 0), 0, 0, 0, 0
    FROM ({_FIRST_TOUCH}) a
    LEFT JOIN LATERAL (
      SELECT sum({_FX_ORDER}) AS revenue, count(*) FILTER (WHERE {_FX_ORDER} IS NULL) AS missing
      FROM analytics_orderfact o
      WHERE o.profile_id = a.profile_id AND o.at >= a.at AND o.at <= a.at + %(window)s
    ) w ON true
    WHERE a.at < %(cutoff)s GROUP BY 1, 2, 3, 4""",
    # New customers (at their first order), keyed by their first-ever touch (Direct without one).
    f"""INSERT INTO analytics_acquisitionhour ({_COLUMNS})
    SELECT date_trunc('hour', f.at, 'UTC'), COALESCE(a.channel, 'Direct'), COALESCE(a.campaign, ''),
           COALESCE(a.content, ''), '', 0, 0, count(*), 0, 0, 0, 0, 0, 0
    FROM (SELECT DISTINCT ON (profile_id) profile_id, at FROM analytics_orderfact ORDER BY profile_id, at, id) f
    LEFT JOIN ({_FIRST_TOUCH}) a ON a.profile_id = f.profile_id
    WHERE f.at < %(cutoff)s GROUP BY 1, 2, 3, 4""",
    # Orders and revenue by credit (each model), orders left out for want of a rate, partner cost.
    f"""INSERT INTO analytics_acquisitionhour ({_COLUMNS})
    SELECT hour, channel, campaign, content, model, 0, 0, 0, 0, 0, sum(weight), COALESCE(sum(weight * fx), 0),
           COALESCE(sum(weight) FILTER (WHERE fx IS NULL), 0),
           COALESCE(sum(weight * (fx * p_percent / 100 + COALESCE(p_fee, 0))) FILTER (WHERE p_percent IS NOT NULL), 0)
    FROM (
      SELECT date_trunc('hour', o.at, 'UTC') AS hour, c.channel, c.campaign, c.content, c.model, c.weight,
             {_FX_ORDER} AS fx, p.commission_percent AS p_percent,
             analytics_fx(p.fixed_fee, p.fee_currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s) AS p_fee
      FROM analytics_ordercredit c JOIN analytics_orderfact o ON o.id = c.order_id
      LEFT JOIN analytics_partner p ON p.id = c.partner_id
      WHERE o.at < %(cutoff)s
    ) x GROUP BY 1, 2, 3, 4, 5""",
    # One row per hour and creative for sessions / new profiles / new customers (the three inserts above
    # each made their own): fewer rows for the page to sum.
    f"""WITH moved AS (DELETE FROM analytics_acquisitionhour WHERE model = '' RETURNING *)
    INSERT INTO analytics_acquisitionhour ({_COLUMNS})
    SELECT hour, channel, campaign, creative, '', sum(sessions), sum(new_profiles), sum(new_customers),
           sum(window_revenue), sum(window_missing), 0, 0, 0, 0
    FROM moved GROUP BY 1, 2, 3, 4""",
]


@dataclass(frozen=True)
class RollupState:
    built_at: datetime
    cutoff: datetime
    currency: str
    window_days: int
    seconds: float


def rollup_window_days() -> int:
    return int(getattr(settings, "ANALYTICS_ROAS_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


@transaction.atomic
def acquisition_rollup_rebuild(*, now: datetime | None = None) -> RollupState:
    """Recompute the whole rollup from touches, orders and credits (readers see the old one until commit)."""
    fx_rates_ensure()
    now = now or timezone.now()
    cutoff = now.replace(minute=0, second=0, microsecond=0)
    params = {
        "cutoff": cutoff,
        "ws": workspace_currency(),
        "window": timedelta(days=rollup_window_days()),
    }
    started = datetime.now()
    with connection.cursor() as cursor:
        # One rebuild at a time (the hourly task and a demo load may meet).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_acquisition_rollup'))")
        cursor.execute("DELETE FROM analytics_acquisitionhour")
        for sql in [*_REBUILD, _SPEND]:
            cursor.execute(sql, params)
        seconds = (datetime.now() - started).total_seconds()
        cursor.execute(
            """INSERT INTO analytics_acquisitionrollupstate (id, built_at, cutoff, currency, window_days, seconds)
               VALUES (1, %s, %s, %s, %s, %s)
               ON CONFLICT (id) DO UPDATE SET built_at = excluded.built_at, cutoff = excluded.cutoff,
                 currency = excluded.currency, window_days = excluded.window_days, seconds = excluded.seconds""",
            [now, cutoff, params["ws"], rollup_window_days(), seconds],
        )
    return RollupState(now, cutoff, params["ws"], rollup_window_days(), seconds)


@transaction.atomic
def acquisition_rollup_spend_refresh() -> None:
    """The rollup's spend rows again (after a spend import: imported days may lie anywhere in the past)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics_acquisition_rollup'))")
        cursor.execute("SELECT currency FROM analytics_acquisitionrollupstate WHERE id = 1")
        found = cursor.fetchone()
        if not found:
            return  # no rollup yet: the first rebuild includes the spend
        cursor.execute("DELETE FROM analytics_acquisitionhour WHERE model = 'spend'")
        cursor.execute(_SPEND, {"ws": found[0]})


def rollup_state() -> RollupState | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT built_at, cutoff, currency, window_days, seconds FROM analytics_acquisitionrollupstate WHERE id = 1"
        )
        row = cursor.fetchone()
    return RollupState(*row) if row else None


def whole_hour_zone(zone_name: str, start: date, end: date) -> bool:
    """Whether every UTC offset of the zone in the range is a whole number of hours (so an hour in
    UTC lies within one local day)."""
    zone = ZoneInfo(zone_name)
    day = start - timedelta(days=2)
    while day <= end + timedelta(days=2):
        for hour in (0, 12):
            offset = datetime(day.year, day.month, day.day, hour, tzinfo=zone).utcoffset()
            if offset is None or offset.total_seconds() % 3600:
                return False
        day += timedelta(days=1)
    return True


def rollup_usable(
    *, state: RollupState | None, zone: str, window_days: int, currency: str, start: date, end: date
) -> bool:
    if state is None or state.currency != currency or state.window_days != window_days:
        return False
    if zone == "utc":
        return True
    return zone == "workspace" and whole_hour_zone(settings.TIME_ZONE, start, end)
