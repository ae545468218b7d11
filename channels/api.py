"""The transactional send API: one message to one profile, idempotent; read its status and timeline."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels.models import Message, Template
from channels.serializers import MessageDetailSerializer, MessageSendSerializer, MessageSerializer
from channels.services import EnqueueError, message_enqueue
from tracking.api.permissions import ModelPermissions
from tracking.identity_keys import normalize_email
from tracking.models import ContactPoint, Identity, IdentityKind


def _profile_id(data: dict[str, Any]) -> int:
    if data.get("profile_id") is not None:
        return data["profile_id"]
    if data.get("user_id"):
        pid = (
            Identity.objects.filter(kind=IdentityKind.USER_ID, value=data["user_id"])
            .values_list("profile_id", flat=True)
            .first()
        )
        if pid is None:
            raise ValidationError({"user_id": f"no profile with user id {data['user_id']!r}"})
        return pid
    email = normalize_email(data["email"]) or data["email"].lower()
    pid = (
        Identity.objects.filter(kind=IdentityKind.EMAIL, value=email)
        .values_list("profile_id", flat=True)
        .first()
        or ContactPoint.objects.filter(channel="email", address__iexact=email)
        .values_list("profile_id", flat=True)
        .first()
    )
    if pid is None:
        raise ValidationError({"email": f"no profile with email {email!r}"})
    return pid


@extend_schema_view(
    list=extend_schema(
        summary="List messages",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR),
            OpenApiParameter("channel", OpenApiTypes.STR),
            OpenApiParameter("skip_reason", OpenApiTypes.STR),
            OpenApiParameter("campaign_kind", OpenApiTypes.STR),
            OpenApiParameter("campaign_id", OpenApiTypes.INT),
            OpenApiParameter("profile_id", OpenApiTypes.INT),
        ],
    ),
    retrieve=extend_schema(summary="Read a message with its attempts and status timeline"),
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Message.objects.select_related("template").order_by("-id")
    permission_classes = [ModelPermissions]
    filterset_fields = ["status", "channel", "skip_reason", "campaign_kind", "campaign_id", "profile_id"]

    def get_serializer_class(self) -> type:
        return MessageDetailSerializer if self.action == "retrieve" else MessageSerializer

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        return qs.prefetch_related("attempts", "events") if self.action == "retrieve" else qs

    @extend_schema(
        summary="Send one message (transactional send API)",
        description=(
            "Puts one message to one profile in the outbox and wakes dispatch. The profile is named by "
            "exactly one of profile_id, user_id or email. Idempotent: the same idempotency key (body field "
            "or Idempotency-Key header) returns the first message with 200 instead of 201. Consent, "
            "suppressions and (for marketing topics) caps and quiet hours apply at dispatch; the message's "
            "status and skip_reason say what happened."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        request=MessageSendSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="An earlier request with this key"),
            400: OpenApiResponse(description="Bad input; the body names the field"),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = MessageSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = data.get("idempotency_key") or request.headers.get("Idempotency-Key", "")
        if not key:
            raise ValidationError({"idempotency_key": "required (body field or Idempotency-Key header)"})
        key = f"api:{key}"
        if not Template.objects.filter(slug=data["template"], channel=data["channel"]).exists():
            raise ValidationError({"template": f"no {data['channel']} template {data['template']!r}"})
        existed = Message.objects.filter(idempotency_key=key).exists()
        with transaction.atomic():
            try:
                message = message_enqueue(
                    profile_id=_profile_id(data),
                    channel=data["channel"],
                    template_slug=data["template"],
                    topic=data["topic"],
                    data=data["data"],
                    campaign_kind="transactional" if data["topic"] == "transactional" else "",
                    idempotency_key=key,
                    send_at=data.get("send_at"),
                )
            except EnqueueError as exc:
                field, _, reason = str(exc).partition(": ")
                raise ValidationError({field: reason or str(exc)})
        return Response(MessageSerializer(message).data, status=200 if existed else 201)
