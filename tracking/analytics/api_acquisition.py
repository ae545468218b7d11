"""Acquisition, LTV and CLV figures through the API: the same selectors as the pages, as JSON."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.analytics.acquisition.figures import LEVELS, MODELS, ZONES, FiguresError, acquisition_figures
from tracking.analytics.acquisition.spend import SpendImportError, spend_import, spend_rows_from_json
from tracking.analytics.models import SpendPlatform
from tracking.analytics.params_acquisition import figures_params_parse

ERRORS = {
    401: OpenApiResponse(description="No or an invalid token (`Authorization: Bearer <token>`)."),
    403: OpenApiResponse(description="The user's role may not do this."),
}
BAD = OpenApiResponse(description="A bad option or row; the message names it, e.g. {'detail': 'zone: …'}.")


class CanViewGrowth(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("analytics.view_growth")
        )


class CanImportSpend(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("analytics.add_adspend")
        )


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


FIGURE_OPTIONS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First day, inclusive (default: 29 days before end)."
    ),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive (default: today)."),
    OpenApiParameter(
        "zone",
        OpenApiTypes.STR,
        enum=list(ZONES),
        description="Days in UTC, the workspace zone or each profile's zone.",
    ),
    OpenApiParameter(
        "model",
        OpenApiTypes.STR,
        enum=list(MODELS),
        description="Credit model for orders/revenue (default last).",
    ),
    OpenApiParameter(
        "window",
        OpenApiTypes.INT,
        description="ROAS window: revenue within N days of the first touch (default 30).",
    ),
    OpenApiParameter(
        "level",
        OpenApiTypes.STR,
        enum=list(LEVELS),
        description="Rows per channel, campaign, creative or day.",
    ),
    OpenApiParameter("channel", OpenApiTypes.STR, description="Only this channel (e.g. Paid Social)."),
    OpenApiParameter(
        "campaign",
        OpenApiTypes.STR,
        description="Only this campaign (utm_campaign / the ad platform's campaign).",
    ),
]


def figures_json(figures) -> dict[str, Any]:
    return plain(
        {
            "currency": figures.currency,
            "options": {
                "start": figures.start,
                "end": figures.end,
                "level": figures.level,
                "model": figures.model,
                "zone": figures.zone,
                "window": figures.roas_window_days,
            },
            "rows": [row.as_dict() for row in figures.rows],
            "total": figures.total.as_dict(),
            "missing_fx": figures.missing_fx,
            "missing_messages": figures.missing_messages,
            "source": figures.source,
        }
    )


class AcquisitionFiguresView(APIView):
    permission_classes = [CanViewGrowth]

    @extend_schema(
        operation_id="analytics_acquisition",
        summary="Acquisition figures per channel, campaign, creative or day",
        description="Impressions, clicks, CTR, cost, CPC, sessions, new profiles, new customers, CPA, orders, "
        "revenue, ROAS, ROI and the ROAS window, every amount in the workspace currency at its own day's ECB rate. "
        "Amounts without a rate are left out and counted in `missing_fx` (`missing_messages` says which).",
        parameters=FIGURE_OPTIONS,
        responses={200: OpenApiTypes.OBJECT, 400: BAD, **ERRORS},
        examples=[
            OpenApiExample(
                "One channel",
                response_only=True,
                value={
                    "currency": "EUR",
                    "options": {
                        "start": "2026-03-01",
                        "end": "2026-03-30",
                        "level": "channel",
                        "model": "last",
                        "zone": "utc",
                        "window": 30,
                    },
                    "rows": [
                        {
                            "channel": "Paid Search",
                            "campaign": "",
                            "creative": "",
                            "day": None,
                            "impressions": 1500,
                            "clicks": 60,
                            "cost": 70.0,
                            "sessions": 2,
                            "new_profiles": 2,
                            "new_customers": 2,
                            "orders": 2.0,
                            "revenue": 110.0,
                            "window_revenue": 110.0,
                            "missing_fx": 1,
                            "window_missing_fx": 1,
                            "ctr": 0.04,
                            "cpc": 1.1667,
                            "cpa": 35.0,
                            "roas": 1.5714,
                            "roi": 0.5714,
                            "window_roas": 1.5714,
                        }
                    ],
                    "missing_fx": 1,
                    "missing_messages": ["no JPY rate for 2026-03-05"],
                },
            )  # fmt: skip
        ],
    )
    def get(self, request: Request) -> Response:
        try:
            return Response(figures_json(acquisition_figures(**figures_params_parse(request.query_params))))
        except FiguresError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


SpendRows = serializers.ListField(child=serializers.DictField(), help_text="Daily rows.")


class SpendImportView(APIView):
    permission_classes = [CanImportSpend]

    @extend_schema(
        operation_id="analytics_spend_import",
        summary="Import daily ad spend rows",
        description="Rows of {day, campaign, ad_group?, ad?, impressions?, clicks?, cost, currency, source?, medium?} "
        "for one platform (google, meta, tiktok, other — other needs `source`, the utm_source its links carry). "
        "Every (platform, source, day) given replaces what was stored for it. Any bad row refuses the whole "
        "request; errors name the row and field (`rows[3].cost: …`).",
        request={
            "application/json": {
                "type": "object",
                "required": ["platform", "rows"],
                "properties": {
                    "platform": {"type": "string", "enum": list(SpendPlatform.values)},
                    "rows": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
        responses={201: OpenApiTypes.OBJECT, 400: BAD, **ERRORS},
        examples=[
            OpenApiExample(
                "Two days of one ad",
                request_only=True,
                value={
                    "platform": "google",
                    "rows": [
                        {
                            "day": "2026-03-02",
                            "campaign": "Brand",
                            "ad_group": "Exact",
                            "ad": "ad-a",
                            "impressions": 1200,
                            "clicks": 40,
                            "cost": "35.50",
                            "currency": "EUR",
                        },
                        {
                            "day": "2026-03-03",
                            "campaign": "Brand",
                            "ad_group": "Exact",
                            "ad": "ad-a",
                            "impressions": 900,
                            "clicks": 30,
                            "cost": "20.25",
                            "currency": "EUR",
                        },
                    ],
                },
            )  # fmt: skip
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        platform = data.get("platform")
        if platform not in SpendPlatform.values:
            return Response(
                {"detail": f"platform: must be one of {', '.join(SpendPlatform.values)}"}, status=400
            )
        items = data.get("rows")
        if not isinstance(items, list):
            return Response({"detail": "rows: must be a list of objects"}, status=400)
        try:
            rows = spend_rows_from_json(items=items, platform=platform)
        except SpendImportError as exc:
            return Response({"detail": exc.errors[0], "errors": exc.errors}, status=400)
        result = spend_import(rows=rows, platform=platform, file_name="api", user=request.user.get_username())
        return Response(
            {
                "rows": result.rows,
                "days": result.days,
                "replaced": result.replaced,
                "import_id": result.import_id,
            },
            status=201,
        )


class LtvCurvesView(APIView):
    permission_classes = [CanViewGrowth]

    @extend_schema(
        operation_id="analytics_ltv",
        summary="Realised LTV per acquisition cohort, with CAC, LTV:CAC and payback",
        description="Cumulative revenue per customer 30/60/90/180/365 days after the first order, per cohort "
        "(first-touch channel, campaign or creative, first-order month, or country) of the customers whose first "
        "order is in the range; `null` where no customer has had that many days. Money in the workspace currency. "
        "`cost` (channel/campaign/creative) is the range's ad spend plus partner commissions and fees on the orders "
        "credited to partners (last touch), each at its day's rate; `cost_missing_fx` counts amounts left out for "
        "want of a rate. CAC = cost / customers.",
        parameters=[
            OpenApiParameter(
                "start", OpenApiTypes.DATE, description="First orders from (default: 364 days before end)."
            ),  # fmt: skip
            OpenApiParameter(
                "end", OpenApiTypes.DATE, description="First orders to, inclusive (default: today)."
            ),
            OpenApiParameter(
                "by", OpenApiTypes.STR, enum=["channel", "campaign", "creative", "month", "country"]
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: BAD, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        from tracking.analytics.ltv import LtvError, ltv_curves
        from tracking.analytics.views_acquisition import _ltv_params

        try:
            curves = ltv_curves(**_ltv_params(request.query_params))
        except LtvError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        cohorts = [
            {
                "cohort": c.key,
                "customers": c.customers,
                "ltv": {str(n): v for n, v in c.ltv.items()},
                "matured": {str(n): v for n, v in c.matured.items()},
                "cost": c.cost,
                "cac": c.cac,
                "ltv_to_cac": c.ltv_to_cac,
                "payback_days": c.payback_days,
                "missing_fx": c.missing_fx,
                "cost_missing_fx": c.cost_missing_fx,
            }
            for c in curves.cohorts
        ]
        return Response(
            plain(
                {
                    "currency": curves.currency,
                    "by": curves.by,
                    "start": curves.start,
                    "end": curves.end,
                    "cohorts": cohorts,
                }
            )
        )


class ClvView(APIView):
    permission_classes = [CanViewGrowth]

    @extend_schema(
        operation_id="analytics_clv",
        summary="Predicted CLV: the latest fit, its backtest, distribution, value at risk and rollup",
        description="The latest BG/NBD + Gamma-Gamma fit (parameters, as-of date, backtest, or the `problems` "
        "that kept it from running), the distribution of predicted 12-month CLV, the profiles with the most "
        "value at risk (with the audience rule that selects them), and predicted CLV per first-touch `by`.",
        parameters=[
            OpenApiParameter("by", OpenApiTypes.STR, enum=["channel", "campaign", "creative"]),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="At-risk profiles listed (1–1000, default 50)."
            ),  # fmt: skip
        ],
        responses={200: OpenApiTypes.OBJECT, 400: BAD, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        from tracking.analytics.clv.pages import clv_page_data
        from tracking.analytics.ltv import LtvError, predicted_ltv_rollup

        limit = (request.query_params.get("limit") or "50").strip()
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            return Response({"detail": f"limit: {limit!r} must be a whole number from 1 to 1000"}, status=400)
        try:
            groups = predicted_ltv_rollup(by=request.query_params.get("by") or "channel")
        except LtvError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        data = clv_page_data(limit=int(limit))
        fit = data["fit"]
        return Response(
            plain(
                {
                    "currency": data["currency"],
                    "fit": None
                    if fit is None
                    else {
                        "as_of": fit.as_of,
                        "customers": fit.customers,
                        "repeat_customers": fit.repeat_customers,
                        "params": fit.params,
                        "backtest": fit.backtest,
                        "problems": fit.problems,
                    },
                    "profiles": data["profiles"],
                    "total_clv": data["total_clv"],
                    "total_at_risk": data["total_at_risk"],
                    "histogram": data["histogram"],
                    "at_risk": data["at_risk"],
                    "at_risk_rule": data["audience_rule"],
                    "by": [
                        {
                            "key": g.key,
                            "profiles": g.profiles,
                            "clv_total": g.clv_total,
                            "clv_mean": g.clv_mean,
                            "probability_alive_mean": g.alive_mean,
                            "value_at_risk": g.at_risk,
                            "not_predicted": g.unpredicted,
                            "cost": g.cost,
                            "cac": g.cac,
                            "predicted_ltv_to_cac": g.predicted_ltv_to_cac,
                        }
                        for g in groups
                    ],
                }
            )
        )
