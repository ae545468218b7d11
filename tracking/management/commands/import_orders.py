"""python manage.py import_orders FILE --format amazon|csv|jsonl [--source NAME] [--mapping JSON|FILE]."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tracking.imports import ImportFailed, ImportSummary, order_import_record, orders_import
from tracking.imports.service import FORMATS, source_get
from tracking.models import ImportFormat

DEFAULT_SOURCE = {ImportFormat.AMAZON: "amazon"}


class Command(BaseCommand):
    help = "Import orders (Amazon order report, CSV with a column mapping, or JSON lines) as Order Completed events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The file to import.")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--source",
            help='The source the orders are recorded under (default "amazon" for Amazon reports; required otherwise).',
        )
        parser.add_argument(
            "--mapping",
            help='CSV only: our field -> your column, as JSON or a JSON file, e.g. \'{"order_id": "Order Number"}\'.',
        )
        parser.add_argument(
            "--currency", default="", help="Currency for rows that name none (ISO 4217, e.g. EUR)."
        )
        parser.add_argument(
            "--encoding", default="utf-8-sig", help="The file's text encoding (default UTF-8)."
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        source_name = options["source"] or DEFAULT_SOURCE.get(options["format"])
        if not source_name:
            raise CommandError(
                "--source: required for the csv and jsonl formats (the source to record orders under)"
            )
        mapping = _mapping(options["mapping"]) if options["mapping"] else None
        # In-process Celery (no REDIS_URL) would log each processing task between the bar and the summary.
        logging.getLogger("celery").setLevel(logging.WARNING)
        logging.getLogger("kombu").setLevel(logging.ERROR)
        try:
            source = source_get(source=source_name)
            with tqdm(
                desc="Reading",
                unit=" rows",
                disable=options["no_progress"],
                file=self.stderr._out,
                leave=False,
            ) as bar:
                summary = orders_import(
                    path_or_file=options["file"],
                    format=options["format"],
                    source=source,
                    mapping=mapping,
                    progress=bar,
                    default_currency=options["currency"],
                    encoding=options["encoding"],
                )
        except ImportFailed as exc:
            raise CommandError(str(exc))
        order_import_record(
            source=source, format=options["format"], file_name=Path(options["file"]).name, summary=summary
        )
        self._report(summary)

    def _report(self, summary: ImportSummary) -> None:
        for issue in summary.issues:
            style = self.style.WARNING if issue.severity != "error" else self.style.ERROR
            self.stderr.write(style(str(issue)))
        s = summary
        self.stdout.write(
            f"Rows read: {s.rows_read}\n"
            f"Orders created: {s.orders_created}\n"
            f"Already imported: {s.already_imported}\n"
            f"Matched to existing profiles: {s.matched_existing_profiles}\n"
            f"New profiles: {s.new_profiles}\n"
            f"Skipped: {s.skipped_rows} rows ({s.skipped_orders} orders)\n"
            f"Warnings: {s.warnings}"
        )
        if s.awaiting_processing:
            self.stdout.write(
                self.style.WARNING(
                    f"{s.awaiting_processing} orders are still waiting for identity resolution."
                )
            )


def _mapping(value: str) -> dict[str, Any]:
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = Path(value).read_text()
        except OSError as exc:
            raise CommandError(f"--mapping: cannot read {value}: {exc.strerror}")
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--mapping: not valid JSON ({exc})")
    if not isinstance(mapping, dict):
        raise CommandError('--mapping: must be a JSON object such as {"order_id": "Order Number"}')
    return mapping
