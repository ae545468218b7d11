"""API shapes for journeys, runs and broadcasts."""

from __future__ import annotations

from rest_framework import serializers

from journeys.models import Broadcast, BroadcastVariant, Journey, JourneyVersion, Run, RunStep


class VersionSerializer(serializers.ModelSerializer):
    frozen = serializers.BooleanField(source="is_frozen", read_only=True)

    class Meta:
        model = JourneyVersion
        fields = ["number", "definition", "published_at", "frozen", "created_at", "updated_at"]


class JourneySerializer(serializers.ModelSerializer):
    live_version = serializers.IntegerField(source="live_version.number", read_only=True, allow_null=True)
    definition = serializers.SerializerMethodField()
    draft_version = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Journey
        fields = [
            "slug",
            "name",
            "status",
            "live_version",
            "draft_version",
            "definition",
            "counts",
            "created_at",
        ]

    def _latest(self, obj: Journey) -> JourneyVersion | None:
        return obj.versions.order_by("-number").first()

    def get_definition(self, obj: Journey) -> dict:
        """The draft if there is one, else the live definition."""
        latest = self._latest(obj)
        return latest.definition if latest else {}

    def get_draft_version(self, obj: Journey) -> int | None:
        latest = self._latest(obj)
        return latest.number if latest and not latest.is_frozen else None

    def get_counts(self, obj: Journey) -> dict[str, int]:
        from journeys.selectors import journey_counts

        return journey_counts(journey=obj)


class DefinitionInputSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text="The journey definition (see docs/journeys.md).")


class PublishInputSerializer(serializers.Serializer):
    migrate = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Map stage keys of earlier versions to stages of the new one; those runs move over.",
    )


class EnrollInputSerializer(serializers.Serializer):
    profile_id = serializers.IntegerField()
    key = serializers.CharField(
        required=False, allow_blank=True, max_length=150, help_text="Idempotency key."
    )


class EnrollResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    refused = serializers.DictField(child=serializers.IntegerField())
    run_ids = serializers.ListField(child=serializers.IntegerField())


class RunStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunStep
        fields = ["seq", "stage_key", "from_stage", "reason", "at", "detail"]


class RunSerializer(serializers.ModelSerializer):
    journey = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id", "journey", "version", "profile_id", "entry_key", "status", "entered_at", "stage_key",
            "stage_entered_at", "due_at", "variant", "holdout", "goal_deadline", "converted_at", "ended_at",
            "end_reason", "steps",
        ]  # fmt: skip


class IssueSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class ValidationReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    errors = IssueSerializer(many=True)
    warnings = IssueSerializer(many=True)


class DefinitionErrorsSerializer(serializers.Serializer):
    """A 400: an invalid definition gives detail, errors and warnings; other bad input gives
    errors by field (e.g. {"definition": ["This field is required."]})."""

    detail = serializers.CharField(required=False)
    errors = IssueSerializer(many=True, required=False)
    warnings = IssueSerializer(many=True, required=False)


class BroadcastVariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = BroadcastVariant
        fields = ["key", "template_slug", "weight"]


class BroadcastSerializer(serializers.ModelSerializer):
    variants = BroadcastVariantSerializer(many=True)

    class Meta:
        model = Broadcast
        fields = [
            "id", "name", "audience_slug", "channel", "topic", "status", "send_at", "local_time", "recurrence",
            "test_percent", "winner_metric", "winner_after_hours", "conversion_event", "winner_variant",
            "occurrence", "variants",
        ]  # fmt: skip
        read_only_fields = ["status", "winner_variant", "occurrence"]

    def validate_variants(self, value):
        # A PATCH makes the nested variants partial too, yet `variants` always replaces the whole
        # set, so each variant must be complete.
        errors = {}
        for index, variant in enumerate(value):
            missing = [name for name in ("key", "template_slug") if name not in variant]
            if missing:
                errors[index] = {name: ["This field is required."] for name in missing}
        if errors:
            raise serializers.ValidationError(errors)
        keys = [v["key"] for v in value]
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("variant keys must be unique")
        return value
