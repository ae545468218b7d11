"""Signing secrets encrypted at rest.

Standard Webhooks signatures are HMACs, so the raw secret must be recoverable: it is stored as a
Fernet token (AES-128-CBC + HMAC-SHA256, `cryptography`), never in plain text, so a database dump or a
replica does not hand out the keys that partners trust. The keys come from settings.VOYAGE_SECRET_KEYS
(Fernet keys, newest first: new values are encrypted with the first, every one of them decrypts, so
keys rotate by prepending one and running `manage.py partner_secrets_reencrypt`); a key derived from
SECRET_KEY encrypts when none is set and always decrypts.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    # The key derived from SECRET_KEY always decrypts (last), so moving to VOYAGE_SECRET_KEYS is: set
    # it, run partner_secrets_reencrypt. It only encrypts when no key is configured.
    derived = hashlib.sha256(b"voyage partner secrets\x00" + secret_key.encode()).digest()
    keys = (*keys, base64.urlsafe_b64encode(derived).decode())
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"VOYAGE_SECRET_KEYS: each key must be a Fernet key ({exc})") from None


def secret_cipher() -> MultiFernet:
    return _fernet(tuple(getattr(settings, "VOYAGE_SECRET_KEYS", ())), settings.SECRET_KEY)


def secret_encrypt(plain: str) -> str:
    return PREFIX + secret_cipher().encrypt(plain.encode()).decode() if plain else ""


def secret_decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before encryption: the data migration encrypts these
    try:
        return secret_cipher().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A partner signing secret cannot be decrypted with VOYAGE_SECRET_KEYS / SECRET_KEY: "
            "was a key removed before `manage.py partner_secrets_reencrypt` ran?"
        ) from None


def secret_reencrypt(stored: str) -> str:
    """The same secret under the newest key (MultiFernet.rotate); plain text gets encrypted."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        return secret_encrypt(stored)
    return PREFIX + secret_cipher().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedSecretField(models.CharField):
    """A CharField whose value is plain text in Python and a Fernet token in the database."""

    def from_db_value(self, value, expression, connection):  # noqa: ANN001 - Django's signature
        return value if value is None else secret_decrypt(value)

    def get_prep_value(self, value):  # noqa: ANN001
        value = super().get_prep_value(value)
        if value is None or value == "" or value.startswith(PREFIX):
            return value
        return secret_encrypt(value)
