"""Shapes of the tracking management API. Reads only; writes go through tracking.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracking.models import (
    Channel,
    Consent,
    ConsentChange,
    ContactPoint,
    Event,
    EventType,
    Identity,
    Profile,
    Source,
)


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["kind", "namespace", "value", "created_at"]


class ContactPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactPoint
        fields = ["channel", "address", "is_primary", "active", "created_at"]


class ConsentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["channel", "topic", "status", "changed_at", "method", "detail"]


class ConsentChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentChange
        fields = ["channel", "topic", "status", "changed_at", "method", "detail"]


class ProfileConsentSerializer(serializers.Serializer):
    current = ConsentSerializer(many=True, help_text="The standing decision per channel and topic.")
    history = ConsentChangeSerializer(many=True, help_text="Every grant and withdrawal, newest first.")


class ProfileSummarySerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Profile
        fields = [
            "id",
            "identities",
            "traits",
            "tags",
            "timezone",
            "locale",
            "country",
            "first_seen_at",
            "last_seen_at",
        ]


class ProfileSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    contact_points = ContactPointSerializer(many=True, read_only=True)
    consent = serializers.SerializerMethodField()
    merged_profile_ids = serializers.SerializerMethodField()
    requested_id = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = [
            "id",
            "requested_id",
            "merged_profile_ids",
            "created_at",
            "updated_at",
            "first_seen_at",
            "last_seen_at",
            "identities",
            "traits",
            "trait_updated_at",
            "tags",
            "timezone",
            "locale",
            "country",
            "contact_points",
            "consent",
        ]

    @extend_schema_field(ProfileConsentSerializer)
    def get_consent(self, profile: Profile) -> dict[str, Any]:
        return ProfileConsentSerializer(
            {"current": profile.consents.all(), "history": profile.consent_changes.all()}
        ).data

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_merged_profile_ids(self, profile: Profile) -> list[int]:
        return self.context.get("merged_profile_ids", [])

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="The id in the URL when that profile had been merged into this one; else null.",
        )
    )
    def get_requested_id(self, profile: Profile) -> int | None:
        return self.context.get("requested_id")


class EventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "message_id",
            "source",
            "type",
            "name",
            "user_id",
            "anonymous_id",
            "group_id",
            "previous_id",
            "profile",
            "properties",
            "traits",
            "context",
            "original_timestamp",
            "sent_at",
            "received_at",
            "timestamp",
            "processed_at",
        ]


class EventFilterSerializer(serializers.Serializer):
    """Query parameters shared by the event lists."""

    type = serializers.ChoiceField(choices=EventType.choices, required=False, help_text="Message type.")
    name = serializers.CharField(
        required=False, max_length=200, help_text="Event name (track) or page/screen name."
    )
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Events before this time (ISO 8601).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["must be later than since"]})
        return attrs


class EventListFilterSerializer(EventFilterSerializer):
    source = serializers.CharField(required=False, max_length=100, help_text="Source id or name.")


class ProfileLookupSerializer(serializers.Serializer):
    user_id = serializers.CharField(required=False, max_length=255)
    anonymous_id = serializers.CharField(required=False, max_length=255)
    email = serializers.CharField(
        required=False, max_length=320, help_text="Matched after normalisation (case, whitespace)."
    )
    phone = serializers.CharField(
        required=False, max_length=64, help_text="E.164, e.g. +4915112345678 (formatting is ignored)."
    )
    external_id = serializers.CharField(
        required=False, max_length=255, help_text="An external id such as an Amazon buyer id."
    )
    namespace = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Whose external id it is (e.g. amazon_buyer_id); only with external_id.",
    )


class ConsentInputSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    topic = serializers.RegexField(
        r"^[a-z0-9_\-]+$", max_length=64, required=False, default="marketing", help_text="e.g. marketing"
    )
    granted = serializers.BooleanField(help_text="true to grant, false to withdraw.")
    method = serializers.CharField(
        max_length=64, help_text="How it was given or withdrawn: form, api, import, sms_keyword, …"
    )
    detail = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


_ORIGINS_HELP = (
    "Web origins (scheme://host[:port]) whose pages may send with this write key from a browser; "
    "empty: none may. Server-side and mobile SDKs are not affected."
)


class SourceSerializer(serializers.ModelSerializer):
    """A source in full, with its write key (a client-side key, like Segment's, that SDKs embed)."""

    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, help_text=_ORIGINS_HELP
    )

    write_key = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Generated when not given on create; read-only afterwards.",
    )

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "write_key",
            "enabled",
            "rate_limit_per_second",
            "allowed_origins",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        # Uniqueness is checked by the service, with a message naming the field.
        extra_kwargs = {"name": {"validators": []}, "write_key": {"validators": []}}


class SourceListSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "name", "enabled", "rate_limit_per_second", "created_at"]


class SourceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    enabled = serializers.BooleanField(required=False)
    rate_limit_per_second = serializers.IntegerField(
        min_value=1,
        max_value=2147483647,  # the column's range, as on create
        allow_null=True,
        required=False,
        help_text="null removes the limit.",
    )
    allowed_origins = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, help_text=_ORIGINS_HELP
    )
