"""Events as stored, across all profiles and sources: read-only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from tracking import selectors
from tracking.api import examples
from tracking.api.pagination import EventCursorPagination
from tracking.api.permissions import ModelPermissions, PersonalData
from tracking.api.serializers import EventListFilterSerializer, EventSerializer
from tracking.models import Event


@extend_schema_view(
    list=extend_schema(
        summary="List events",
        description="Newest first, paged by cursor (follow `next`). Filters combine; `source` is an id or a name.",
        parameters=[EventListFilterSerializer],
        examples=[examples.events_page_example],
        responses={200: EventSerializer(many=True), 400: OpenApiResponse(description="Bad filter")},
    ),
    retrieve=extend_schema(summary="Read one event"),
)
class EventViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Event.objects.select_related("source")
    serializer_class = EventSerializer
    permission_classes = [ModelPermissions, PersonalData]
    pagination_class = EventCursorPagination
    filter_backends: list = []

    def list(self, request: Request) -> Response:
        filters = EventListFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.events_list(**filters.validated_data))
        return self.get_paginated_response(EventSerializer(page, many=True).data)
