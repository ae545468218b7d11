"""The journeys API: CRUD, validate, publish, pause, resume, archive, enroll, runs, dry run, broadcasts.

Views validate input and call services. Invalid definitions answer 400 with every error by path;
editing a published version is 409; an unknown profile is 404 (enroll, dry run).
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from journeys.api.serializers import (
    BroadcastSerializer,
    DefinitionErrorsSerializer,
    DefinitionInputSerializer,
    EnrollInputSerializer,
    EnrollResultSerializer,
    JourneySerializer,
    PublishInputSerializer,
    RunSerializer,
    ValidationReportSerializer,
    VersionSerializer,
)
from journeys.definition import DefinitionInvalid, definition_validate
from journeys.models import Broadcast, Journey, Run
from journeys.services.broadcasts import (
    broadcast_create,
    broadcast_results,
    broadcast_schedule,
    broadcast_update,
)
from journeys.services.dryrun import UnknownProfile, journey_dry_run
from journeys.services.entry import JourneyNotLive, run_enroll_profile
from journeys.services.versions import (
    JourneyStateError,
    VersionFrozen,
    draft_create,
    journey_archive,
    journey_create,
    journey_draft,
    journey_pause,
    journey_resume,
    version_publish,
    version_update,
    version_validate,
)
from tracking.api.permissions import ModelPermissions
from tracking.messages import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP
from tracking.models import Profile

DEFINITION_EXAMPLE = {
    "slug": "welcome",
    "name": "Welcome series",
    "entry": {"event": "Signed Up"},
    "reentry": "never",
    "goal": {"event": "Order Completed", "within_days": 14},
    "holdout_percent": 10,
    "stages": [
        {
            "key": "welcome",
            "actions": [{"send": {"channel": "email", "template": "welcome", "topic": "marketing"}}],
            "transitions": [
                {"to": "done", "on_event": {"event": "Order Completed"}},
                {"to": "nudge", "after": {"days": 2, "at": "10:00"}},
            ],
        },
        {"key": "nudge", "actions": [{"send": {"channel": "email", "template": "nudge"}}],
         "transitions": [{"to": "done", "after": {"days": 3}}]},
        {"key": "done", "exit": True},
    ],
}  # fmt: skip
INVALID = OpenApiResponse(DefinitionErrorsSerializer, description="Invalid definition: every error, by path.")
CONFLICT = OpenApiResponse(description="The journey's state does not allow this (e.g. pausing a draft).")


def invalid_response(exc: DefinitionInvalid) -> Response:
    report = exc.report.as_dict()
    return Response(
        {
            "detail": "The journey definition is invalid.",
            "errors": report["errors"],
            "warnings": report["warnings"],
        },
        status=status.HTTP_400_BAD_REQUEST,
    )


class JourneyErrorsMixin:
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DefinitionInvalid):
            return invalid_response(exc)
        if isinstance(exc, VersionFrozen):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, JourneyStateError | JourneyNotLive):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, UnknownProfile):
            return Response({"profile_id": [str(exc)]}, status=status.HTTP_404_NOT_FOUND)
        if isinstance(exc, DjangoValidationError):
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)  # type: ignore[misc]


def _definition_from(request: Request) -> dict:
    serializer = DefinitionInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    definition = serializer.validated_data["definition"]
    if not isinstance(definition, dict):
        raise ValidationError({"definition": ["must be a JSON object"]})
    return definition


@extend_schema(tags=["journeys"])
class JourneyViewSet(
    JourneyErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Journeys by slug. The definition shown is the draft when there is one, else the live version."""

    queryset = Journey.objects.select_related("live_version").order_by("name")
    serializer_class = JourneySerializer
    permission_classes = [ModelPermissions]
    lookup_field = "slug"
    action_permissions = {
        "validate": ["journeys.view_journey"],
        "publish": ["journeys.change_journey"],
        "pause": ["journeys.change_journey"],
        "resume": ["journeys.change_journey"],
        "archive": ["journeys.change_journey"],
        "enroll": ["journeys.add_run"],
        "runs": ["journeys.view_run"],
        "dry_run": ["journeys.view_journey"],
        "versions": ["journeys.view_journey"],
    }

    @extend_schema(
        summary="Create a journey (its first draft)",
        request=DefinitionInputSerializer,
        responses={201: JourneySerializer, 400: INVALID},
        examples=[
            OpenApiExample("Welcome series", value={"definition": DEFINITION_EXAMPLE}, request_only=True)
        ],
    )
    def create(self, request: Request) -> Response:
        journey = journey_create(definition=_definition_from(request))
        return Response(JourneySerializer(journey).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit the draft (a new draft is started from the live version if there is none)",
        request=DefinitionInputSerializer,
        responses={
            200: JourneySerializer,
            400: INVALID,
            409: OpenApiResponse(description="Version is published"),
        },
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        definition = _definition_from(request)
        draft = journey_draft(journey=journey)
        if draft is None:
            draft_create(journey=journey, definition=definition)
        else:
            version_update(version=draft, definition=definition)
        return Response(JourneySerializer(journey).data)

    @extend_schema(
        summary="Edit a given version (only drafts can be edited)",
        request=DefinitionInputSerializer,
        responses={
            200: VersionSerializer,
            400: INVALID,
            409: OpenApiResponse(description="The version is published and frozen"),
        },
        parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["put"], url_path=r"versions/(?P<number>\d+)")
    def version(self, request: Request, slug: str, number: str) -> Response:
        journey = self.get_object()
        version = get_object_or_404(journey.versions, number=int(number))
        version = version_update(version=version, definition=_definition_from(request))
        return Response(VersionSerializer(version).data)

    @extend_schema(summary="Every version of the journey", responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        return Response(VersionSerializer(journey.versions.order_by("-number"), many=True).data)

    @extend_schema(
        summary="Validate the draft, or a definition sent in the body, without saving",
        request=DefinitionInputSerializer,
        responses={200: ValidationReportSerializer, 400: INVALID},
    )
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        if request.data is None or not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["the body must be a JSON object (or empty)"]})
        if "definition" in request.data:
            report = definition_validate(_definition_from(request))
        else:
            draft = journey_draft(journey=journey) or journey.live_version
            report = version_validate(version=draft)
        return Response(report.as_dict())

    @extend_schema(
        summary="Publish the draft (freezes it; new entries start on it; optional run migration)",
        request=PublishInputSerializer,
        responses={
            200: JourneySerializer,
            400: INVALID,
            409: OpenApiResponse(description="No draft to publish"),
        },
        examples=[OpenApiExample("Move runs", value={"migrate": {"tips": "advice"}}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        body = PublishInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft = journey_draft(journey=journey)
        if draft is None:
            return Response({"detail": "there is no draft to publish"}, status=status.HTTP_409_CONFLICT)
        version_publish(version=draft, migrate=body.validated_data.get("migrate"))
        journey.refresh_from_db()
        return Response(JourneySerializer(journey).data)

    @extend_schema(
        summary="Pause: runs stop advancing and no one enters",
        request=None,
        responses={200: JourneySerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, slug: str) -> Response:
        return Response(JourneySerializer(journey_pause(journey=self.get_object())).data)

    @extend_schema(
        summary="Resume a paused journey", request=None, responses={200: JourneySerializer, 409: CONFLICT}
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, slug: str) -> Response:
        return Response(JourneySerializer(journey_resume(journey=self.get_object())).data)

    @extend_schema(
        summary="Archive: every active run exits; no more entries",
        request=None,
        responses={200: JourneySerializer, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        journey_archive(journey=journey)
        journey.refresh_from_db()
        return Response(JourneySerializer(journey).data)

    @extend_schema(
        summary="Enroll one profile now (idempotent with a key)",
        request=EnrollInputSerializer,
        responses={
            201: EnrollResultSerializer,
            200: EnrollResultSerializer,
            404: OpenApiResponse(description="Unknown profile"),
            409: OpenApiResponse(description="The journey is not active"),
        },
    )
    @action(detail=True, methods=["post"])
    def enroll(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        body = EnrollInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile_id = body.validated_data["profile_id"]
        if not Profile.objects.filter(pk=profile_id).exists():
            raise UnknownProfile(f"no profile {profile_id}")
        result = run_enroll_profile(
            journey=journey, profile_id=profile_id, key=body.validated_data.get("key", "")
        )
        data = {"created": result.created, "refused": result.refused, "run_ids": result.run_ids}
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        summary="The journey's runs, newest first, with their stage history",
        parameters=[
            OpenApiParameter("status", str, enum=["active", "completed", "exited"]),
            OpenApiParameter("stage", str),
            OpenApiParameter("profile_id", int),
        ],
        responses=RunSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def runs(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        qs = (
            Run.objects.filter(journey=journey).select_related("journey", "version").prefetch_related("steps")
        )
        qs = _run_filters(qs, request)
        page = self.paginate_queryset(qs.order_by("-id"))
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(
        summary="Dry run: what would this profile do in this journey, judging by its history",
        parameters=[
            OpenApiParameter("profile_id", int, required=True),
            OpenApiParameter(
                "entered_at", OpenApiTypes.DATETIME, description="Default: its latest entry event"
            ),
            OpenApiParameter(
                "now", OpenApiTypes.DATETIME, description="Simulate up to this moment (default: now)"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiResponse(description="Unknown profile")},
    )
    @action(detail=True, methods=["get"], url_path="dry-run")
    def dry_run(self, request: Request, slug: str) -> Response:
        journey = self.get_object()
        profile_id = _int_param(request, "profile_id", required=True)
        return Response(
            journey_dry_run(
                journey=journey,
                profile_id=profile_id,
                entered_at=_datetime_param(request, "entered_at"),
                now=_datetime_param(request, "now"),
            )
        )


def _run_filters(qs, request: Request):
    if request.query_params.get("status"):
        qs = qs.filter(status=request.query_params["status"])
    if request.query_params.get("stage"):
        qs = qs.filter(stage_key=request.query_params["stage"])
    if request.query_params.get("profile_id"):
        qs = qs.filter(profile_id=_int_param(request, "profile_id"))
    return qs


def _int_param(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ValidationError({name: ["is required"]})
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: ["must be an integer"]})


def _datetime_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ValidationError({name: ["must be an ISO 8601 date-time with offset"]})
    if value.tzinfo is None:
        raise ValidationError({name: ["needs a UTC offset"]})
    # The simulation adds days and converts zones; the events it replays lie inside this window.
    if not EARLIEST_TIMESTAMP <= value < LATEST_TIMESTAMP:
        raise ValidationError(
            {name: [f"must be between {EARLIEST_TIMESTAMP:%Y-%m-%d} and {LATEST_TIMESTAMP:%Y-%m-%d}"]}
        )
    return value


@extend_schema(tags=["journeys"])
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Runs across journeys; `?profile_id=` gives one profile's runs with their stage history."""

    queryset = Run.objects.select_related("journey", "version").prefetch_related("steps").order_by("-id")
    serializer_class = RunSerializer
    permission_classes = [ModelPermissions]

    @extend_schema(
        summary="Runs (filter by profile_id, status, stage)",
        parameters=[
            OpenApiParameter("profile_id", int),
            OpenApiParameter("status", str, enum=["active", "completed", "exited"]),
            OpenApiParameter("stage", str),
        ],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        profile_id = _int_param(request, "profile_id")
        if profile_id is not None and not Profile.objects.filter(pk=profile_id).exists():
            return Response({"profile_id": [f"no profile {profile_id}"]}, status=status.HTTP_404_NOT_FOUND)
        page = self.paginate_queryset(_run_filters(self.get_queryset(), request))
        return self.get_paginated_response(RunSerializer(page, many=True).data)


@extend_schema(tags=["broadcasts"])
class BroadcastViewSet(JourneyErrorsMixin, viewsets.ModelViewSet):
    """Broadcasts to an audience, with A/B/n variants and an optional test share and winner."""

    queryset = Broadcast.objects.prefetch_related("variants").order_by("-id")
    serializer_class = BroadcastSerializer
    permission_classes = [ModelPermissions]
    action_permissions = {"schedule": ["journeys.change_broadcast"], "results": ["journeys.view_broadcast"]}

    def perform_create(self, serializer: BroadcastSerializer) -> None:
        serializer.instance = broadcast_create(**serializer.validated_data)

    def perform_update(self, serializer: BroadcastSerializer) -> None:
        serializer.instance = broadcast_update(broadcast=serializer.instance, **serializer.validated_data)

    @extend_schema(summary="Check and schedule the broadcast", request=None, responses=BroadcastSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str) -> Response:
        broadcast = broadcast_schedule(broadcast=self.get_object())
        return Response(BroadcastSerializer(broadcast).data)

    @extend_schema(
        summary="Results per variant (opens, clicks, conversions) of an occurrence",
        parameters=[
            OpenApiParameter("occurrence", int),
            OpenApiParameter("phase", str, enum=["test", "winner", ""]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str) -> Response:
        broadcast = self.get_object()
        occurrence = _int_param(request, "occurrence") or broadcast.occurrence
        phase = request.query_params.get("phase", "")
        rows = broadcast_results(broadcast=broadcast, occurrence=occurrence, phase=phase)
        return Response(
            {
                "occurrence": occurrence,
                "winner": broadcast.winner_variant,
                "variants": [r.as_dict() for r in rows],
            }
        )
