"""The report figures through the API: the same selectors as the pages, as JSON."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from journeys.reports.metrics import AB_METRICS, ATTRIBUTIONS, BUCKETS, TIME_ZONES, ReportError
from journeys.reports.models import METRICS
from journeys.reports.selectors import (
    TABLE_COLUMNS,
    campaign_name,
    campaigns_overview,
    params_parse,
    report_for,
)


class CanViewReports(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("reports.view_reports")
        )


def plain(value: Any) -> Any:
    """JSON-friendly figures: decimals as numbers, times as ISO 8601, tuples as lists."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


OPTIONS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (in the chosen zone), inclusive."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (in the chosen zone), inclusive."),
    OpenApiParameter(
        "tz",
        OpenApiTypes.STR,
        enum=list(TIME_ZONES),
        description="utc, workspace (settings.TIME_ZONE) or local (each recipient's own zone).",
    ),
    OpenApiParameter("attribution", OpenApiTypes.STR, enum=list(ATTRIBUTIONS), description="Default last."),
]
CAMPAIGN_OPTIONS = [
    *OPTIONS,
    OpenApiParameter(
        "bucket", OpenApiTypes.STR, enum=list(BUCKETS), description="Time series by hour or day."
    ),
    OpenApiParameter(
        "metric", OpenApiTypes.STR, enum=list(AB_METRICS), description="What the A/B test compares."
    ),
    OpenApiParameter(
        "level", OpenApiTypes.FLOAT, description="Confidence level, e.g. 0.95 (default) or 0.99."
    ),
]
FIGURE_FIELDS = {k: serializers.FloatField(allow_null=True, help_text=label) for k, label in TABLE_COLUMNS}
FIGURE_FIELDS.update({m: serializers.FloatField() for m in METRICS if m not in FIGURE_FIELDS})
FIGURE_FIELDS.update(
    currency=serializers.CharField(help_text="The workspace currency every money figure is in (ISO 4217)."),
    revenue_by_currency=serializers.DictField(
        child=serializers.FloatField(), help_text="Revenue in each original currency (never added together)."
    ),
    cost_by_currency=serializers.DictField(
        child=serializers.FloatField(), help_text="Cost in each original currency (never added together)."
    ),
    missing_rates=serializers.ListField(
        child=serializers.CharField(),
        help_text='Amounts left out of the converted figures, e.g. "no JPY rate for 2026-03-04".',
    ),
    unconverted_conversions=serializers.FloatField(help_text="Conversions whose revenue had no rate."),
)
Figures = inline_serializer("ReportFigures", fields=FIGURE_FIELDS)
ERROR = OpenApiResponse(description="A bad option; the message names it, e.g. {'detail': 'tz: …'}")


class CampaignsReportView(APIView):
    permission_classes = [CanViewReports]

    @extend_schema(
        operation_id="reports_campaigns",
        summary="Every campaign's figures over a date range",
        description="Totals per journey and broadcast (rates, conversions, revenue, cost, ROAS, ROI) and a "
        "daily series of sends and conversions. Figures include rows from the last minute.",
        parameters=OPTIONS,
        responses={200: OpenApiTypes.OBJECT, 400: ERROR},
        examples=[
            OpenApiExample(
                "Two campaigns",
                response_only=True,
                value={
                    "campaigns": [
                        {
                            "campaign_kind": "journey",
                            "campaign_id": 3,
                            "name": "Welcome series",
                            "sent": 1200,
                            "open_rate": 0.41,
                            "conversions": 52,
                            "revenue": 3120.5,
                            "roas": 8.1,
                            "spark": {"labels": ["2026-03-01"], "sent": [1200], "conversions": [52]},
                        },
                    ]
                },
            )  # fmt: skip
        ],
    )
    def get(self, request: Request) -> Response:
        try:
            params = params_parse(request.query_params)
            return Response({"options": plain(params), "campaigns": plain(campaigns_overview(**params))})
        except ReportError as exc:
            return Response({"detail": str(exc)}, status=400)


class CampaignReportView(APIView):
    permission_classes = [CanViewReports]

    @extend_schema(
        operation_id="reports_campaign",
        summary="One campaign's report: funnel, series, tables, skips, holdout and A/B test",
        description="`kind` is journey or broadcast. Tables are per stage, variant, channel and template; "
        "the A/B verdict names a winner only when the difference is significant at `level`.",
        parameters=CAMPAIGN_OPTIONS,
        responses={
            200: inline_serializer(
                "CampaignReport",
                fields={
                    "name": serializers.CharField(),
                    "total": Figures,
                    "funnel": serializers.ListField(
                        child=serializers.ListField(),
                        help_text="People at each step, each a subset of the step before: "
                        "[[label, people], …] (entered, reached, opened, clicked, converted after clicking).",
                    ),
                    "people": serializers.DictField(
                        child=serializers.IntegerField(),
                        help_text="The funnel by key, plus converted_all (clicked or not).",
                    ),
                    "volumes": serializers.ListField(
                        child=serializers.ListField(), help_text="Message counts: [[label, messages], …]."
                    ),
                    "series": serializers.ListField(child=serializers.DictField()),
                    "tables": serializers.DictField(
                        child=serializers.ListField(child=serializers.DictField())
                    ),
                    "skips": serializers.ListField(child=serializers.ListField()),
                    "holdout": serializers.DictField(allow_null=True),
                    "ab": serializers.DictField(),
                },
            ),
            400: ERROR,
            404: OpenApiResponse(description="No such campaign."),
        },
    )
    def get(self, request: Request, kind: str, cid: int) -> Response:
        name = campaign_name(kind, cid)
        if name is None:
            raise Http404("No such campaign")
        try:
            params = params_parse(request.query_params)
            report = report_for(kind=kind, cid=cid, params=params)
        except ReportError as exc:
            return Response({"detail": str(exc)}, status=400)
        report["ab"] = report["ab"].as_dict()
        report["campaign"] = {"kind": kind, "id": cid}
        return Response({"name": name, "options": plain(params), **plain(report)})
