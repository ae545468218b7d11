"""The CLV fit: per-customer summary in SQL, BG/NBD + Gamma-Gamma, predictions written as traits,
and a backtest that shows how far to trust them.

Time unit: days. A purchase "period" is a UTC calendar day (several orders on one day are one
repeat purchase, as in the papers' CDNOW data); frequency = purchase days − 1, recency = last − first
purchase day, age T = as-of day − first purchase day, monetary = mean value of the repeat purchase
days in the workspace currency (days with an amount that has no exchange rate are left out of the
mean and counted).
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from tracking.analytics.clv import models as m
from tracking.analytics.models import ClvFit
from tracking.analytics.money import fx_rates_ensure, workspace_currency

MIN_CUSTOMERS = 100
MIN_REPEAT_CUSTOMERS = 50
MIN_HISTORY_DAYS = 90
HOLDOUT_DAYS = 90
TRAITS = ("predicted_clv_12m", "probability_alive", "expected_orders_90d")


@dataclass
class Summary:
    as_of: date
    profile_ids: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    monetary: np.ndarray  # NaN when no repeat purchase day has a value
    missing_fx_days: int

    def __len__(self) -> int:
        return len(self.profile_ids)


_SUMMARY = """
WITH days AS (
  SELECT o.profile_id, (o.at AT TIME ZONE 'UTC')::date AS day,
         CASE WHEN bool_or(fx IS NULL) THEN NULL ELSE sum(fx) END AS value,
         bool_or(fx IS NULL) AS missing
  FROM (SELECT profile_id, at,
               analytics_fx(revenue, currency, (at AT TIME ZONE 'UTC')::date, %(ws)s) AS fx
        FROM analytics_orderfact WHERE (at AT TIME ZONE 'UTC')::date <= %(as_of)s) o
  GROUP BY 1, 2
),
firsts AS (SELECT *, min(day) OVER (PARTITION BY profile_id) AS first_day FROM days)
SELECT profile_id, count(*) - 1, max(day) - min(day), %(as_of)s::date - min(day),
       avg(value) FILTER (WHERE day > first_day), count(*) FILTER (WHERE missing)
FROM firsts GROUP BY profile_id ORDER BY profile_id
"""


def clv_summary(*, as_of: date, currency: str | None = None) -> Summary:
    """Frequency, recency, age (days) and mean repeat value per customer, computed in PostgreSQL."""
    fx_rates_ensure()
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY, {"as_of": as_of, "ws": currency or workspace_currency()})
        rows = cursor.fetchall()
    if not rows:
        empty = np.zeros(0)
        return Summary(as_of, empty.astype(np.int64), empty, empty, empty, empty, 0)
    ids, freq, rec, age, mon, missing = zip(*rows, strict=True)
    return Summary(
        as_of=as_of,
        profile_ids=np.array(ids, dtype=np.int64),
        frequency=np.array(freq, dtype=float),
        recency=np.array(rec, dtype=float),
        age=np.array(age, dtype=float),
        monetary=np.array([float(v) if v is not None else np.nan for v in mon]),
        missing_fx_days=int(sum(missing)),
    )


def clv_problems(summary: Summary) -> list[str]:
    """What is missing for a trustworthy fit, in words; empty when the history is enough."""
    problems = []
    repeaters = int((summary.frequency > 0).sum())
    span = int(summary.age.max()) if len(summary) else 0
    if len(summary) < MIN_CUSTOMERS:
        problems.append(
            f"{len(summary)} customers have ordered by {summary.as_of}; a fit needs at least {MIN_CUSTOMERS}."
        )
    if repeaters < MIN_REPEAT_CUSTOMERS:
        problems.append(
            f"{repeaters} customers have ordered again on a later day; a fit needs at least {MIN_REPEAT_CUSTOMERS}."
        )
    if span < MIN_HISTORY_DAYS:
        problems.append(f"the order history covers {span} days; a fit needs at least {MIN_HISTORY_DAYS}.")
    return problems


@dataclass
class Predictions:
    bgnbd: m.BgNbd
    gamma_gamma: m.GammaGamma | None
    probability_alive: np.ndarray
    expected_orders_90d: np.ndarray
    expected_orders_365d: np.ndarray
    expected_value: np.ndarray | None
    clv_12m: np.ndarray | None


def clv_predict(summary: Summary) -> Predictions:
    x, t_x, T = summary.frequency, summary.recency, summary.age
    bg = m.bgnbd_fit(x=x, t_x=t_x, T=T)
    alive = m.bgnbd_probability_alive(bg, x=x, t_x=t_x, T=T)
    e90 = m.bgnbd_expected_purchases(bg, t=90, x=x, t_x=t_x, T=T)
    e365 = m.bgnbd_expected_purchases(bg, t=365, x=x, t_x=t_x, T=T)
    gg = value = clv = None
    repeat = (x > 0) & np.isfinite(summary.monetary) & (summary.monetary > 0)
    if repeat.sum() >= MIN_REPEAT_CUSTOMERS:
        gg = m.gamma_gamma_fit(x=x[repeat], monetary=summary.monetary[repeat])
        if gg.q > 1:  # the Gamma-Gamma mean exists only for q > 1
            monetary = np.where(repeat, summary.monetary, 0.0)
            value = m.gamma_gamma_expected_value(gg, x=np.where(repeat, x, 0), monetary=monetary)
            clv = e365 * value
    return Predictions(bg, gg, alive, e90, e365, value, clv)


def clv_backtest(*, as_of: date, holdout_days: int = HOLDOUT_DAYS, currency: str | None = None) -> dict:
    """Fit as of (as_of − holdout), predict each customer's purchase days in the holdout, compare."""
    calibration_end = as_of - timedelta(days=holdout_days)
    summary = clv_summary(as_of=calibration_end, currency=currency)
    problems = clv_problems(summary)
    if problems:
        return {
            "calibration_end": calibration_end.isoformat(),
            "holdout_days": holdout_days,
            "problems": problems,
        }
    bg = m.bgnbd_fit(x=summary.frequency, t_x=summary.recency, T=summary.age)
    predicted = m.bgnbd_expected_purchases(
        bg, t=holdout_days, x=summary.frequency, t_x=summary.recency, T=summary.age
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT profile_id, count(DISTINCT (at AT TIME ZONE 'UTC')::date) FROM analytics_orderfact
               WHERE (at AT TIME ZONE 'UTC')::date > %s AND (at AT TIME ZONE 'UTC')::date <= %s
                 AND profile_id = ANY(%s) GROUP BY 1""",
            [calibration_end, as_of, summary.profile_ids.tolist()],
        )
        actual_by_id = dict(cursor.fetchall())
    actual = np.array([actual_by_id.get(int(pid), 0) for pid in summary.profile_ids], dtype=float)
    if not _finite(vars(bg)) or not np.isfinite(predicted).all():
        # A degenerate calibration fit (NaN/inf) is said, not stored: JSON has no NaN, and nobody should trust it.
        return {
            "calibration_end": calibration_end.isoformat(),
            "holdout_days": holdout_days,
            "problems": [
                f"the fit on the history up to {calibration_end} did not converge ({_params_text(bg)})."
            ],
        }
    total_predicted, total_actual = float(predicted.sum()), float(actual.sum())
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_days": holdout_days,
        "customers": len(summary),
        "predicted_orders": round(total_predicted, 2),
        "actual_orders": int(total_actual),
        "total_error_pct": round(100 * (total_predicted - total_actual) / total_actual, 1)
        if total_actual
        else None,
        "mean_absolute_error_per_customer": round(float(np.abs(predicted - actual).mean()), 4),
        "params": vars(bg),
    }


def _finite(params: dict) -> bool:
    return all(isinstance(v, int | float) and np.isfinite(v) for v in params.values())


def _params_text(model) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in vars(model).items())


def _round(value: float | None, places: int) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), places)


@transaction.atomic
def _predictions_write(summary: Summary, predictions: Predictions, fitted_at) -> int:
    clv = predictions.clv_12m
    rows = [
        (
            int(pid),
            int(summary.frequency[i]),
            float(summary.recency[i]),
            float(summary.age[i]),
            None if not np.isfinite(summary.monetary[i]) else Decimal(str(round(summary.monetary[i], 4))),
            _round(predictions.probability_alive[i], 4),
            _round(predictions.expected_orders_90d[i], 4),
            None if clv is None or not np.isfinite(clv[i]) else Decimal(str(round(clv[i], 2))),
        )
        for i, pid in enumerate(summary.profile_ids)
    ]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_profileprediction")
        with cursor.copy(
            "COPY analytics_profileprediction (profile_id, frequency, recency_days, age_days, monetary, "
            "probability_alive, expected_orders_90d, predicted_clv_12m, fitted_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row((*row, fitted_at))
        # Computed traits: what audience rules and journeys read ({"trait": "probability_alive", …}).
        cursor.execute(
            """
            UPDATE tracking_profile p
               SET traits = p.traits || jsonb_build_object(
                     'probability_alive', pp.probability_alive,
                     'expected_orders_90d', pp.expected_orders_90d,
                     'predicted_clv_12m', pp.predicted_clv_12m)
              FROM analytics_profileprediction pp WHERE pp.profile_id = p.id
            """
        )
    return len(rows)


def clv_fit(*, as_of: date | None = None, holdout_days: int = HOLDOUT_DAYS, write: bool = True) -> ClvFit:
    """Fit on the history up to `as_of` (default today); write predictions and traits when `write`."""
    as_of = as_of or timezone.now().date()
    currency = workspace_currency()
    started = time.perf_counter()
    summary = clv_summary(as_of=as_of, currency=currency)
    fit = ClvFit(
        as_of=as_of,
        currency=currency,
        customers=len(summary),
        repeat_customers=int((summary.frequency > 0).sum()),
        problems=clv_problems(summary),
    )
    predictions = clv_predict(summary) if not fit.problems else None
    if predictions is not None and not _finite(vars(predictions.bgnbd)):
        fit.problems = [
            f"the BG/NBD fit did not converge ({_params_text(predictions.bgnbd)}); no predictions."
        ]
        predictions = None
    if predictions is not None:
        fit.params = {"bgnbd": vars(predictions.bgnbd), "unit": "days"}
        if predictions.gamma_gamma is not None and _finite(vars(predictions.gamma_gamma)):
            fit.params["gamma_gamma"] = vars(predictions.gamma_gamma)
        else:
            fit.params["gamma_gamma_problem"] = "too few repeat customers with an order value for Gamma-Gamma"
        fit.params["missing_fx_days"] = summary.missing_fx_days
        fit.backtest = clv_backtest(as_of=as_of, holdout_days=holdout_days, currency=currency)
        if write:
            _predictions_write(summary, predictions, timezone.now())
    fit.seconds = round(time.perf_counter() - started, 3)
    fit.save()
    if write and not fit.problems:
        from tracking import signals
        from tracking.models import Profile

        ids = summary.profile_ids.tolist()
        transaction.on_commit(
            lambda: signals.profile_changed.send(sender=Profile, profile_ids=ids), robust=True
        )
    return fit


def clv_fit_measured(**kwargs) -> tuple[ClvFit, float]:
    """The fit and its peak Python memory in MiB (for the benchmark)."""
    tracemalloc.start()
    try:
        fit = clv_fit(**kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return fit, peak / 2**20
