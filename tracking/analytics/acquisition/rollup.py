"""The acquisition page's rollup: per zone, local day and creative (channel, campaign, utm_content),
the sessions, new profiles (+ their ROAS-window revenue), new customers, per credit model the orders,
revenue, orders without a rate and partner cost, and per ad and day the impressions, clicks and cost
in the workspace currency — every sum the page shows.

Days in three zones, each folded from the facts themselves (never from another level), so a day is
whole in its own zone and there are no partial edge days to patch from a finer level:
- `utc`: the UTC day;
- `workspace`: the day in the workspace zone (settings.TIME_ZONE when the rollup was built, in the
  state row; DST and half-hour offsets included — PostgreSQL's `AT TIME ZONE` does the calendar);
- `profile`: the day in each profile's own zone (the workspace zone when the profile has none that
  PostgreSQL knows), exactly as the raw recompute reads it.
Spend rows are stored once (zone ''): a spend day is the platform's calendar day in every zone.

Rebuilt whole by `acquisition_rollup_rebuild()` right after the order credits are recomputed
(`analytics.acquisition_refresh`, hourly; also at the end of the demo load). It holds every fact
before `cutoff` (the hour the rebuild started), so the day holding the cutoff is partial in the rollup
and `acquisition_figures` adds the raw facts from the cutoff on (the live tail): rollup + tail is the
raw recompute exactly. Sums are PostgreSQL `numeric` without a scale (tests/test_analytics_rollup.py,
tests/test_acquisition_rollup_days.py, bench/acquisition.py check equality).

Between rebuilds, facts that change in the past are followed at once: new exchange rates
(`money.fx_rates_changed`), profile merges and erasures mark UTC days dirty
(`acquisition_days_mark_dirty`) and `analytics.acquisition_refold` refolds the local days around them
(`acquisition_rollup_refold`). Until it has, the page computes a range touching a dirty day raw.
A spend import refreshes the spend rows at once (`acquisition_rollup_spend_refresh`).
Not followed between rebuilds: a profile changing its time zone (its `profile` days), and orders after
the cutoff falling in the ROAS window of a first touch before it (the window revenue) — the next
hourly rebuild takes both in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking.analytics.money import fx_rates_ensure, workspace_currency

DEFAULT_WINDOW_DAYS = 30
ROLLUP_ZONES = ("utc", "workspace", "profile")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('analytics_acquisition_rollup'))"

_FX_ORDER = "analytics_fx(o.revenue, o.currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s)"
# Facts of the chosen UTC days only (a refold), or all of them (a rebuild: %(near)s is NULL).
_NEAR = "(%(near)s::date[] IS NULL OR ({alias}.at >= %(lo)s AND {alias}.at < %(hi)s AND ({alias}.at AT TIME ZONE 'UTC')::date = ANY(%(near)s::date[])))"
# A rebuild takes every profile's first touch in one sorted pass; a refold probes the (profile, at)
# index for the touches of its days that have no earlier one.
_FIRST_TOUCH_ALL = """SELECT DISTINCT ON (profile_id) profile_id, at, channel, campaign, content
  FROM analytics_touch ORDER BY profile_id, at, id"""
_FIRST_TOUCH_NEAR = """SELECT t.profile_id, t.at, t.channel, t.campaign, t.content FROM analytics_touch t
  WHERE {near_t} AND NOT EXISTS (SELECT 1 FROM analytics_touch e WHERE e.profile_id = t.profile_id
                                 AND (e.at < t.at OR (e.at = t.at AND e.id < t.id)))"""
_FIRST_ORDER_ALL = """SELECT DISTINCT ON (profile_id) profile_id, at FROM analytics_orderfact
  ORDER BY profile_id, at, id"""
_FIRST_ORDER_NEAR = """SELECT o.profile_id, o.at FROM analytics_orderfact o
  WHERE {near_o} AND NOT EXISTS (SELECT 1 FROM analytics_orderfact e WHERE e.profile_id = o.profile_id
                                 AND (e.at < o.at OR (e.at = o.at AND e.id < o.id)))"""

_SUMS = (
    "sessions",
    "new_profiles",
    "new_customers",
    "window_revenue",
    "window_missing",
    "orders",
    "revenue",
    "missing",
    "partner_cost",
)
_FOLD = """
WITH first_touch AS ({first_touch}),
facts (profile_id, at, channel, campaign, creative, model, {sums}) AS (
  -- Sessions: every touch.
  SELECT t.profile_id, t.at, t.channel, t.campaign, t.content, '', 1, 0, 0, 0::numeric, 0, 0::numeric,
         0::numeric, 0::numeric, 0::numeric
  FROM analytics_touch t WHERE t.at < %(cutoff)s AND {near_t}
  UNION ALL
  -- New profiles (at their first-ever touch) and their revenue within the ROAS window of it.
  SELECT a.profile_id, a.at, a.channel, a.campaign, a.content, '', 0, 1, 0, w.revenue, w.missing, 0, 0, 0, 0
  FROM first_touch a
  LEFT JOIN LATERAL (
    SELECT sum({fx}) AS revenue, count(*) FILTER (WHERE {fx} IS NULL) AS missing
    FROM analytics_orderfact o
    WHERE o.profile_id = a.profile_id AND o.at >= a.at AND o.at <= a.at + %(window)s
  ) w ON true
  WHERE a.at < %(cutoff)s
  UNION ALL
  -- New customers (at their first order), keyed by their first-ever touch (Direct without one).
  SELECT f.profile_id, f.at, COALESCE(a.channel, 'Direct'), COALESCE(a.campaign, ''), COALESCE(a.content, ''),
         '', 0, 0, 1, 0, 0, 0, 0, 0, 0
  FROM ({first_order}) f
  LEFT JOIN LATERAL (SELECT t.channel, t.campaign, t.content FROM analytics_touch t
                     WHERE t.profile_id = f.profile_id ORDER BY t.at, t.id LIMIT 1) a ON true
  WHERE f.at < %(cutoff)s
  UNION ALL
  -- Orders and revenue by credit (each model), orders left out for want of a rate, partner cost.
  SELECT x.profile_id, x.at, x.channel, x.campaign, x.content, x.model, 0, 0, 0, 0, 0, x.weight,
         x.weight * x.fx, CASE WHEN x.fx IS NULL THEN x.weight ELSE 0 END,
         CASE WHEN x.p_percent IS NOT NULL THEN x.weight * (x.fx * x.p_percent / 100 + COALESCE(x.p_fee, 0)) ELSE 0 END
  FROM (
    SELECT o.profile_id, o.at, c.channel, c.campaign, c.content, c.model, c.weight, {fx} AS fx,
           p.commission_percent AS p_percent,
           analytics_fx(p.fixed_fee, p.fee_currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s) AS p_fee
    FROM analytics_ordercredit c JOIN analytics_orderfact o ON o.id = c.order_id
    LEFT JOIN analytics_partner p ON p.id = c.partner_id
    WHERE o.at < %(cutoff)s AND {near_o}
  ) x
),
known_zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
dated AS (
  SELECT f.*, (f.at AT TIME ZONE 'UTC')::date AS ud, (f.at AT TIME ZONE %(tz)s)::date AS wd,
         (f.at AT TIME ZONE COALESCE(z.name, %(tz)s))::date AS pd
  FROM facts f LEFT JOIN tracking_profile p ON p.id = f.profile_id LEFT JOIN known_zones z ON z.name = p.timezone
),
folded AS (
  -- One pass over the facts, three days each: UTC, the workspace's and the profile's.
  SELECT CASE WHEN GROUPING(ud) = 0 THEN 'utc' WHEN GROUPING(wd) = 0 THEN 'workspace' ELSE 'profile' END AS zone,
         COALESCE(ud, wd, pd) AS day, channel, campaign, creative, model,
         {summed}
  FROM dated GROUP BY GROUPING SETS ((ud, channel, campaign, creative, model), (wd, channel, campaign, creative, model),
                                     (pd, channel, campaign, creative, model))
)
INSERT INTO analytics_acquisitionday (zone, day, channel, campaign, creative, model, {sums})
SELECT zone, day, channel, campaign, creative, model, {sums} FROM folded
WHERE %(keep_utc)s::date[] IS NULL OR (zone = 'utc' AND day = ANY(%(keep_utc)s::date[]))
   OR (zone <> 'utc' AND day = ANY(%(keep_local)s::date[]))
"""

_SPEND = """INSERT INTO analytics_acquisitionday (zone, day, channel, campaign, creative, model, impressions, clicks,
      cost, cost_missing)
    SELECT '', s.day, s.channel, s.campaign, s.ad, 'spend', sum(s.impressions), sum(s.clicks), COALESCE(sum(fx), 0),
           count(*) FILTER (WHERE fx IS NULL)
    FROM (SELECT s.*, analytics_fx(s.cost, s.currency, s.day, %(ws)s) AS fx FROM analytics_adspend s
          WHERE %(keep_utc)s::date[] IS NULL OR s.day = ANY(%(keep_utc)s::date[])) s
    GROUP BY 2, 3, 4, 5"""


def _fold_sql(*, partial: bool) -> str:
    near_t, near_o = _NEAR.format(alias="t"), _NEAR.format(alias="o")
    return _FOLD.format(
        first_touch=_FIRST_TOUCH_NEAR.format(near_t=near_t) if partial else _FIRST_TOUCH_ALL,
        first_order=_FIRST_ORDER_NEAR.format(near_o=near_o) if partial else _FIRST_ORDER_ALL,
        near_t=near_t,
        near_o=near_o,
        fx=_FX_ORDER,
        sums=", ".join(_SUMS),
        summed=", ".join(f"COALESCE(sum({name}), 0) AS {name}" for name in _SUMS),
    )


@dataclass(frozen=True)
class RollupState:
    built_at: datetime
    cutoff: datetime
    currency: str
    window_days: int
    seconds: float
    workspace_zone: str = "UTC"


def rollup_window_days() -> int:
    return int(getattr(settings, "ANALYTICS_ROAS_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


@transaction.atomic
def acquisition_rollup_rebuild(*, now: datetime | None = None) -> RollupState:
    """Recompute the whole rollup from touches, orders and credits (readers see the old one until commit)."""
    fx_rates_ensure()
    now = now or timezone.now()
    cutoff = now.replace(minute=0, second=0, microsecond=0)
    params = _params(cutoff=cutoff, currency=workspace_currency(), zone=settings.TIME_ZONE, days=None)
    started = datetime.now()
    with connection.cursor() as cursor:
        # One rebuild at a time (the hourly task and a demo load may meet).
        cursor.execute(_LOCK)
        cursor.execute("DELETE FROM analytics_acquisitionday")
        # Dirty days marked before this transaction began are in the rebuild; later ones stay marked.
        cursor.execute("DELETE FROM analytics_acquisitiondirtyday WHERE marked_at <= now()")
        cursor.execute(_fold_sql(partial=False), params)
        cursor.execute(_SPEND, params)
        seconds = (datetime.now() - started).total_seconds()
        cursor.execute(
            """INSERT INTO analytics_acquisitionrollupstate (id, built_at, cutoff, currency, window_days, seconds,
                 workspace_zone)
               VALUES (1, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (id) DO UPDATE SET built_at = excluded.built_at, cutoff = excluded.cutoff,
                 currency = excluded.currency, window_days = excluded.window_days, seconds = excluded.seconds,
                 workspace_zone = excluded.workspace_zone""",
            [now, cutoff, params["ws"], rollup_window_days(), seconds, params["tz"]],
        )
    return RollupState(now, cutoff, params["ws"], rollup_window_days(), seconds, params["tz"])


def _params(*, cutoff: datetime, currency: str, zone: str, days: list[date] | None) -> dict:
    params: dict = {
        "cutoff": cutoff,
        "ws": currency,
        "tz": zone,
        "window": timedelta(days=rollup_window_days()),
        "near": None,
        "lo": None,
        "hi": None,
        "keep_utc": None,
        "keep_local": None,
    }
    if days is not None:
        # A local day lies within one UTC day either side of the same date (offsets are −12 h … +14 h):
        # the local days to refold are the dirty days ±1, and their facts lie on the UTC days ±2.
        local = sorted({d + timedelta(days=k) for d in days for k in (-1, 0, 1)})
        near = sorted({d + timedelta(days=k) for d in days for k in (-2, -1, 0, 1, 2)})
        params.update(
            near=near,
            lo=_utc_midnight(near[0]),
            hi=_utc_midnight(near[-1] + timedelta(days=1)),
            keep_utc=sorted(days),
            keep_local=local,
        )
    return params


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def acquisition_days_mark_dirty(*, days: Iterable[date]) -> int:
    """Mark UTC days whose facts changed under the rollup (in the caller's transaction) and wake the
    refold after commit. Nothing to do while there is no rollup."""
    from core.wake import task_wake_on_commit
    from tracking.analytics.tasks_acquisition import acquisition_refold

    unique = sorted(set(days))
    if not unique:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM analytics_acquisitionrollupstate WHERE id = 1")
        if cursor.fetchone() is None:
            return 0
        cursor.execute(
            """INSERT INTO analytics_acquisitiondirtyday (day) SELECT unnest(%s::date[])
               ON CONFLICT (day) DO UPDATE SET marked_at = now()""",
            [unique],
        )
    task_wake_on_commit(task=acquisition_refold)
    return len(unique)


def acquisition_days_of_profiles(*, profile_ids: list[int]) -> list[date]:
    """The UTC days of the profiles' touches and orders: every fact of theirs the rollup folded (a
    first touch's window revenue is folded on the touch's day)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (at AT TIME ZONE 'UTC')::date FROM analytics_touch WHERE profile_id = ANY(%(ids)s)
               UNION
               SELECT (at AT TIME ZONE 'UTC')::date FROM analytics_orderfact WHERE profile_id = ANY(%(ids)s)""",
            {"ids": profile_ids},
        )
        return [row[0] for row in cursor.fetchall()]


@transaction.atomic
def acquisition_rollup_refold(*, days: list[date] | None = None) -> list[date]:
    """Refold the local days around the given UTC days (default: the days marked dirty, which it
    clears) from the facts before the rollup's cutoff. Returns the UTC days refolded."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK)
        state = rollup_state()
        if days is None:
            cursor.execute("DELETE FROM analytics_acquisitiondirtyday RETURNING day")
            days = [row[0] for row in cursor.fetchall()]
        if not days or state is None:
            return []
        params = _params(cutoff=state.cutoff, currency=state.currency, zone=state.workspace_zone, days=days)
        # The window the state was built for, not today's setting (the rollup stays one build).
        params["window"] = timedelta(days=state.window_days)
        cursor.execute(
            """DELETE FROM analytics_acquisitionday
               WHERE (zone IN ('utc', '') AND day = ANY(%(keep_utc)s::date[]))
                  OR (zone IN ('workspace', 'profile') AND day = ANY(%(keep_local)s::date[]))""",
            params,
        )
        cursor.execute(_fold_sql(partial=True), params)
        cursor.execute(_SPEND, params)
    return sorted(days)


@transaction.atomic
def acquisition_rollup_spend_refresh() -> None:
    """The rollup's spend rows again (after a spend import: imported days may lie anywhere in the past)."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK)
        cursor.execute("SELECT currency FROM analytics_acquisitionrollupstate WHERE id = 1")
        found = cursor.fetchone()
        if not found:
            return  # no rollup yet: the first rebuild includes the spend
        cursor.execute("DELETE FROM analytics_acquisitionday WHERE model = 'spend'")
        cursor.execute(_SPEND, {"ws": found[0], "keep_utc": None})


def rollup_state() -> RollupState | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT built_at, cutoff, currency, window_days, seconds, workspace_zone "
            "FROM analytics_acquisitionrollupstate WHERE id = 1"
        )
        row = cursor.fetchone()
    return RollupState(*row) if row else None


def rollup_dirty_within(*, start: date, end: date) -> bool:
    """Whether a day marked dirty (not yet refolded) touches the local days [start, end]."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM analytics_acquisitiondirtyday WHERE day BETWEEN %s AND %s)",
            [start - timedelta(days=1), end + timedelta(days=1)],
        )
        return bool(cursor.fetchone()[0])


def rollup_usable(
    *, state: RollupState | None, zone: str, window_days: int, currency: str, start: date, end: date
) -> bool:
    if state is None or state.currency != currency or state.window_days != window_days:
        return False
    # The workspace and profile days were folded in the workspace zone of the build.
    if zone != "utc" and state.workspace_zone != settings.TIME_ZONE:
        return False
    return not rollup_dirty_within(start=start, end=end)
