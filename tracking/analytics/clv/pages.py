"""What the CLV page shows: the latest fit (or why there is none), the distribution of predicted
12-month CLV, and the profiles with the most value at risk (CLV × (1 − probability alive))."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db import connection

from tracking.analytics.models import ClvFit
from tracking.analytics.money import workspace_currency

AT_RISK_ALIVE_BELOW = 0.5
BUCKETS = 12


def audience_link(*, rule: dict, name: str) -> str:
    """The audience builder with the rule filled in (linked by URL: tracking never imports audiences)."""
    return "/admin/audiences/audience/add/?" + urlencode(
        {"name": name, "kind": "rule", "rule": json.dumps(rule)}
    )


def clv_page_data(*, limit: int = 50) -> dict[str, Any]:
    fit = ClvFit.objects.first()
    currency = fit.currency if fit else workspace_currency()
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(predicted_clv_12m), count(*) FROM analytics_profileprediction")
        top, count = cursor.fetchone()
        labels, values = [], []
        if top:
            step = max(Decimal(1), (Decimal(top) / BUCKETS).quantize(Decimal(1)))
            cursor.execute(
                "SELECT least(floor(predicted_clv_12m / %s), %s - 1)::int AS b, count(*) FROM analytics_profileprediction "
                "WHERE predicted_clv_12m IS NOT NULL GROUP BY 1 ORDER BY 1",
                [step, BUCKETS],
            )
            found = dict(cursor.fetchall())
            for b in range(BUCKETS):
                labels.append(f"{int(step * b)}–{int(step * (b + 1))}")
                values.append(found.get(b, 0))
        cursor.execute(
            """
            SELECT pp.profile_id, pp.predicted_clv_12m, pp.probability_alive, pp.expected_orders_90d,
                   pp.predicted_clv_12m * (1 - pp.probability_alive) AS at_risk, pp.frequency,
                   pp.recency_days, pp.age_days, p.traits->>'email'
            FROM analytics_profileprediction pp JOIN tracking_profile p ON p.id = pp.profile_id
            WHERE pp.predicted_clv_12m IS NOT NULL AND pp.probability_alive < %s
            ORDER BY at_risk DESC, pp.profile_id LIMIT %s
            """,
            [AT_RISK_ALIVE_BELOW, limit],
        )
        at_risk = [
            {
                "profile_id": pid,
                "clv": clv,
                "alive": alive,
                "orders_90d": e90,
                "at_risk": risk,
                "frequency": freq,
                "recency": rec,
                "age": age,
                "email": email or "",
            }
            for pid, clv, alive, e90, risk, freq, rec, age, email in cursor.fetchall()
        ]
        cursor.execute(
            "SELECT coalesce(sum(predicted_clv_12m), 0), coalesce(sum(predicted_clv_12m * (1 - probability_alive)), 0) "
            "FROM analytics_profileprediction"
        )
        total_clv, total_at_risk = cursor.fetchone()
    threshold = float(at_risk[-1]["clv"]) if at_risk else 0
    rule = {
        "all": [
            {"trait": "probability_alive", "op": "lt", "value": AT_RISK_ALIVE_BELOW},
            {"trait": "predicted_clv_12m", "op": "gte", "value": round(threshold, 2)},
        ]
    }
    return {
        "fit": fit,
        "currency": currency,
        "profiles": count,
        "histogram": {
            "labels": labels,
            "values": values,
            "label": "profiles",
            "x": f"predicted 12-month CLV ({currency})",
        },
        "at_risk": at_risk,
        "total_clv": total_clv,
        "total_at_risk": total_at_risk,
        "alive_below": AT_RISK_ALIVE_BELOW,
        "audience_url": audience_link(rule=rule, name="High value at risk"),
        "audience_rule": rule,
    }
