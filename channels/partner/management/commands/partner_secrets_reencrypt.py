"""Re-encrypt every partner signing secret under the newest VOYAGE_SECRET_KEYS key (after adding one
at the front); afterwards the older keys can be removed."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from channels.partner.models import Endpoint
from channels.partner.secret_field import secret_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt partner signing secrets with the first key of VOYAGE_SECRET_KEYS."

    def handle(self, *args, **options) -> None:
        table = Endpoint._meta.db_table
        done = 0
        with transaction.atomic(), connection.cursor() as cursor:
            # Raw values: the field would hand back plain text, and rotate() needs the tokens.
            cursor.execute(f"SELECT id, secret, previous_secret FROM {table} FOR UPDATE")
            for pk, secret, previous in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s",
                    [secret_reencrypt(secret), secret_reencrypt(previous), pk],
                )
                done += 1
        self.stdout.write(f"{done} endpoint(s) re-encrypted with the newest key.")
