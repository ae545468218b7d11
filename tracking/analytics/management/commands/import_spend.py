"""python manage.py import_spend FILE --platform google|meta|tiktok|other [--mapping JSON] [--currency EUR]."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tracking.analytics.acquisition.spend import SpendImportError, spend_import, spend_rows_read
from tracking.analytics.models import SpendPlatform


class Command(BaseCommand):
    help = "Import daily ad spend from a Google Ads, Meta Ads Manager or TikTok Ads Manager CSV export, or any CSV with a mapping."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--platform", required=True, choices=SpendPlatform.values)
        parser.add_argument(
            "--mapping",
            help='our field -> your column, e.g. \'{"day": "Date", "campaign": "Campaign", "cost": "Spend", "source": "Network"}\'',
        )
        parser.add_argument("--currency", default="", help="currency of rows that name none")
        parser.add_argument("--encoding", default="utf-8-sig")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"{path}: no such file")
        mapping = None
        if options["mapping"]:
            try:
                mapping = json.loads(options["mapping"])
            except json.JSONDecodeError as exc:
                raise CommandError(f"--mapping: not JSON ({exc})")
        try:
            text = path.read_text(encoding=options["encoding"])
            rows = spend_rows_read(
                text=text, platform=options["platform"], mapping=mapping, default_currency=options["currency"]
            )
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path.name}: not {options['encoding']} text ({exc})")
        except SpendImportError as exc:
            raise CommandError(f"{path.name}: " + "\n".join(exc.errors))
        result = spend_import(rows=rows, platform=options["platform"], file_name=path.name)
        self.stdout.write(
            f"Imported {result.rows} rows for {len(result.days)} days ({result.replaced} earlier rows replaced)."
        )
