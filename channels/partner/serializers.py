"""API shapes for partner webhooks. Secrets appear only in the one-time reveal serializer."""

from __future__ import annotations

from rest_framework import serializers

from channels.partner.models import Delivery, DeliveryAttempt, Endpoint


class EndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.CharField(), help_text='Event type names (see /api/partner/event-types/), or ["*"].'
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "rate_limit",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]
        # URL checks (including the SSRF guard) happen in the service, which names the field.
        extra_kwargs = {"url": {"validators": []}}


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret. Returned only now; store it, it is never shown again."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret, shown only in this response.")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then requests carry a second signature made with the previous secret."
    )


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "at", "outcome", "status_code", "duration_ms", "response_snippet", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event_type",
            "webhook_id",
            "idempotency_key",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "payload",
            "created_at",
            "succeeded_at",
            "attempt_log",
        ]
        read_only_fields = fields


class EventTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
