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
