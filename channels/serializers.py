"""API shapes for the transactional send API and message reads."""

from __future__ import annotations

from rest_framework import serializers

from channels.models import Message, MessageAttempt, MessageEvent
from tracking.models import Channel


class MessageSendSerializer(serializers.Serializer):
    profile_id = serializers.IntegerField(
        required=False, help_text="Voyage profile id (merged ids still work)."
    )
    user_id = serializers.CharField(required=False, help_text="Your user id, as sent to /v1/identify.")
    email = serializers.EmailField(required=False, help_text="An email address of the profile.")
    channel = serializers.ChoiceField(choices=Channel.choices)
    template = serializers.SlugField(help_text="Template slug.")
    data = serializers.DictField(
        required=False, default=dict, help_text="Custom data for the template (Liquid `data`)."
    )
    topic = serializers.CharField(required=False, default="transactional", max_length=64)
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Or the Idempotency-Key header. Repeats return the first message.",
    )
    send_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        given = [k for k in ("profile_id", "user_id", "email") if attrs.get(k) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"profile_id": "give exactly one of profile_id, user_id or email"}
            )
        return attrs


class MessageAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageAttempt
        fields = [
            "number",
            "provider",
            "started_at",
            "finished_at",
            "status_code",
            "duration_ms",
            "error",
            "retryable",
            "batch_size",
        ]


class MessageEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageEvent
        fields = ["kind", "at", "data"]


class MessageSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "profile_id",
            "channel",
            "template",
            "topic",
            "status",
            "skip_reason",
            "error",
            "campaign_kind",
            "campaign_id",
            "stage_key",
            "variant",
            "idempotency_key",
            "send_at",
            "due_at",
            "created_at",
            "sent_at",
            "address",
            "subject",
            "provider",
            "provider_message_id",
            "cost",
            "cost_currency",
            "attempt_count",
        ]


class MessageDetailSerializer(MessageSerializer):
    attempts = MessageAttemptSerializer(many=True, read_only=True)
    events = MessageEventSerializer(many=True, read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = MessageSerializer.Meta.fields + ["attempts", "events"]
