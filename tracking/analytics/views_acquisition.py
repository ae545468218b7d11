"""Growth pages for marketers (read-only): acquisition with drill-down, LTV curves, CLV. Thin views."""

from __future__ import annotations

import csv
import functools
import json
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy

from tracking.analytics.acquisition.figures import FiguresError, acquisition_figures
from tracking.analytics.money import viewer_language, viewer_language_from_header
from tracking.analytics.params_acquisition import figures_params_parse

LOGIN = reverse_lazy("admin:login")
COLUMNS = [
    ("impressions", "Impressions", "number"),
    ("clicks", "Clicks", "number"),
    ("ctr", "CTR", "percent"),
    ("cost", "Cost", "money"),
    ("cpc", "CPC", "money"),
    ("sessions", "Sessions", "number"),
    ("new_profiles", "New profiles", "number"),
    ("new_customers", "New customers", "number"),
    ("cpa", "CPA", "money"),
    ("orders", "Orders", "number"),
    ("revenue", "Revenue", "money"),
    ("roas", "ROAS", "ratio"),
    ("roi", "ROI", "percent"),
    ("window_roas", "ROAS window", "ratio"),
]


def growth_access(view):
    @functools.wraps(view)
    def in_viewer_locale(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Money, ratios and counts in the viewer's own locale (their browser's Accept-Language).
        language = viewer_language_from_header(request.headers.get("Accept-Language", ""))
        with viewer_language(language):
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            return response

    return login_required(
        permission_required("analytics.view_growth", raise_exception=True)(in_viewer_locale), login_url=LOGIN
    )


def context_for(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "workspace_zone": settings.TIME_ZONE, **extra}


def csv_response(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def bad_options(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request,
        "analytics/acquisition/error.html",
        context_for(request, title="Options", error=message),
        status=400,
    )


def _label(row, level: str) -> str:
    if level == "day":
        return row.day.isoformat()
    return {"channel": row.channel, "campaign": row.campaign, "creative": row.creative}[level] or "(none)"


@growth_access
def acquisition_view(request: HttpRequest) -> HttpResponse:
    try:
        params = figures_params_parse(request.GET)
        figures = acquisition_figures(**params)
        trend = acquisition_figures(**{**params, "level": "day"})
    except FiguresError as exc:
        return bad_options(request, str(exc))
    level = figures.level
    export = request.GET.get("export")
    if export in ("table", "trend"):
        source = figures if export == "table" else trend
        keys = [k for k, _, _ in COLUMNS]
        header = ["channel", "campaign", "creative", "day", *keys, "window_revenue", "currency", "missing_fx"]
        rows = []
        for row in [*source.rows, source.total]:
            data = row.as_dict()
            rows.append(
                [row.channel, row.campaign, row.creative, row.day or "", *(data[k] for k in keys)]
                + [row.window_revenue, source.currency, row.missing_fx]
            )
        return csv_response(f"acquisition-{export}-{params['start']}-{params['end']}", header, rows)
    rows = [{"row": row, "label": _label(row, level), "values": row.as_dict()} for row in figures.rows]
    chart = {
        "labels": [r.day.isoformat() for r in trend.rows],
        "cost": [float(r.cost) for r in trend.rows],
        "revenue": [float(r.revenue) for r in trend.rows],
        "sessions": [r.sessions for r in trend.rows],
        "currency": figures.currency,
    }
    return render(
        request,
        "analytics/acquisition/acquisition.html",
        context_for(
            request,
            title="Acquisition",
            params=params,
            figures=figures,
            rows=rows,
            total=figures.total.as_dict(),
            columns=COLUMNS,
            level=level,
            chart=chart,
            next_level={"channel": "campaign", "campaign": "creative"}.get(level),
        ),
    )


def _ltv_params(query) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from tracking.analytics.ltv import COHORTS, LtvError
    from tracking.analytics.params_acquisition import _date

    try:
        end = _date(query, "end", timezone.localdate())
        start = _date(query, "start", end - timedelta(days=364))
    except FiguresError as exc:
        raise LtvError(str(exc))
    by = (query.get("by") or "channel").strip()
    if by not in COHORTS:
        raise LtvError(f"by: {by!r} is not one of {', '.join(COHORTS)}")
    return {"start": start, "end": end, "by": by}


@growth_access
def ltv_view(request: HttpRequest) -> HttpResponse:
    from tracking.analytics.ltv import POINTS, LtvError, ltv_curves

    try:
        params = _ltv_params(request.GET)
        curves = ltv_curves(**params)
    except LtvError as exc:
        return bad_options(request, str(exc))
    if request.GET.get("export") == "csv":
        header = ["cohort", "customers", *(f"ltv_{n}d" for n in POINTS), *(f"matured_{n}d" for n in POINTS)]
        header += ["cost", "cac", "ltv_to_cac", "payback_days", "currency", "missing_fx", "cost_missing_fx"]
        rows = [
            [c.key, c.customers, *(c.ltv[n] for n in POINTS), *(c.matured[n] for n in POINTS)]
            + [c.cost, c.cac, c.ltv_to_cac, c.payback_days, curves.currency, c.missing_fx, c.cost_missing_fx]
            for c in curves.cohorts
        ]
        return csv_response(f"ltv-by-{params['by']}-{params['start']}-{params['end']}", header, rows)
    top = curves.cohorts[:10]
    chart = {
        "labels": [f"{n} d" for n in POINTS],
        "x": "days after the first order",
        "y": f"cumulative revenue per customer ({curves.currency})",
        "series": [
            {"label": c.key, "values": [float(c.ltv[n]) if c.ltv[n] is not None else None for n in POINTS]}
            for c in top
        ],
    }
    return render(
        request,
        "analytics/acquisition/ltv.html",
        context_for(request, title="LTV by cohort", params=params, curves=curves, points=POINTS, chart=chart),
    )


@growth_access
def clv_view(request: HttpRequest) -> HttpResponse:
    from tracking.analytics.clv.pages import clv_page_data
    from tracking.analytics.ltv import PREDICTED_BY, predicted_ltv_rollup

    data = clv_page_data(limit=50)
    by = request.GET.get("by") or "channel"
    if by not in PREDICTED_BY:
        return bad_options(request, f"by: {by!r} is not one of {', '.join(PREDICTED_BY)}")
    groups = predicted_ltv_rollup(by=by)
    if request.GET.get("export") == "by":
        header = [
            by,
            "profiles",
            "predicted_clv_12m_total",
            "predicted_clv_12m_mean",
            "probability_alive_mean",
        ]
        header += ["value_at_risk", "not_predicted", "cost", "cac", "predicted_ltv_to_cac", "currency"]
        rows = [
            [g.key, g.profiles, g.clv_total, g.clv_mean, g.alive_mean, g.at_risk, g.unpredicted]
            + [g.cost, g.cac, g.predicted_ltv_to_cac, data["currency"]]
            for g in groups
        ]
        return csv_response(f"clv-by-{by}", header, rows)
    if request.GET.get("export") == "at-risk":
        header = ["profile_id", "predicted_clv_12m", "probability_alive", "expected_orders_90d", "value_at_risk", "frequency", "recency_days", "age_days", "currency"]  # fmt: skip
        rows = [
            [
                r["profile_id"],
                r["clv"],
                r["alive"],
                r["orders_90d"],
                r["at_risk"],
                r["frequency"],
                r["recency"],
                r["age"],
                data["currency"],
            ]  # fmt: skip
            for r in clv_page_data(limit=10_000)["at_risk"]
        ]
        return csv_response("clv-value-at-risk", header, rows)
    if request.GET.get("export") == "distribution":
        rows = [
            [label, count]
            for label, count in zip(data["histogram"]["labels"], data["histogram"]["values"], strict=True)
        ]
        return csv_response("clv-distribution", [f"predicted_clv_12m ({data['currency']})", "profiles"], rows)
    return render(
        request,
        "analytics/acquisition/clv.html",
        context_for(
            request,
            title="Predicted CLV",
            by=by,
            groups=groups,
            can_make_audience=request.user.has_perm("audiences.add_audience"),
            audience_rule_json=json.dumps(data["audience_rule"]),
            **data,
        ),
    )
