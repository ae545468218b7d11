"""Rebuild campaign report rollups from raw rows (all campaigns, or one)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from journeys.reports.fold import REBUILD_PHASES, rollups_rebuild


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
        parser.add_argument(
            "--no-progress",
            action="store_true",
            help="Do not show the progress bar (off anyway without a terminal).",
        )

    def handle(self, *args, **options):
        campaigns = [campaign_parse(v) for v in options["campaign"]] or [None]
        for campaign in campaigns:
            what = "every campaign" if campaign is None else f"{campaign[0]} {campaign[1]}"
            started = time.perf_counter()
            # One step per source table (the rebuild is a few big set-based statements, so the bar
            # says which one runs and for how long, not a row count). disable=None: off without a TTY.
            with tqdm(
                total=len(REBUILD_PHASES),
                desc=f"Rebuilding {what}",
                unit="phase",
                disable=True if options["no_progress"] else None,
                postfix={"now": REBUILD_PHASES[0]},
            ) as bar:

                def progress(phase: str, done: int, total: int) -> None:
                    bar.update(1)
                    if done < total:
                        bar.set_postfix(now=REBUILD_PHASES[done])

                rows = rollups_rebuild(campaign=campaign, progress=progress)
            self.stdout.write(f"Rebuilt {what}: {rows} rollup rows in {time.perf_counter() - started:.2f} s")
