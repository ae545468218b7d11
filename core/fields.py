"""Fields whose values are encrypted at rest: plain in Python, a Fernet token in the database.

Provider credentials (SendGrid, Twilio, FCM, VAPID) and partner signing secrets must be recoverable
(we sign and authenticate with them), so they are encrypted, not hashed: a database dump, a replica
or a backup does not hand them out. Fernet is AES-128-CBC + HMAC-SHA256 (`cryptography`).

Keys: settings.VOYAGE_SECRET_KEYS, Fernet keys newest first. New values are encrypted with the first;
every one of them decrypts, so a key rotates by putting a new one in front and running
`manage.py secrets_reencrypt` (every encrypted column of every model), after which the old key can
go. A key derived from SECRET_KEY always decrypts (last) and encrypts only when no key is
configured, so moving to VOYAGE_SECRET_KEYS is: set it, run secrets_reencrypt.

Stored form: "fernet:<token>" of the value's text (the JSON field: its JSON text). A value without the
prefix was written before encryption and is read as it is; the data migrations and
secrets_reencrypt encrypt such rows. Values cannot be filtered on (each encryption differs).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"
# The derivation label predates this module (partner secrets were encrypted first); changing it
# would make every value written under the derived key unreadable.
_DERIVED_KEY_LABEL = b"voyage partner secrets\x00"


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    derived = hashlib.sha256(_DERIVED_KEY_LABEL + secret_key.encode()).digest()
    try:
        return MultiFernet([Fernet(k) for k in (*keys, base64.urlsafe_b64encode(derived).decode())])
    except ValueError as exc:
        raise ImproperlyConfigured(f"VOYAGE_SECRET_KEYS: each key must be a Fernet key ({exc})") from None


def secret_cipher() -> MultiFernet:
    return _cipher(tuple(getattr(settings, "VOYAGE_SECRET_KEYS", ())), settings.SECRET_KEY)


def text_encrypt(plain: str) -> str:
    return PREFIX + secret_cipher().encrypt(plain.encode()).decode()


def text_decrypt(stored: str) -> str:
    """The plain text of a stored value; a value without the prefix predates encryption."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return secret_cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An encrypted value cannot be decrypted with VOYAGE_SECRET_KEYS / SECRET_KEY: "
            "was a key removed (or SECRET_KEY changed) before `manage.py secrets_reencrypt` ran?"
        ) from None


def stored_reencrypt(stored: str | None) -> str | None:
    """A stored value under the newest key (MultiFernet.rotate); one written before encryption gets
    encrypted. Works on stored text, so it serves both fields and their migrations."""
    if stored is None or stored == "":
        return stored
    if not stored.startswith(PREFIX):
        return text_encrypt(stored)
    return PREFIX + secret_cipher().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedField:
    """Marks a field as encrypted: `manage.py secrets_reencrypt` finds every column carrying it."""


class EncryptedTextField(EncryptedField, models.TextField):
    """Text, encrypted at rest. The empty string is stored as it is (nothing to hide)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return value if value is None else text_decrypt(value)

    def to_python(self, value: Any) -> Any:
        # loaddata hands back what value_to_string wrote: the token.
        return text_decrypt(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return value if value is None or value == "" else text_encrypt(value)

    def value_to_string(self, obj: models.Model) -> str:
        # dumpdata writes the token, never the secret.
        return self.get_prep_value(self.value_from_object(obj)) or ""


class EncryptedJSONField(EncryptedField, models.TextField):
    """A JSON value (usually a dict of credentials), encrypted at rest as its JSON text."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return value if value is None else json.loads(text_decrypt(value))

    def to_python(self, value: Any) -> Any:
        return json.loads(text_decrypt(value)) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> Any:
        return None if value is None else text_encrypt(json.dumps(value))

    def value_to_string(self, obj: models.Model) -> str:
        return self.get_prep_value(self.value_from_object(obj)) or ""

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


# --- re-encryption (manage.py secrets_reencrypt) ---------------------------------------------------


def encrypted_columns() -> dict[type[models.Model], list[str]]:
    """Every concrete model with encrypted fields → their column names."""
    from django.apps import apps

    found: dict[type[models.Model], list[str]] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if columns:
            found[model] = columns
    return found


def encrypted_rows_count(*, model: type[models.Model]) -> int:
    return model._base_manager.count()


def encrypted_table_reencrypt(
    *, model: type[models.Model], columns: list[str], batch_size: int = 500, progress: Any = None
) -> int:
    """Rewrite `columns` of every row under the newest key, one locked batch per transaction.
    Raw SQL: the fields would hand back plain values, and rotation needs the stored tokens."""
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    names = ", ".join(quote(c) for c in columns)
    sets = ", ".join(f"{quote(c)} = %s" for c in columns)
    last, done = None, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            after = "" if last is None else f"WHERE {pk} > %s"
            cursor.execute(
                f"SELECT {pk}, {names} FROM {table} {after} ORDER BY {pk} LIMIT %s FOR UPDATE",
                [*([] if last is None else [last]), batch_size],
            )
            rows = cursor.fetchall()
            for key, *values in rows:
                cursor.execute(
                    f"UPDATE {table} SET {sets} WHERE {pk} = %s", [*map(stored_reencrypt, values), key]
                )
        if not rows:
            return done
        last, done = rows[-1][0], done + len(rows)
        if progress is not None:
            progress(len(rows))
