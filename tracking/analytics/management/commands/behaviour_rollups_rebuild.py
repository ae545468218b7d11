"""Fold the search, slot and affinity rollups from the first event on (after an import or a restore)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from tracking.analytics.behaviour.rollups import KINDS, rollup_rebuild


class Command(BaseCommand):
    help = "Rebuild the behaviour rollups (search keywords, slots, affinity) day by day."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--kind", choices=sorted(KINDS), action="append", help="Only this rollup (repeatable)."
        )
        parser.add_argument(
            "--chunk-days", type=int, default=7, help="Days folded per transaction (default 7)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        bars: dict[str, tqdm] = {}

        def progress(kind: str, done: int, total: int) -> None:
            bar = bars.get(kind)
            if bar is None:
                bar = bars[kind] = tqdm(
                    total=total,
                    desc=kind,
                    unit=" days",
                    disable=options["no_progress"],
                    file=self.stderr._out,
                )
            bar.update(done - bar.n)

        try:
            done = rollup_rebuild(
                kinds=options["kind"], chunk_days=max(1, options["chunk_days"]), progress=progress
            )
        finally:
            for bar in bars.values():
                bar.close()
        for kind, days in done.items():
            self.stdout.write(f"{kind}: {days} days folded")
