"""`python manage.py create_api_token USERNAME [--create --role ROLE]`: prints a management-API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from tracking.roles import ROLES


class Command(BaseCommand):
    help = (
        "Print the API token of a user (created on first use). Send it as `Authorization: Bearer <token>`. "
        "What the token may do is what the user's role (group) may do."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="Create the user if it does not exist.")
        parser.add_argument(
            "--role",
            choices=sorted(ROLES),
            help="Put the user in this role (group); with --create it is required.",
        )
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token with a new one.")

    @transaction.atomic
    def handle(
        self, *args: Any, username: str, create: bool, role: str | None, rotate: bool, **options: Any
    ) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"no user {username!r}; add --create --role ROLE to create one")
            if role is None:
                raise CommandError("--create needs --role (one of: " + ", ".join(sorted(ROLES)) + ")")
            user = User.objects.create_user(username=username)  # no password: an API-only user
        if role is not None:
            group = Group.objects.filter(name=role).first()
            if group is None:
                raise CommandError(f"role {role!r} does not exist yet; run `python manage.py migrate` first")
            user.groups.add(group)
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
