from __future__ import annotations

from rest_framework import serializers

from audiences.models import Audience, AudienceKind, AudienceMembership, StaticUpload


class AudienceSerializer(serializers.ModelSerializer):
    rule = serializers.JSONField(
        required=False, help_text="The rule (see docs/audiences.md); omit for static audiences."
    )

    class Meta:
        model = Audience
        fields = (
            "slug",
            "name",
            "description",
            "kind",
            "rule",
            "refresh_every_minutes",
            "member_count",
            "last_refreshed_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("member_count", "last_refreshed_at", "created_at", "updated_at")

    def validate_rule(self, value):
        # A multipart/form `rule=null` reaches here as None (JSON bodies are refused earlier).
        if value is None:
            raise serializers.ValidationError("may not be null; send {} for a static audience")
        return value

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", AudienceKind.RULE))
        if kind == AudienceKind.RULE and "rule" not in attrs and self.instance is None:
            raise serializers.ValidationError({"rule": ["a rule audience needs a rule"]})
        return attrs


class RulePreviewSerializer(serializers.Serializer):
    rule = serializers.JSONField()
    slug = serializers.SlugField(required=False, help_text="The audience being edited, for cycle checks.")


class PreviewResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.DictField())
    sample_hidden = serializers.BooleanField(
        help_text="True when the caller may not read people's data (tracking.view_personal_data): no sample."
    )
    reachable = serializers.DictField(child=serializers.IntegerField())
    warnings = serializers.ListField(child=serializers.DictField())


class MemberSerializer(serializers.ModelSerializer):
    profile_id = serializers.IntegerField()
    email = serializers.SerializerMethodField()
    country = serializers.CharField(source="profile.country")

    class Meta:
        model = AudienceMembership
        fields = ("profile_id", "email", "country", "entered_at")

    def get_email(self, obj: AudienceMembership) -> str:
        return (obj.profile.traits or {}).get("email", "")


class ProfileMembershipSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    audience_name = serializers.CharField(source="audience.name")

    class Meta:
        model = AudienceMembership
        fields = ("audience", "audience_name", "entered_at", "exited_at")


class RefreshResultSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    exited = serializers.IntegerField()
    members = serializers.IntegerField()
    ms = serializers.IntegerField()


class StaticUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: one id per line, or a header naming the column.")
    id_kind = serializers.ChoiceField(choices=["email", "phone", "user_id"])
    column = serializers.CharField(required=False, help_text="Column name when the file has a header.")
    replace = serializers.BooleanField(default=False, help_text="Replace the members instead of adding.")


class StaticUploadSerializer(serializers.ModelSerializer):
    members = serializers.IntegerField(source="audience.member_count")

    class Meta:
        model = StaticUpload
        fields = ("id", "id_kind", "matched", "unmatched", "invalid", "unmatched_sample", "members")
