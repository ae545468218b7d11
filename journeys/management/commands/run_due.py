"""Process all journey work due as of a moment: scheduled entries, broadcasts and due runs."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from journeys.services.clock import due_work_run


class Command(BaseCommand):
    help = (
        "Process every journey and broadcast step due as of --now (default: the current time). "
        "Operators use it to catch up after downtime; tests and simulations walk journeys through days."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO 8601 moment, e.g. 2030-03-31T10:00:00+02:00")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, **options):
        now = timezone.now()
        if options["now"]:
            try:
                now = datetime.fromisoformat(options["now"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError(f"--now: not an ISO 8601 date-time: {options['now']!r}")
            if timezone.is_naive(now):
                raise CommandError("--now: give a UTC offset (e.g. 2030-01-01T10:00:00Z)")
        summary = due_work_run(now=now, batch_size=options["batch_size"])
        self.stdout.write(
            f"as of {now.isoformat()}: {summary['scheduled_entries']} scheduled entries, "
            f"{summary['broadcast_messages']} broadcast messages, {summary['runs']} runs advanced "
            f"through {summary['transitions']} transitions ({summary['completed']} completed, "
            f"{summary['exited']} exited)"
        )
