"""`python manage.py create_source NAME [--write-key KEY] [--rate-limit N]`: prints the write key."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking.services.sources import source_create


class Command(BaseCommand):
    help = "Create an event source and print its write key (give that key to the Segment/RudderStack SDK)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A unique name, e.g. storefront or ios-app.")
        parser.add_argument(
            "--write-key", help="Use this key instead of a generated one (8-100 URL-safe chars)."
        )
        parser.add_argument(
            "--rate-limit", type=int, metavar="N", help="At most N messages per second from this source."
        )

    def handle(
        self, *args: Any, name: str, write_key: str | None, rate_limit: int | None, **options: Any
    ) -> None:
        try:
            source = source_create(name=name, write_key=write_key, rate_limit_per_second=rate_limit)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems)
        if options["verbosity"] > 1:
            self.stderr.write(f"Created source {source.name!r} (id {source.pk}). Its write key:")
        self.stdout.write(source.write_key)
