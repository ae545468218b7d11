"""python manage.py load_demo [--shoppers 3000] [--seed 7] [--reset]: the demo store behind `make demo`."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking.demo.loader import DemoResult, demo_load, demo_reset


class Command(BaseCommand):
    help = "Load a synthetic cross-border store (shoppers, sessions, orders, an Amazon import) through the real pipeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--shoppers", type=int, default=3000, help="How many web shoppers (default 3000)."
        )
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed: the same seed gives the same store."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Remove the demo's data first, then load it again."
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["shoppers"] < 1:
            raise CommandError("--shoppers: must be at least 1")
        # In-process Celery logs every task it runs, and kombu warns about the in-memory broker having
        # no host name; the demo's output is the summary below.
        logging.getLogger("celery").setLevel(logging.WARNING)
        logging.getLogger("kombu").setLevel(logging.ERROR)
        started = time.monotonic()
        if options["reset"]:
            demo_reset(stdout=self.stdout)
        result = demo_load(
            shoppers=options["shoppers"],
            seed=options["seed"],
            stdout=self.stdout._out,
            progress=not options["no_progress"],
        )
        self._report(result, time.monotonic() - started)

    def _report(self, result: DemoResult, seconds: float) -> None:
        if result.loaded:
            amazon = result.amazon
            self.stdout.write(
                f"Loaded {result.shoppers} shoppers, {result.events} events and "
                f"{amazon.orders_created if amazon else 0} Amazon orders "
                f"({amazon.matched_existing_profiles if amazon else 0} matched to existing profiles by email); "
                f"{result.merges} profiles merged by ID-Mapping; {seconds:.1f} s."
            )
        if result.seconds:
            self.stdout.write("Time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
        self.stdout.write(self.style.SUCCESS(f"\nLog in at {settings.PUBLIC_BASE_URL}/admin/"))
        if result.password:
            for username in result.users:
                self.stdout.write(f"  {username:<10} password: {result.password}")
            self.stdout.write(f"  (the password is kept in {result.password_file}, outside git)")
        else:
            self.stdout.write(
                f"  users: {', '.join(result.users)} already existed; their passwords were not changed "
                "(python manage.py changepassword USER)"
            )
        self.stdout.write(f"API docs: {settings.PUBLIC_BASE_URL}/api/docs/")
