"""python manage.py secrets_reencrypt [--batch-size 500] [--no-progress]

Re-encrypts every encrypted column of every model (core.fields: partner signing secrets, channel
credentials, whatever is added later) under the newest key of VOYAGE_SECRET_KEYS, after one was put
in front; afterwards the older keys can be removed. Values written before encryption get encrypted.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.fields import encrypted_columns, encrypted_rows_count, encrypted_table_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first key of VOYAGE_SECRET_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction (default 500)")
        parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        from tqdm import tqdm

        tables = encrypted_columns()
        total = sum(encrypted_rows_count(model=model) for model in tables)
        with tqdm(total=total, unit="row", disable=options["no_progress"], file=self.stderr) as bar:
            for model, columns in tables.items():
                done = encrypted_table_reencrypt(
                    model=model, columns=columns, batch_size=options["batch_size"], progress=bar.update
                )
                self.stdout.write(f"{model._meta.label}: {done} row(s) re-encrypted ({', '.join(columns)})")
        self.stdout.write(f"{total} row(s) in {len(tables)} table(s) now under the newest key.")
