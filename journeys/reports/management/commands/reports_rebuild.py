"""Rebuild campaign report rollups from raw rows (all campaigns, or one)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from journeys.reports.fold import rollups_rebuild


def campaign_parse(value: str) -> tuple[str, int]:
    kind, _, cid = value.partition(":")
    if kind not in ("journey", "broadcast") or not cid.isdigit():
        raise CommandError(f"--campaign: expected journey:ID or broadcast:ID, got {value!r}")
    return kind, int(cid)


class Command(BaseCommand):
    help = "Recompute campaign report rollups from messages, results, runs and conversions."

    def add_arguments(self, parser):
        parser.add_argument(
            "--campaign", action="append", default=[], help="journey:ID or broadcast:ID (repeatable)"
        )

    def handle(self, *args, **options):
        campaigns = [campaign_parse(v) for v in options["campaign"]] or [None]
        for campaign in campaigns:
            started = time.perf_counter()
            rows = rollups_rebuild(campaign=campaign)
            what = "every campaign" if campaign is None else f"{campaign[0]} {campaign[1]}"
            self.stdout.write(f"Rebuilt {what}: {rows} rollup rows in {time.perf_counter() - started:.2f} s")
