"""Profiles: look-up by identity, read (following merges), events, consent, GDPR export and erasure.

An id that was merged into another profile keeps working everywhere here: the answer is about the
survivor (200, never a redirect, so clients need no redirect handling), its body says which id was
asked for in `requested_id`, and `Content-Location` names the survivor's own URL.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from tracking import selectors
from tracking.api import examples
from tracking.api.pagination import EventCursorPagination
from tracking.api.permissions import ModelPermissions, PersonalData
from tracking.api.serializers import (
    ConsentInputSerializer,
    ConsentSerializer,
    EventFilterSerializer,
    EventSerializer,
    ProfileLookupSerializer,
    ProfileSerializer,
    ProfileSummarySerializer,
)
from tracking.models import Profile
from tracking.services.profiles import consent_set, profile_erase

NOT_FOUND = OpenApiResponse(description="No profile with this id, now or merged into another.")


@extend_schema_view(
    list=extend_schema(
        summary="Look profiles up by identity",
        description=(
            "Profiles holding every identity given (all conditions must match). Emails are matched "
            "after normalisation, phones in E.164. Without parameters: every profile, newest first."
        ),
        parameters=[ProfileLookupSerializer],
        examples=[examples.profile_list_example, examples.validation_error_example],
        responses={
            200: ProfileSummarySerializer(many=True),
            400: OpenApiResponse(description="Bad parameter"),
        },
    ),
    retrieve=extend_schema(
        summary="Read a profile",
        description=(
            "Identities, traits (with when each changed), tags, locality, contact points and consent. "
            "An id merged into another profile answers with the survivor (`requested_id` tells)."
        ),
        examples=[examples.profile_example],
        responses={200: ProfileSerializer, 404: NOT_FOUND},
    ),
    destroy=extend_schema(
        summary="Erase a profile (GDPR)",
        description=(
            "Deletes the profile and everything about it: events, identities, contact points, consent, "
            "merge records and, through the floors above, messages and journey runs. Irreversible."
        ),
        responses={204: OpenApiResponse(description="Erased."), 404: NOT_FOUND},
    ),
)
class ProfileViewSet(viewsets.GenericViewSet):
    queryset = Profile.objects.all()
    serializer_class = ProfileSerializer
    permission_classes = [ModelPermissions, PersonalData]
    filter_backends: list = []
    action_permissions = {
        "events": ["tracking.view_profile", "tracking.view_event"],
        "export": ["tracking.view_profile", "tracking.view_event"],
        "consent": ["tracking.view_profile", "tracking.change_consent", "tracking.add_consent"],
    }

    def get_serializer_class(self) -> Any:
        if self.action == "list":
            return ProfileSummarySerializer
        return super().get_serializer_class()

    def list(self, request: Request) -> Response:
        params = ProfileLookupSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.profiles_lookup(**params.validated_data))
        return self.get_paginated_response(ProfileSummarySerializer(page, many=True).data)

    def _resolved(self) -> selectors.ResolvedProfile:
        raw = self.kwargs["pk"]
        found = selectors.profile_get(profile_id=int(raw)) if str(raw).isdigit() else None
        if found is None:
            raise NotFound(f"no profile {raw}")
        return found

    def retrieve(self, request: Request, pk: str) -> Response:
        found = self._resolved()
        profile = selectors.profile_detail_queryset().get(pk=found.profile.pk)
        serializer = ProfileSerializer(
            profile,
            context={
                "request": request,
                "requested_id": found.requested_id,
                "merged_profile_ids": selectors.profile_merged_ids(profile_id=profile.pk),
            },
        )
        response = Response(serializer.data)
        if found.requested_id is not None:
            response["Content-Location"] = f"/api/profiles/{profile.pk}/"
        return response

    def destroy(self, request: Request, pk: str) -> Response:
        profile_erase(profile=self._resolved().profile)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A profile's events",
        description="Newest first, paged by cursor (follow `next`). Filters combine.",
        parameters=[EventFilterSerializer],
        examples=[examples.events_page_example],
        responses={
            200: EventSerializer(many=True),
            400: OpenApiResponse(description="Bad filter"),
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], pagination_class=EventCursorPagination, filter_backends=[])
    def events(self, request: Request, pk: str) -> Response:
        profile = self._resolved().profile
        filters = EventFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        events = selectors.profile_events(profile_id=profile.pk, **filters.validated_data)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)

    @extend_schema(
        summary="Export a profile (GDPR access)",
        description=(
            "Everything stored about the person as one JSON document, sent as a download "
            "(`Content-Disposition: attachment`): profile, identities, contact points, consent and its "
            "history, identity conflicts, every event, and what the floors above keep (messages, runs)."
        ),
        examples=[examples.export_example],
        responses={200: OpenApiTypes.OBJECT, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        profile = self._resolved().profile
        body = json.dumps(
            selectors.profile_export(profile=profile), cls=DjangoJSONEncoder, ensure_ascii=False
        )
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="profile-{profile.pk}.json"'
        return response

    @extend_schema(
        summary="Grant or withdraw consent",
        description=(
            "Records the decision for one channel and topic (default topic `marketing`) with how it was "
            "given, and appends it to the consent history. POST and PUT do the same."
        ),
        request=ConsentInputSerializer,
        examples=[examples.consent_request_example, examples.consent_response_example],
        responses={
            200: ConsentSerializer,
            400: OpenApiResponse(description="Errors by field"),
            404: NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post", "put"])
    def consent(self, request: Request, pk: str) -> Response:
        profile = self._resolved().profile
        data = ConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        consent = consent_set(profile=profile, **data.validated_data)
        return Response(ConsentSerializer(consent).data)
