"""Sources: where events come from, each with its write key (shown: SDKs embed it client-side)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tracking.api import examples
from tracking.api.permissions import ModelPermissions
from tracking.api.serializers import SourceListSerializer, SourceSerializer, SourceUpdateSerializer
from tracking.models import Source
from tracking.services.sources import source_create, source_update, source_write_key_rotate

BAD_INPUT = OpenApiResponse(
    description='Errors by field, e.g. {"name": ["a source named \'web\' already exists"]}'
)


@extend_schema_view(
    list=extend_schema(summary="List sources", responses={200: SourceListSerializer(many=True)}),
    retrieve=extend_schema(
        summary="Read a source", description="Includes the write key.", examples=[examples.source_example]
    ),
    create=extend_schema(
        summary="Create a source",
        description="A write key is generated unless `write_key` is given. The answer shows it.",
        request=SourceSerializer,
        examples=[examples.source_create_example, examples.source_example],
        responses={201: SourceSerializer, 400: BAD_INPUT},
    ),
    update=extend_schema(
        summary="Change a source",
        description="Name, enabled flag and rate limit (messages/s; null for none). The write key cannot be set.",
        request=SourceUpdateSerializer,
        examples=[examples.source_update_example, examples.source_example],
        responses={200: SourceSerializer, 400: BAD_INPUT},
    ),
    partial_update=extend_schema(
        summary="Change some of a source's settings",
        request=SourceUpdateSerializer,
        examples=[examples.source_update_example, examples.source_example],
        responses={200: SourceSerializer, 400: BAD_INPUT},
    ),
)
class SourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Source.objects.order_by("name")
    serializer_class = SourceSerializer
    permission_classes = [ModelPermissions]
    filter_backends: list = []
    action_permissions = {"rotate_write_key": ["tracking.view_source", "tracking.change_source"]}

    def get_serializer_class(self) -> Any:
        return SourceListSerializer if self.action == "list" else SourceSerializer

    def create(self, request: Request) -> Response:
        data = SourceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source = source_create(**{k: v for k, v in data.validated_data.items() if k != "created_at"})
        return Response(SourceSerializer(source).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        source = self.get_object()
        data = SourceUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        clear = "rate_limit_per_second" in fields and fields["rate_limit_per_second"] is None
        if clear:
            fields.pop("rate_limit_per_second")
        source = source_update(source=source, clear_rate_limit=clear, **fields)
        return Response(SourceSerializer(source).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    @extend_schema(
        summary="Rotate the write key",
        description="Gives the source a new write key; SDKs still sending the old one get 401 within seconds.",
        request=None,
        responses={200: SourceSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-write-key")
    def rotate_write_key(self, request: Request, pk: str) -> Response:
        return Response(SourceSerializer(source_write_key_rotate(source=self.get_object())).data)
