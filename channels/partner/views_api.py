"""REST API for partner webhooks: endpoints, secret rotation, the delivery log and replay. Thin: services do the work."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.partner.models import Delivery, Endpoint
from channels.partner.registry import event_types_list
from channels.partner.serializers import (
    DeliverySerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    EventTypeSerializer,
    SecretSerializer,
)
from channels.partner.services import (
    delivery_replay,
    endpoint_create,
    endpoint_secret_rotate,
    endpoint_update,
)
from tracking.api.permissions import ModelPermissions

# Reads need view_* too (plain DjangoModelPermissions lets any logged-in user GET).
PERMISSIONS = [ModelPermissions]


def _no_store(response: Response) -> Response:
    response["Cache-Control"] = "no-store"
    return response


@extend_schema_view(
    list=extend_schema(summary="List partner webhook endpoints"),
    retrieve=extend_schema(summary="One endpoint"),
    create=extend_schema(
        summary="Create an endpoint",
        description="The response carries the signing secret (whsec_…) once; it is never returned again.",
        responses={201: EndpointWithSecretSerializer},
    ),
    update=extend_schema(summary="Replace an endpoint's settings"),
    partial_update=extend_schema(summary="Change an endpoint (set enabled=true to re-enable a disabled one)"),
    destroy=extend_schema(summary="Delete an endpoint and its delivery log"),
)
class EndpointViewSet(viewsets.ModelViewSet):
    queryset = Endpoint.objects.all()
    serializer_class = EndpointSerializer
    permission_classes = PERMISSIONS
    filterset_fields = ["enabled"]
    action_permissions = {
        "rotate_secret": ["partner.view_endpoint", "partner.change_endpoint"],
        "deliveries": ["partner.view_endpoint", "partner.view_delivery"],
    }

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = endpoint_create(
            url=data["url"],
            event_types=data["event_types"],
            description=data.get("description", ""),
            enabled=data.get("enabled", True),
            rate_limit=data.get("rate_limit"),
        )
        endpoint.secret = secret
        return _no_store(
            Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)
        )

    def update(self, request: Request, *args, **kwargs) -> Response:
        endpoint = self.get_object()
        serializer = self.get_serializer(endpoint, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            endpoint = endpoint_update(endpoint=endpoint, data=dict(serializer.validated_data))
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Rotate the signing secret",
        description="Returns the new secret once. The previous one keeps signing (a second signature) for the overlap period.",
        request=None,
        responses={200: SecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        secret = endpoint_secret_rotate(endpoint=endpoint)
        data = {"secret": secret, "previous_secret_expires_at": endpoint.previous_secret_expires_at}
        return _no_store(Response(SecretSerializer(data).data))

    @extend_schema(summary="The endpoint's delivery log", responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        queryset = Delivery.objects.filter(endpoint=endpoint).prefetch_related("attempt_log").order_by("-id")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List deliveries (filter by endpoint, status, event_type)"),
    retrieve=extend_schema(summary="One delivery with its attempts"),
)
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Delivery.objects.prefetch_related("attempt_log").order_by("-id")
    serializer_class = DeliverySerializer
    permission_classes = PERMISSIONS
    filterset_fields = ["endpoint", "status", "event_type", "webhook_id"]
    action_permissions = {"replay": ["partner.view_delivery", "partner.change_delivery"]}

    @extend_schema(
        summary="Replay a delivery",
        description="Queues it again with the same webhook-id (partners dedupe on it) and a fresh retry schedule.",
        request=None,
        responses={202: DeliverySerializer, 400: OpenApiResponse(description="The endpoint is disabled")},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        delivery = delivery_replay(delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class CanViewEndpoints(permissions.BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("partner.view_endpoint"))


class EventTypesView(APIView):
    permission_classes = [CanViewEndpoints]

    @extend_schema(
        summary="Event types partners can subscribe to", responses={200: EventTypeSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        data = [{"name": name, "description": description} for name, description in event_types_list()]
        return Response(EventTypeSerializer(data, many=True).data)
