"""Acquisition figures per channel → campaign → creative (or per day) for a date range.

Every amount is converted to the workspace currency at its own day's ECB rate in SQL
(`analytics_fx`); an amount without a rate is left out of the sum and counted in `missing_fx` (spend
rows, plus orders as the credited shares the row was given — whole orders under first/last touch), with
sample messages ("no JPY rate for 2026-03-04"). Served from the daily rollup plus the raw live tail
when it can (acquisition/rollup.py), else recomputed raw; both give the same figures. Days are read in UTC, the workspace zone, or each
profile's own zone (`zone`). Spend rows are already per calendar day as the platform reported it.

- impressions, clicks, cost: ad spend rows (+ partners' commission and fees on the orders credited
  to them under the chosen model); CTR = clicks / impressions, CPC = cost / clicks
- sessions: touches; new profiles: profiles whose first-ever touch falls in the range
- new customers: profiles whose first order falls in the range, by their first-ever touch
- orders, revenue: order credits under `model` (first/last/linear/position) for orders in the range
- CPA = cost / new customers; ROAS = revenue / cost; ROI = (revenue − cost) / cost
- window revenue / ROAS window: revenue of the profiles first touched in the range, from orders
  within `roas_window_days` of that first touch — slow-paying channels are not undersold
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from tracking.analytics.acquisition.rollup import rollup_state, rollup_usable
from tracking.analytics.money import fx_rates_ensure, money_convert, workspace_currency

LEVELS = ("channel", "campaign", "creative", "day")
SOURCES = ("auto", "raw", "rollup")
ZONES = ("utc", "workspace", "profile")
MODELS = ("first", "last", "linear", "position")


class FiguresError(ValueError):
    """A bad parameter; the message names it."""


@dataclass
class FigureRow:
    channel: str = ""
    campaign: str = ""
    creative: str = ""
    day: date | None = None
    impressions: int = 0
    clicks: int = 0
    cost: Decimal = Decimal(0)
    sessions: int = 0
    new_profiles: int = 0
    new_customers: int = 0
    orders: Decimal = Decimal(0)
    revenue: Decimal = Decimal(0)
    window_revenue: Decimal = Decimal(0)
    # Spend rows and (credited shares of) orders left out of cost/revenue for want of a rate.
    missing_fx: Decimal | int = 0
    window_missing_fx: int = 0  # orders left out of window_revenue for want of a rate

    @property
    def ctr(self) -> Decimal | None:
        return Decimal(self.clicks) / self.impressions if self.impressions else None

    @property
    def cpc(self) -> Decimal | None:
        return self.cost / self.clicks if self.clicks else None

    @property
    def cpa(self) -> Decimal | None:
        return self.cost / self.new_customers if self.new_customers else None

    @property
    def roas(self) -> Decimal | None:
        return self.revenue / self.cost if self.cost else None

    @property
    def roi(self) -> Decimal | None:
        return (self.revenue - self.cost) / self.cost if self.cost else None

    @property
    def window_roas(self) -> Decimal | None:
        return self.window_revenue / self.cost if self.cost else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("ctr", "cpc", "cpa", "roas", "roi", "window_roas"):
            data[name] = getattr(self, name)
        return data


@dataclass
class Figures:
    currency: str
    start: date
    end: date
    level: str
    model: str
    zone: str
    roas_window_days: int
    rows: list[FigureRow]
    total: FigureRow
    missing_fx: Decimal | int = 0
    missing_messages: list[str] = field(default_factory=list)
    source: str = "raw"  # "rollup" (+ the raw live tail since `rollup_cutoff`) or "raw"
    rollup_cutoff: datetime | None = None


def _local_day(alias: str, zone: str) -> str:
    if zone == "utc":
        return f"({alias}.at AT TIME ZONE 'UTC')::date"
    if zone == "workspace":
        return f"({alias}.at AT TIME ZONE %(tz)s)::date"
    # Each profile's own zone when it is one PostgreSQL knows, else the workspace's.
    return (
        f"({alias}.at AT TIME ZONE COALESCE((SELECT pz.timezone FROM tracking_profile pz "
        f"WHERE pz.id = {alias}.profile_id AND pz.timezone IN (SELECT name FROM pg_timezone_names)), %(tz)s))::date"
    )


def _keys(level: str, *, channel: str, campaign: str, creative: str, day: str) -> str:
    if level == "day":
        return f"'' AS k1, '' AS k2, '' AS k3, {day} AS kd"
    k2 = campaign if level in ("campaign", "creative") else "''"
    k3 = creative if level == "creative" else "''"
    return f"{channel} AS k1, {k2} AS k2, {k3} AS k3, NULL::date AS kd"


def _filters(alias_channel: str, alias_campaign: str, channel: str | None, campaign: str | None) -> str:
    parts = []
    if channel is not None:
        parts.append(f"{alias_channel} = %(channel)s")
    if campaign is not None:
        parts.append(f"{alias_campaign} = %(campaign)s")
    return "".join(f" AND {p}" for p in parts)


def acquisition_figures(
    *,
    start: date,
    end: date,
    level: str = "channel",
    model: str = "last",
    zone: str = "utc",
    roas_window_days: int = 30,
    channel: str | None = None,
    campaign: str | None = None,
    currency: str | None = None,
    source: str = "auto",
) -> Figures:
    """The figures from the rollup plus its live tail when it can serve them (`source="auto"`), else
    by a raw recompute; `source="raw"` forces the recompute (the benchmark and tests compare both)."""
    if level not in LEVELS:
        raise FiguresError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    if model not in MODELS:
        raise FiguresError(f"model: {model!r} is not one of {', '.join(MODELS)}")
    if zone not in ZONES:
        raise FiguresError(f"zone: {zone!r} is not one of {', '.join(ZONES)}")
    if end < start:
        raise FiguresError("end: before start")
    if (end - start).days > 3 * 366:
        raise FiguresError("end: the range is longer than three years")
    if not 1 <= roas_window_days <= 730:
        raise FiguresError("roas_window_days: must be between 1 and 730")
    if source not in SOURCES:
        raise FiguresError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    fx_rates_ensure()
    target = currency or workspace_currency()
    state = rollup_state() if source != "raw" else None
    use_rollup = rollup_usable(
        state=state, zone=zone, window_days=roas_window_days, currency=target, start=start, end=end
    )
    if source == "rollup" and not use_rollup:
        raise FiguresError("source: the rollup cannot serve these options (zone, window or currency)")
    from_ts = datetime.combine(start - timedelta(days=2), time(0), tzinfo=UTC)
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        # A generous UTC window around the local days, so the time indexes are used.
        "from_ts": from_ts,
        # Raw rows from here on: the live tail after the rollup's cutoff, or everything.
        "tail": max(from_ts, state.cutoff) if use_rollup and state else from_ts,
        "to_ts": end + timedelta(days=2),
        "tz": settings.TIME_ZONE,
        "ws": target,
        "model": model,
        "window": timedelta(days=roas_window_days),
        "channel": channel,
        "campaign": campaign,
    }
    rows: dict[tuple, FigureRow] = {}

    def row_for(k1: str, k2: str, k3: str, kd: date | None) -> FigureRow:
        key = (k1, k2, k3, kd)
        if key not in rows:
            rows[key] = FigureRow(channel=k1, campaign=k2, creative=k3, day=kd)
        return rows[key]

    spend_keys = _keys(level, channel="s.channel", campaign="s.campaign", creative="s.ad", day="s.day")
    touch_keys = _keys(
        level, channel="t.channel", campaign="t.campaign", creative="t.content", day=_local_day("t", zone)
    )
    acq_keys = _keys(
        level, channel="a.channel", campaign="a.campaign", creative="a.content", day=_local_day("a", zone)
    )
    credit_keys = _keys(
        level, channel="c.channel", campaign="c.campaign", creative="c.content", day=_local_day("o", zone)
    )
    # Touches in the range that are their profile's first-ever (ties by id): a range scan on `at` and an
    # index probe each, instead of every profile's first touch over all time.
    first_touch_in_range = """
      SELECT t.profile_id, t.id, t.at, t.channel, t.campaign, t.content FROM analytics_touch t
      WHERE t.at >= %(tail)s AND t.at < %(to_ts)s
        AND NOT EXISTS (SELECT 1 FROM analytics_touch e WHERE e.profile_id = t.profile_id
                        AND (e.at < t.at OR (e.at = t.at AND e.id < t.id)))
    """
    fx_order = "analytics_fx(o.revenue, o.currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s)"
    with connection.cursor() as cursor:
        # Spend (in the rollup when it serves).
        if not use_rollup:
            cursor.execute(
                f"""
                SELECT k1, k2, k3, kd, sum(impressions), sum(clicks), sum(fx), count(*) FILTER (WHERE fx IS NULL)
                FROM (SELECT {spend_keys}, s.impressions, s.clicks,
                             analytics_fx(s.cost, s.currency, s.day, %(ws)s) AS fx
                      FROM analytics_adspend s
                      WHERE s.day BETWEEN %(start)s AND %(end)s {_filters("s.channel", "s.campaign", channel, campaign)}) x
                GROUP BY 1, 2, 3, 4
                """,
                params,
            )
            for k1, k2, k3, kd, impressions, clicks, cost, missing in cursor.fetchall():
                row = row_for(k1, k2, k3, kd)
                row.impressions, row.clicks, row.cost, row.missing_fx = (
                    int(impressions),
                    int(clicks),
                    cost or 0,
                    missing,
                )
        if use_rollup:
            _rollup_add(
                cursor, params, level=level, zone=zone, channel=channel, campaign=campaign, row_for=row_for
            )
        # Sessions.
        cursor.execute(
            f"""
            SELECT k1, k2, k3, kd, count(*) FROM (
              SELECT {touch_keys}, {_local_day("t", zone)} AS local_day FROM analytics_touch t
              WHERE t.at >= %(tail)s AND t.at < %(to_ts)s {_filters("t.channel", "t.campaign", channel, campaign)}
            ) x WHERE local_day BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3, 4
            """,
            params,
        )
        for k1, k2, k3, kd, sessions in cursor.fetchall():
            row_for(k1, k2, k3, kd).sessions += sessions
        # New profiles (first-ever touch in range), their window revenue, and new customers.
        cursor.execute(
            f"""
            WITH a AS ({first_touch_in_range}),
            acquired AS (
              SELECT {acq_keys}, a.profile_id, a.at, {_local_day("a", zone)} AS local_day FROM a
              WHERE true {_filters("a.channel", "a.campaign", channel, campaign)}
            )
            SELECT k1, k2, k3, kd, count(*),
                   sum((SELECT sum({fx_order}) FROM analytics_orderfact o
                        WHERE o.profile_id = acquired.profile_id AND o.at >= acquired.at
                          AND o.at <= acquired.at + %(window)s)),
                   sum((SELECT count(*) FROM analytics_orderfact o
                        WHERE o.profile_id = acquired.profile_id AND o.at >= acquired.at
                          AND o.at <= acquired.at + %(window)s AND {fx_order} IS NULL))
            FROM acquired WHERE local_day BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3, 4
            """,
            params,
        )
        for k1, k2, k3, kd, new_profiles, window_revenue, missing in cursor.fetchall():
            row = row_for(k1, k2, k3, kd)
            row.new_profiles += new_profiles
            row.window_revenue += window_revenue or 0
            row.window_missing_fx += missing or 0
        cursor.execute(
            f"""
            WITH first_order AS (
              -- Orders in the range that are their profile's first (ties by id), by the (profile, at) index.
              SELECT o.profile_id, o.at FROM analytics_orderfact o
              WHERE o.at >= %(tail)s AND o.at < %(to_ts)s
                AND NOT EXISTS (SELECT 1 FROM analytics_orderfact e WHERE e.profile_id = o.profile_id
                                AND (e.at < o.at OR (e.at = o.at AND e.id < o.id)))
            ),
            customers AS (
              SELECT o.profile_id, o.at, COALESCE(a.channel, 'Direct') AS channel,
                     COALESCE(a.campaign, '') AS campaign, COALESCE(a.content, '') AS content
              FROM first_order o
              LEFT JOIN LATERAL (SELECT t.channel, t.campaign, t.content FROM analytics_touch t
                                 WHERE t.profile_id = o.profile_id ORDER BY t.at, t.id LIMIT 1) a ON true
            )
            SELECT k1, k2, k3, kd, count(*) FROM (
              SELECT {_keys(level, channel="o.channel", campaign="o.campaign", creative="o.content", day=_local_day("o", zone))},
                     {_local_day("o", zone)} AS local_day
              FROM customers o WHERE true {_filters("o.channel", "o.campaign", channel, campaign)}
            ) x WHERE local_day BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3, 4
            """,
            params,
        )
        for k1, k2, k3, kd, customers in cursor.fetchall():
            row_for(k1, k2, k3, kd).new_customers += customers
        # Orders and revenue by credit, and partners' cost on what they were credited.
        cursor.execute(
            f"""
            SELECT k1, k2, k3, kd, sum(weight), sum(weight * fx), sum(weight) FILTER (WHERE fx IS NULL),
                   sum(weight * (fx * p_percent / 100 + COALESCE(p_fee, 0))) FILTER (WHERE p_percent IS NOT NULL)
            FROM (
              SELECT {credit_keys}, {_local_day("o", zone)} AS local_day, c.weight, c.order_id, {fx_order} AS fx,
                     p.commission_percent AS p_percent,
                     analytics_fx(p.fixed_fee, p.fee_currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s) AS p_fee
              FROM analytics_ordercredit c JOIN analytics_orderfact o ON o.id = c.order_id
              LEFT JOIN analytics_partner p ON p.id = c.partner_id
              WHERE c.model = %(model)s AND o.at >= %(tail)s AND o.at < %(to_ts)s
                {_filters("c.channel", "c.campaign", channel, campaign)}
            ) x WHERE local_day BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3, 4
            """,
            params,
        )
        for k1, k2, k3, kd, orders, revenue, missing, partner_cost in cursor.fetchall():
            row = row_for(k1, k2, k3, kd)
            row.orders += orders or 0
            row.revenue += revenue or 0
            row.missing_fx += missing or 0
            row.cost += partner_cost or 0
        messages = _missing_messages(cursor, params)
    ordered = sorted(
        rows.values(),
        key=lambda r: (r.day or date.min, -r.cost, -r.revenue, r.channel, r.campaign, r.creative),
    )
    for row in ordered:
        row.missing_fx = _whole(row.missing_fx)
    total = FigureRow(channel="Total")
    for row in ordered:
        for name in (
            "impressions",
            "clicks",
            "cost",
            "sessions",
            "new_profiles",
            "new_customers",
            "orders",
            "revenue",
            "window_revenue",
            "missing_fx",
            "window_missing_fx",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    total.missing_fx = _whole(total.missing_fx)
    return Figures(
        currency=target,
        start=start,
        end=end,
        level=level,
        model=model,
        zone=zone,
        roas_window_days=roas_window_days,
        rows=ordered,
        total=total,
        missing_fx=total.missing_fx,
        missing_messages=messages,
        source="rollup" if use_rollup else "raw",
        rollup_cutoff=state.cutoff if use_rollup and state else None,
    )


def _whole(value: Decimal | int) -> Decimal | int:
    """A count of left-out amounts: whole when it is (linear credit can leave a share of an order out)."""
    return int(value) if value == int(value) else Decimal(value).quantize(Decimal("0.01"))


def _rollup_add(cursor, params: dict[str, Any], *, level, zone, channel, campaign, row_for) -> None:
    """The rollup's sums into the rows: the range's local days in the chosen zone (everything before
    its cutoff) and the spend of the range's days; the raw queries add the live tail."""
    keys = _keys(level, channel="r.channel", campaign="r.campaign", creative="r.creative", day="r.day")
    cursor.execute(
        f"""
        SELECT k1, k2, k3, kd, sum(sessions), sum(new_profiles), sum(new_customers), sum(window_revenue),
               sum(window_missing), sum(orders), sum(revenue), sum(missing), sum(partner_cost),
               sum(impressions), sum(clicks), sum(cost), sum(cost_missing)
        FROM (SELECT {keys}, r.* FROM analytics_acquisitionday r
              WHERE ((r.zone = '' AND r.model = 'spend') OR (r.zone = %(zone)s AND r.model IN ('', %(model)s)))
                AND r.day BETWEEN %(start)s AND %(end)s
                {_filters("r.channel", "r.campaign", channel, campaign)}) x
        GROUP BY 1, 2, 3, 4
        """,
        {**params, "zone": zone},
    )
    for k1, k2, k3, kd, sessions, new_profiles, customers, window, window_missing, orders, revenue, missing, partner, impressions, clicks, cost, cost_missing in cursor.fetchall():  # fmt: skip
        row = row_for(k1, k2, k3, kd)
        row.sessions += int(sessions)
        row.new_profiles += int(new_profiles)
        row.new_customers += int(customers)
        row.window_revenue += window
        row.window_missing_fx += int(window_missing)
        row.orders += orders
        row.revenue += revenue
        row.missing_fx += missing + int(cost_missing)
        row.cost += partner + cost
        row.impressions += int(impressions)
        row.clicks += int(clicks)


def _missing_messages(cursor, params: dict[str, Any]) -> list[str]:
    # Each (currency, day) once, then its rate: cheap however many orders the range holds.
    cursor.execute(
        """
        SELECT currency, day FROM (
          SELECT DISTINCT s.currency, s.day FROM analytics_adspend s WHERE s.day BETWEEN %(start)s AND %(end)s
          UNION
          SELECT DISTINCT o.currency, (o.at AT TIME ZONE 'UTC')::date FROM analytics_orderfact o
          WHERE o.at >= %(from_ts)s AND o.at < %(to_ts)s
        ) x
        -- analytics_fx(…) IS NULL, as a join (a function call per pair was most of the page's time)
        WHERE currency <> %(ws)s AND (
          (currency <> 'EUR' AND NOT EXISTS (SELECT 1 FROM analytics_fxrate r WHERE r.currency = x.currency AND r.day = x.day))
          OR (%(ws)s <> 'EUR' AND NOT EXISTS (SELECT 1 FROM analytics_fxrate r WHERE r.currency = %(ws)s AND r.day = x.day)))
        ORDER BY day, currency LIMIT 5
        """,
        params,
    )
    messages = []
    for currency, day in cursor.fetchall():
        result = money_convert(amount=1, currency=currency, on=day, to=params["ws"])
        messages.append(getattr(result, "message", f"no {currency} rate for {day}"))
    return messages
