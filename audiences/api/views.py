"""The audiences API: CRUD, preview without saving, members, a profile's memberships, refresh, upload.

Views validate input and call services; invalid rules answer 400 with every error by path.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from audiences import selectors
from audiences.api import examples
from audiences.api.serializers import (
    AudienceSerializer,
    MemberSerializer,
    PreviewResultSerializer,
    ProfileMembershipSerializer,
    RefreshResultSerializer,
    RulePreviewSerializer,
    StaticUploadInputSerializer,
    StaticUploadSerializer,
)
from audiences.models import Audience, AudienceMembership
from audiences.rules import RuleInvalid
from audiences.services.audiences import audience_create, audience_delete, audience_preview, audience_update
from audiences.services.membership import audience_refresh
from audiences.services.static import UploadError, audience_static_upload
from core.parsers import FormParser, JSONParser, MultiPartParser
from tracking.api.permissions import ModelPermissions
from tracking.roles import can_view_personal_data

INVALID = OpenApiResponse(description="Invalid rule or field: every error, by path.")


def rule_invalid_response(exc: RuleInvalid) -> Response:
    report = exc.report.as_dict()
    return Response(
        {"detail": "The rule is invalid.", "errors": report["errors"], "warnings": report["warnings"]},
        status=status.HTTP_400_BAD_REQUEST,
    )


class RuleErrorsMixin:
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RuleInvalid):
            return rule_invalid_response(exc)
        if isinstance(exc, UploadError):
            return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)  # type: ignore[misc]


@extend_schema_view(
    list=extend_schema(summary="List audiences", tags=["audiences"]),
    retrieve=extend_schema(
        summary="Read an audience", tags=["audiences"], examples=[examples.audience_response]
    ),
    create=extend_schema(
        summary="Create an audience",
        description="Validates the rule (errors by path), saves, and computes membership right after commit.",
        tags=["audiences"],
        examples=[examples.audience_create, examples.audience_cross_sell, examples.invalid_rule],
        responses={201: AudienceSerializer, 400: INVALID},
    ),
    update=extend_schema(
        summary="Replace an audience", tags=["audiences"], responses={200: AudienceSerializer, 400: INVALID}
    ),
    partial_update=extend_schema(
        summary="Change an audience", tags=["audiences"], responses={200: AudienceSerializer, 400: INVALID}
    ),
    destroy=extend_schema(
        summary="Delete an audience",
        description="Refused (400) while another audience's rule refers to it.",
        tags=["audiences"],
    ),
)
class AudienceViewSet(RuleErrorsMixin, viewsets.ModelViewSet):
    queryset = Audience.objects.all()
    serializer_class = AudienceSerializer
    permission_classes = [ModelPermissions]
    lookup_field = "slug"
    filter_backends: list = []
    action_permissions = {
        "preview": ["audiences.view_audience"],
        # Members are people: their list also needs the personal data permission (marketers lack it).
        "members": [
            "audiences.view_audience",
            "audiences.view_audiencemembership",
            "tracking.view_personal_data",
        ],
        "refresh": ["audiences.change_audience"],
        "upload": ["audiences.change_audience"],
    }

    def perform_create(self, serializer: AudienceSerializer) -> None:
        serializer.instance = audience_create(**serializer.validated_data)

    def perform_update(self, serializer: AudienceSerializer) -> None:
        serializer.instance = audience_update(audience=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance: Audience) -> None:
        audience_delete(audience=instance)

    @extend_schema(
        summary="Preview a rule without saving",
        description=(
            "How many profiles the rule selects now, a sample of 20, and how many are reachable per "
            "channel (an active contact point, and consent not withdrawn). Nothing is stored."
        ),
        tags=["audiences"],
        request=RulePreviewSerializer,
        responses={200: PreviewResultSerializer, 400: INVALID},
        examples=[examples.preview_request, examples.preview_response, examples.invalid_rule],
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        data = RulePreviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preview = audience_preview(rule=data.validated_data["rule"], slug=data.validated_data.get("slug"))
        shown = can_view_personal_data(request.user)
        return Response(
            {
                "count": preview.count,
                "sample": preview.sample if shown else [],
                "sample_hidden": not shown,
                "reachable": preview.reachable,
                "warnings": [w.as_dict() for w in preview.report.warnings],
            }
        )

    @extend_schema(
        summary="List members (paged)", tags=["audiences"], responses={200: MemberSerializer(many=True)}
    )
    @action(detail=True, methods=["get"])
    def members(self, request: Request, slug: str | None = None) -> Response:
        page = self.paginate_queryset(selectors.audience_members(audience=self.get_object()))
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(
        summary="Refresh membership now",
        description="A full refresh, run now; answers how many entered and exited.",
        tags=["audiences"],
        request=None,
        responses={200: RefreshResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, slug: str | None = None) -> Response:
        result = audience_refresh(audience_id=self.get_object().pk)
        members = AudienceMembership.objects.filter(audience__slug=slug, exited_at__isnull=True).count()
        return Response(
            {
                "entered": len(result.entered),
                "exited": len(result.exited),
                "members": members,
                "ms": result.ms,
            }
        )

    @extend_schema(
        summary="Upload members of a static audience (CSV)",
        description=(
            "A CSV of emails, phones (E.164) or user ids, one per line or in a named column. Good lines "
            "are kept; the report lists matched and unmatched counts and every invalid line by number."
        ),
        tags=["audiences"],
        request={"multipart/form-data": StaticUploadInputSerializer},
        responses={201: StaticUploadSerializer, 400: OpenApiResponse(description="The file cannot be read.")},
        examples=[examples.upload_report],
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def upload(self, request: Request, slug: str | None = None) -> Response:
        data = StaticUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = audience_static_upload(
            audience=self.get_object(),
            file=data.validated_data["file"].read(),
            file_name=data.validated_data["file"].name,
            id_kind=data.validated_data["id_kind"],
            column=data.validated_data.get("column"),
            replace=data.validated_data["replace"],
            user=request.user,
        )
        return Response(StaticUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="A profile's audiences",
    description="The audiences a profile is in now; `?history=1` adds past stays with their exit time.",
    tags=["audiences"],
)
class ProfileMembershipsView(mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = ProfileMembershipSerializer
    permission_classes = [ModelPermissions]
    queryset = AudienceMembership.objects.none()
    filter_backends: list = []

    def get_queryset(self) -> Any:
        history = self.request.query_params.get("history") in ("1", "true")
        return selectors.profile_memberships(profile_id=self.kwargs["profile_id"], include_history=history)

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)
