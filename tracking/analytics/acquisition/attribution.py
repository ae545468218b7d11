"""Attribution: each order's revenue credited to the touches before it, under four models.

For every order, the profile's touches in (order time − lookback, order time] are ranked by time
(ties by id). First touch gives weight 1 to the earliest, last touch to the latest, linear 1/n to
each, position-based 40 % to the first and the last and splits 20 % over the middle (one touch: 100 %,
two: 50/50). An order with no touch in the window is credited whole to Direct; an order whose coupon is
a partner's is credited whole to that partner (Affiliate/KOL) under every model — the coupon is the
strongest evidence there is. Weights of one order under one model always sum to 1.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

DEFAULT_LOOKBACK_DAYS = 30

_CREDITS = """
WITH orders AS (
  SELECT o.id, o.profile_id, o.at,
         (SELECT p.id FROM analytics_partner p
           WHERE o.coupon <> '' AND lower(p.coupon_code) = lower(o.coupon) ORDER BY p.id LIMIT 1) AS coupon_partner
  FROM analytics_orderfact o WHERE %(profiles)s::bigint[] IS NULL OR o.profile_id = ANY(%(profiles)s::bigint[])
),
ranked AS (
  SELECT o.id AS order_id, t.id AS touch_id, t.channel, t.campaign, t.content, t.partner_id,
         row_number() OVER (PARTITION BY o.id ORDER BY t.at, t.id) AS pos,
         count(*) OVER (PARTITION BY o.id) AS n
  FROM orders o
  JOIN analytics_touch t ON t.profile_id = o.profile_id AND t.at <= o.at AND t.at > o.at - %(lookback)s
  WHERE o.coupon_partner IS NULL
),
models(model) AS (VALUES ('first'), ('last'), ('linear'), ('position'))
INSERT INTO analytics_ordercredit (order_id, model, touch_id, channel, campaign, content, partner_id, weight)
SELECT r.order_id, m.model, r.touch_id, r.channel, r.campaign, r.content, r.partner_id,
       CASE m.model
         WHEN 'first' THEN 1 WHEN 'last' THEN 1 WHEN 'linear' THEN 1.0 / r.n
         ELSE CASE WHEN r.n = 1 THEN 1 WHEN r.n = 2 THEN 0.5
                   WHEN r.pos = 1 OR r.pos = r.n THEN 0.4 ELSE 0.2 / (r.n - 2) END
       END
FROM ranked r CROSS JOIN models m
WHERE (m.model = 'first' AND r.pos = 1) OR (m.model = 'last' AND r.pos = r.n) OR m.model IN ('linear', 'position')
UNION ALL
SELECT o.id, m.model, NULL, CASE WHEN o.coupon_partner IS NULL THEN 'Direct' ELSE 'Affiliate/KOL' END,
       COALESCE(p.name, ''), '', o.coupon_partner, 1
FROM orders o CROSS JOIN models m LEFT JOIN analytics_partner p ON p.id = o.coupon_partner
WHERE o.coupon_partner IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM analytics_touch t
                  WHERE t.profile_id = o.profile_id AND t.at <= o.at AND t.at > o.at - %(lookback)s)
"""


@transaction.atomic
def attribution_refresh(*, lookback_days: int | None = None, profile_ids: list[int] | None = None) -> int:
    """Recompute every order's credits (the taxonomy, partners or lookback may have changed), or only
    the orders of `profile_ids` (after a merge moved touches and orders onto one of them)."""
    days = lookback_days or getattr(settings, "ANALYTICS_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS)
    from datetime import timedelta

    with connection.cursor() as cursor:
        if profile_ids is None:
            cursor.execute("DELETE FROM analytics_ordercredit")
        else:
            cursor.execute(
                """DELETE FROM analytics_ordercredit c USING analytics_orderfact o
                   WHERE o.id = c.order_id AND o.profile_id = ANY(%s::bigint[])""",
                [profile_ids],
            )
        cursor.execute(_CREDITS, {"lookback": timedelta(days=days), "profiles": profile_ids})
        return cursor.rowcount
