"""Partner signing secrets are encrypted at rest, readable in Python, and survive a key rotation."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from channels.partner.models import Endpoint
from channels.partner.services import endpoint_create, endpoint_secret_rotate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_endpoints(settings):
    settings.PARTNER_WEBHOOKS_ALLOW_PRIVATE = True


def _raw(endpoint: Endpoint) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM partner_endpoint WHERE id = %s", [endpoint.pk])
        return cursor.fetchone()


def test_the_database_holds_a_token_not_the_secret():
    endpoint, secret = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    stored, previous = _raw(endpoint)
    assert secret.startswith("whsec_")
    assert stored.startswith("fernet:") and secret not in stored and secret[6:] not in stored
    assert previous == ""
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret


def test_rotation_keeps_both_secrets_encrypted_and_readable():
    endpoint, old = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    new = endpoint_secret_rotate(endpoint=endpoint)
    stored, previous = _raw(endpoint)
    assert old not in previous and new not in stored and previous.startswith("fernet:")
    fresh = Endpoint.objects.get(pk=endpoint.pk)
    assert (fresh.secret, fresh.previous_secret) == (new, old)


def test_a_new_key_in_front_reads_old_tokens_and_reencrypt_moves_them(settings):
    first = Fernet.generate_key().decode()
    settings.VOYAGE_SECRET_KEYS = [first]
    endpoint, secret = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    before, _ = _raw(endpoint)
    second = Fernet.generate_key().decode()
    settings.VOYAGE_SECRET_KEYS = [second, first]
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret  # the old key still decrypts
    out = io.StringIO()
    call_command("partner_secrets_reencrypt", stdout=out)
    assert "1 endpoint(s) re-encrypted" in out.getvalue()
    after, _ = _raw(endpoint)
    assert after != before
    settings.VOYAGE_SECRET_KEYS = [second]  # the old key can go now
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret


def test_a_secret_written_before_encryption_is_still_read():
    endpoint, secret = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE partner_endpoint SET secret = %s WHERE id = %s", [secret, endpoint.pk])
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret


def test_moving_from_the_derived_key_to_configured_keys(settings):
    settings.VOYAGE_SECRET_KEYS = []
    endpoint, secret = endpoint_create(url="http://127.0.0.1:9/hook", event_types=["*"])
    settings.VOYAGE_SECRET_KEYS = [Fernet.generate_key().decode()]
    call_command("partner_secrets_reencrypt", stdout=io.StringIO())
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40  # the derived key changes with it
    assert Endpoint.objects.get(pk=endpoint.pk).secret == secret
