"""Helpers shared by the tracking management-API tests: role users with tokens, ingesting for real."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tracking.ingest import ingest_messages
from tracking.models import Source
from tracking.processing import events_process_pending


def role_user(role: str, username: str | None = None, *, staff: bool = False) -> User:
    """A user in one of the roles (groups) that migrate keeps in sync."""
    user = User.objects.create_user(
        username or role.replace(" ", "_"), password="pw-role-123", is_staff=staff
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def token_client(user: User) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


def ingest(source: Source, *messages: dict[str, Any]) -> None:
    """Send messages through the same path as the HTTP API, then resolve them to profiles."""
    result = ingest_messages(list(messages), source=source)
    assert not result.rejected, result.rejected
    events_process_pending()
