"""Behaviour analytics through the API: the same modules as the pages, as JSON (OpenAPI at /api/docs/)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracking.analytics.behaviour import affinity, funnels, newproducts, retention, search, slots
from tracking.analytics.behaviour.common import AnalysisInvalid
from tracking.analytics.models import SavedAnalysis
from tracking.api.permissions import ModelPermissions


class CanViewBehaviour(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm("analytics.view_behaviour")
        )


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _invalid(exc: AnalysisInvalid) -> Response:
    return Response({"detail": "The definition has errors.", "errors": exc.errors}, status=400)


FUNNEL_EXAMPLE = {
    "steps": [
        {"event": "Product Viewed", "where": [{"property": "category", "op": "eq", "value": "Shoes"}]},
        {"event": "Product Added"},
        {"event": "Order Completed"},
    ],
    "order": "sequential",
    "window_minutes": 10080,
    "exclusions": [{"event": "Product Removed", "from_step": 2, "to_step": 3}],
    "breakdown": [{"kind": "country"}],
    "date_from": "2026-05-01",
    "date_to": "2026-05-31",
    "tz": "workspace",
    "compare": {"date_from": "2026-04-01", "date_to": "2026-04-30"},
}
RETENTION_EXAMPLE = {
    "start": {"event": "Order Completed"},
    "return": {"event": "Order Completed"},
    "mode": "first_time",
    "period": "week",
    "periods": 12,
    "breakdown": [{"kind": "country"}],
    "date_from": "2026-03-01",
    "date_to": "2026-05-31",
    "tz": "utc",
}
ERRORS = OpenApiResponse(description="Errors by path: {detail, errors: [{path, message}]}")


class FunnelView(APIView):
    permission_classes = [CanViewBehaviour]

    @extend_schema(
        tags=["analytics"],
        summary="Compute a funnel",
        description="Per step: count, conversion from the previous and the first step, drop-off (with the "
        "audience-builder link), median and average time from the previous step; time-to-convert "
        "distribution; entries and conversions per day; breakdown groups; the comparison range. "
        "Semantics: docs/analytics-behaviour.md.",
        request=OpenApiTypes.OBJECT,
        examples=[
            OpenApiExample("Three steps, one exclusion, by country", value=FUNNEL_EXAMPLE, request_only=True)
        ],
        responses={200: OpenApiTypes.OBJECT, 400: ERRORS},
    )
    def post(self, request: Request) -> Response:
        try:
            result = funnels.funnel_compute(definition=funnels.funnel_parse(request.data))
        except AnalysisInvalid as exc:
            return _invalid(exc)
        return Response(plain(result))


class RetentionView(APIView):
    permission_classes = [CanViewBehaviour]

    @extend_schema(
        tags=["analytics"],
        summary="Compute a retention table",
        description="Cohorts (size and returns per period; None for periods that have not begun) and the curve.",
        request=OpenApiTypes.OBJECT,
        examples=[OpenApiExample("Weekly, first order", value=RETENTION_EXAMPLE, request_only=True)],
        responses={200: OpenApiTypes.OBJECT, 400: ERRORS},
    )
    def post(self, request: Request) -> Response:
        try:
            result = retention.retention_compute(definition=retention.retention_parse(request.data))
        except AnalysisInvalid as exc:
            return _invalid(exc)
        return Response(plain(result))


RANGE = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, required=True, description="First day, inclusive."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, required=True, description="Last day, inclusive."),
]


def _report_view(name: str, run: Any, summary: str, extra: list[OpenApiParameter]) -> type[APIView]:
    class ReportView(APIView):
        permission_classes = [CanViewBehaviour]

        @extend_schema(
            tags=["analytics"],
            summary=summary,
            parameters=[*RANGE, *extra],
            responses={200: OpenApiTypes.OBJECT, 400: ERRORS},
            operation_id=f"analytics_{name}",
        )
        def get(self, request: Request) -> Response:
            try:
                result = run(request.query_params.dict())
            except AnalysisInvalid as exc:
                return _invalid(exc)
            result.pop("charts", None)
            return Response(plain(result))

    ReportView.__name__ = f"{name.title().replace('_', '')}ReportView"
    return ReportView


TZ = OpenApiParameter(
    "tz", OpenApiTypes.STR, enum=["utc", "workspace"], description="Days in UTC or the workspace zone."
)
SearchView = _report_view(
    "search",
    search.search_report,
    "Site search keyword health",
    [
        TZ,
        OpenApiParameter(
            "window_minutes", OpenApiTypes.INT, description="Credit window after a search (default 60)."
        ),
    ],
)
SlotsView = _report_view(
    "slots",
    slots.slots_report,
    "Promotion slots: impressions, clicks, penetration, credited orders",
    [
        TZ,
        OpenApiParameter(
            "window_hours", OpenApiTypes.INT, description="Order credit window after a click (default 24)."
        ),
    ],
)
AffinityView = _report_view(
    "affinity",
    affinity.affinity_report,
    "Product affinity pairs and repurchase intervals",
    [
        OpenApiParameter("level", OpenApiTypes.STR, enum=list(affinity.LEVELS)),
        OpenApiParameter("mode", OpenApiTypes.STR, enum=list(affinity.MODES)),
        OpenApiParameter("days", OpenApiTypes.INT, description="N for mode=days (default 30)."),
        OpenApiParameter(
            "min_support", OpenApiTypes.INT, description="Minimum baskets holding both (default 2)."
        ),
    ],
)
NewProductsView = _report_view(
    "new_products",
    newproducts.new_products_report,
    "New products against their category",
    [
        OpenApiParameter(
            "days", OpenApiTypes.INT, description="New = first seen within this many days (default 30)."
        )
    ],
)


class SavedAnalysisSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = SavedAnalysis
        fields = ("id", "kind", "name", "definition", "created_by", "created_at", "updated_at")
        read_only_fields = ("created_by", "created_at", "updated_at")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        definition = attrs.get("definition", getattr(self.instance, "definition", None))
        parse = {
            "funnel": funnels.funnel_parse,
            "retention": retention.retention_parse,
            "search": search.search_parse,
            "slots": slots.slots_parse,
            "affinity": affinity.affinity_parse,
            "new_products": newproducts.new_products_parse,
        }[kind]
        if not isinstance(definition, dict):
            raise serializers.ValidationError({"definition": ["must be an object"]})
        try:
            parse(definition)
        except AnalysisInvalid as exc:
            raise serializers.ValidationError(
                {"definition": [f"{e['path']}: {e['message']}" for e in exc.errors]}
            ) from exc
        return attrs


@extend_schema(tags=["analytics"])
class SavedAnalysisViewSet(viewsets.ModelViewSet):
    """Saved analyses: a named definition of one kind; the pages reopen them at /analytics/saved/{id}/."""

    serializer_class = SavedAnalysisSerializer
    permission_classes = [ModelPermissions]
    queryset = SavedAnalysis.objects.select_related("created_by").order_by("kind", "name")
    filterset_fields = ("kind",)

    def perform_create(self, serializer: SavedAnalysisSerializer) -> None:
        serializer.save(created_by=self.request.user)
