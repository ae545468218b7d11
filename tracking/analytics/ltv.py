"""Realised LTV per acquisition cohort: cumulative revenue per customer N days after the first order.

A customer belongs to the cohort of their first order in [start, end], keyed by their first-ever
touch (channel, campaign, creative), the month of that first order, or their country. The point at
N days averages only customers whose first order is at least N days before `as_of` (the others have
not had N days yet); a point no customer has reached is None, not zero. Revenue is in the workspace
currency at each order's own day; orders without a rate are left out and counted.

LTV:CAC per channel (or campaign, creative): CAC is the key's cost in the range divided by the cohort's
customers; payback is the first point whose LTV reaches the CAC. Revenue-based: margins are not known
to Voyage. The cost is
- ad spend of the range's days by the same key (converted at each day's rate), plus
- partner cost (affiliates, KOLs): commission % of each order of the range credited to a partner plus
  its fixed fee, by the key the credit names, under last-touch credit (`PARTNER_COST_MODEL`: how
  affiliate programmes pay — the last referral or the coupon), the order's revenue and the fee each
  converted at the order's (UTC) day's rate.
Cost amounts without a rate are left out and counted (`cost_missing_fx`), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from tracking.analytics.money import fx_rates_ensure, workspace_currency

POINTS = (30, 60, 90, 180, 365)
PARTNER_COST_MODEL = "last"
COHORTS = ("channel", "campaign", "creative", "month", "country")


class LtvError(ValueError):
    pass


@dataclass
class Cohort:
    key: str
    customers: int
    ltv: dict[int, Decimal | None]  # day -> revenue per matured customer
    matured: dict[int, int]  # day -> customers with N days of history
    missing_fx: int = 0
    cost: Decimal | None = None  # for channel/campaign/creative cohorts: ad spend + partner cost
    cost_missing_fx: int = 0  # spend rows and partner-credited orders left out of cost for want of a rate

    @property
    def cac(self) -> Decimal | None:
        return self.cost / self.customers if self.cost is not None and self.customers else None

    @property
    def ltv_to_cac(self) -> Decimal | None:
        best = next((self.ltv[n] for n in reversed(POINTS) if self.ltv.get(n) is not None), None)
        return best / self.cac if best is not None and self.cac else None

    @property
    def payback_days(self) -> int | None:
        if not self.cac:
            return None
        return next((n for n in POINTS if self.ltv.get(n) is not None and self.ltv[n] >= self.cac), None)


@dataclass
class LtvCurves:
    currency: str
    by: str
    start: date
    end: date
    as_of: datetime
    cohorts: list[Cohort] = field(default_factory=list)


_KEYS = {
    "channel": "COALESCE(a.channel, 'Direct')",
    "campaign": "COALESCE(a.channel, 'Direct') || ' / ' || COALESCE(NULLIF(a.campaign, ''), '(none)')",
    "creative": "COALESCE(a.channel, 'Direct') || ' / ' || COALESCE(NULLIF(a.campaign, ''), '(none)') || ' / ' || COALESCE(NULLIF(a.content, ''), '(none)')",
    "month": "to_char(f.at AT TIME ZONE 'UTC', 'YYYY-MM')",
    "country": "COALESCE(NULLIF(p.country, ''), '(unknown)')",
}
_SPEND_KEYS = {
    "channel": "s.channel",
    "campaign": "s.channel || ' / ' || COALESCE(NULLIF(s.campaign, ''), '(none)')",
    "creative": "s.channel || ' / ' || COALESCE(NULLIF(s.campaign, ''), '(none)') || ' / ' || COALESCE(NULLIF(s.ad, ''), '(none)')",
}
_CREDIT_KEYS = {by: key.replace("s.ad", "c.content").replace("s.", "c.") for by, key in _SPEND_KEYS.items()}
# Per key: ad spend of the days [from, to) and the partner cost of the orders [from, to), each amount
# converted at its own day's rate; and how many amounts had no rate.
_COST = """
SELECT key, sum(fx), count(*) FILTER (WHERE fx IS NULL) FROM (
  SELECT {spend_key} AS key, analytics_fx(s.cost, s.currency, s.day, %(ws)s) AS fx
  FROM analytics_adspend s WHERE s.day >= %(from)s::date AND s.day < %(to)s::date
  UNION ALL
  SELECT {credit_key}, c.weight * (analytics_fx(o.revenue, o.currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s)
                                   * p.commission_percent / 100
                                   + analytics_fx(p.fixed_fee, p.fee_currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s))
  FROM analytics_ordercredit c JOIN analytics_orderfact o ON o.id = c.order_id
  JOIN analytics_partner p ON p.id = c.partner_id
  WHERE c.model = %(model)s AND o.at >= %(from)s::date AND o.at < %(to)s::date
) x GROUP BY 1
"""


def _costs(cursor, *, by: str, params: dict) -> dict[str, tuple[Decimal | None, int]]:
    """{key: (cost in the workspace currency, amounts without a rate)} for channel/campaign/creative."""
    cursor.execute(
        _COST.format(spend_key=_SPEND_KEYS[by], credit_key=_CREDIT_KEYS[by]),
        {**params, "model": PARTNER_COST_MODEL},
    )
    return {key: (cost, missing) for key, cost, missing in cursor.fetchall()}


def ltv_curves(*, start: date, end: date, by: str = "channel", as_of: datetime | None = None) -> LtvCurves:
    if by not in COHORTS:
        raise LtvError(f"by: {by!r} is not one of {', '.join(COHORTS)}")
    if end < start:
        raise LtvError("end: before start")
    fx_rates_ensure()
    as_of = as_of or timezone.now()
    ws = workspace_currency()
    params = {
        "from": start,
        "to": end + timedelta(days=1),
        "as_of": as_of,
        "ws": ws,
        "points": list(POINTS),
    }
    sql = f"""
    WITH first_order AS (
      SELECT DISTINCT ON (profile_id) profile_id, at FROM analytics_orderfact ORDER BY profile_id, at, id
    ),
    a AS (SELECT DISTINCT ON (profile_id) profile_id, channel, campaign, content
          FROM analytics_touch ORDER BY profile_id, at, id),
    cohort AS (
      SELECT f.profile_id, f.at AS first_at, {_KEYS[by]} AS key
      FROM first_order f LEFT JOIN a ON a.profile_id = f.profile_id
      LEFT JOIN tracking_profile p ON p.id = f.profile_id
      WHERE f.at >= %(from)s::date AND f.at < %(to)s::date AND f.at <= %(as_of)s
    ),
    orders AS (
      SELECT c.key, c.profile_id, c.first_at, o.at,
             analytics_fx(o.revenue, o.currency, (o.at AT TIME ZONE 'UTC')::date, %(ws)s) AS fx
      FROM cohort c JOIN analytics_orderfact o ON o.profile_id = c.profile_id AND o.at <= %(as_of)s
    )
    SELECT c.key, n.days,
           (SELECT count(*) FROM cohort c2 WHERE c2.key = c.key) AS customers,
           count(DISTINCT c.profile_id) FILTER (WHERE c.first_at + n.days * interval '1 day' <= %(as_of)s) AS matured,
           (SELECT sum(o.fx) FROM orders o WHERE o.key = c.key
              AND o.first_at + n.days * interval '1 day' <= %(as_of)s
              AND o.at < o.first_at + n.days * interval '1 day') AS revenue,
           (SELECT count(*) FROM orders o WHERE o.key = c.key AND o.fx IS NULL) AS missing
    FROM cohort c CROSS JOIN unnest(%(points)s::int[]) AS n(days)
    GROUP BY c.key, n.days ORDER BY c.key, n.days
    """
    cohorts: dict[str, Cohort] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for key, days, customers, matured, revenue, missing in cursor.fetchall():
            cohort = cohorts.setdefault(
                key, Cohort(key=key, customers=customers, ltv={}, matured={}, missing_fx=missing)
            )
            cohort.matured[days] = matured
            cohort.ltv[days] = (Decimal(revenue or 0) / matured) if matured else None
        if by in _SPEND_KEYS:
            for key, (cost, missing) in _costs(cursor, by=by, params=params).items():
                if key in cohorts:
                    cohorts[key].cost, cohorts[key].cost_missing_fx = cost, missing
    ordered = sorted(cohorts.values(), key=lambda c: (-c.customers, c.key))
    return LtvCurves(currency=ws, by=by, start=start, end=end, as_of=as_of, cohorts=ordered)


@dataclass
class PredictedGroup:
    key: str
    profiles: int
    clv_total: Decimal
    clv_mean: Decimal | None
    alive_mean: float | None
    at_risk: Decimal
    unpredicted: int  # profiles whose CLV could not be predicted (no Gamma-Gamma value)
    cost: Decimal | None = None  # ad spend + partner cost up to the fit, for channel/campaign/creative

    @property
    def cac(self) -> Decimal | None:
        return self.cost / self.profiles if self.cost is not None and self.profiles else None

    @property
    def predicted_ltv_to_cac(self) -> Decimal | None:
        return self.clv_mean / self.cac if self.clv_mean is not None and self.cac else None


PREDICTED_BY = ("channel", "campaign", "creative")


def predicted_ltv_rollup(*, by: str = "channel") -> list[PredictedGroup]:
    """The latest CLV fit's predicted 12-month CLV summed per first-touch channel, campaign or creative
    (the seed's "LTV down to the creative"), with the cost (ad spend + partner cost) of the same key up
    to the fit."""
    if by not in PREDICTED_BY:
        raise LtvError(f"by: {by!r} is not one of {', '.join(PREDICTED_BY)}")
    fx_rates_ensure()
    with connection.cursor() as cursor:
        cursor.execute("SELECT currency, as_of FROM analytics_clvfit ORDER BY created_at DESC LIMIT 1")
        found = cursor.fetchone()
        if not found:
            return []
        currency, as_of = found
        cursor.execute(
            f"""
            WITH a AS (SELECT DISTINCT ON (profile_id) profile_id, channel, campaign, content
                       FROM analytics_touch ORDER BY profile_id, at, id)
            SELECT {_KEYS[by]} AS key, count(*), COALESCE(sum(pp.predicted_clv_12m), 0), avg(pp.predicted_clv_12m),
                   avg(pp.probability_alive),
                   COALESCE(sum(pp.predicted_clv_12m * (1 - pp.probability_alive::numeric)), 0),
                   count(*) FILTER (WHERE pp.predicted_clv_12m IS NULL)
            FROM analytics_profileprediction pp LEFT JOIN a ON a.profile_id = pp.profile_id
            GROUP BY 1 ORDER BY 3 DESC, 1
            """
        )
        groups = [PredictedGroup(*row) for row in cursor.fetchall()]
        costs = _costs(
            cursor, by=by, params={"ws": currency, "from": date.min, "to": as_of + timedelta(days=1)}
        )
    for group in groups:
        group.cost = costs.get(group.key, (None, 0))[0]
    return groups
