"""The suppression list, keyed by a keyed hash of the address so it survives a person's erasure.

A suppression must outlive the person: after a GDPR erasure we still may not mail an address that
bounced or complained, and an unsubscribe must hold if the person signs up again. So each row is
found by `address_key`, an HMAC-SHA256 of the normalised address under SUPPRESSION_HASH_KEY (a key
kept outside the database: a dump alone cannot test guessed addresses), and erasure blanks the plain
`address` and `detail` while keeping the key. Every read and write of the list goes through here.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels.models import Suppression
from tracking.identity_keys import normalize_email, normalize_phone

PHONE_CHANNELS = frozenset({"sms", "whatsapp"})


def suppression_address_normalize(*, channel: str, address: str) -> str:
    """The address as contact points store it: emails validated and lower-cased, phones in E.164;
    anything else (push tokens, unparseable input) trimmed only, so it still matches itself."""
    address = (address or "").strip()
    if channel == "email":
        return normalize_email(address) or address.lower()
    if channel in PHONE_CHANNELS:
        return normalize_phone(address) or address
    return address


def suppression_key(*, channel: str, address: str) -> str:
    normalized = suppression_address_normalize(channel=channel, address=address)
    return hmac.new(_hash_key(), f"{channel}\x00{normalized}".encode(), hashlib.sha256).hexdigest()


def _hash_key() -> bytes:
    # Pinned with SUPPRESSION_HASH_KEY in production: derived from SECRET_KEY otherwise, so rotating
    # SECRET_KEY without pinning it first would make every stored suppression unfindable.
    if settings.SUPPRESSION_HASH_KEY:
        return settings.SUPPRESSION_HASH_KEY.encode()
    return hashlib.sha256(b"voyage suppressions\x00" + settings.SECRET_KEY.encode()).digest()


@transaction.atomic
def suppression_add(
    *,
    channel: str,
    address: str,
    reason: str,
    at: datetime | None = None,
    detail: str = "",
    replace: bool = False,
) -> Suppression:
    """Suppress an address on a channel. An existing row keeps its reason unless `replace` (an explicit
    act such as an SMS STOP overrides a softer reason; a bounce never downgrades a spam report)."""
    fields = {
        "address": suppression_address_normalize(channel=channel, address=address),
        "reason": reason,
        "at": at or timezone.now(),
        "detail": (detail or "")[:255],
    }
    key = suppression_key(channel=channel, address=address)
    if replace:
        row, _ = Suppression.objects.update_or_create(channel=channel, address_key=key, defaults=fields)
    else:
        row, _ = Suppression.objects.get_or_create(channel=channel, address_key=key, defaults=fields)
    return row


def suppression_remove(*, channel: str, addresses: Iterable[str], reasons: Iterable[str]) -> int:
    keys = [suppression_key(channel=channel, address=a) for a in addresses]
    deleted, _ = Suppression.objects.filter(
        channel=channel, address_key__in=keys, reason__in=list(reasons)
    ).delete()
    return deleted


def suppressions_find(*, channel: str, addresses: Iterable[str]) -> dict[str, str]:
    """Address (as given) -> suppression reason, for the addresses that are suppressed."""
    by_key = {suppression_key(channel=channel, address=a): a for a in addresses}
    rows = Suppression.objects.filter(channel=channel, address_key__in=list(by_key)).values_list(
        "address_key", "reason"
    )
    return {by_key[key]: reason for key, reason in rows}


def suppressions_forget_addresses(*, addresses_by_channel: dict[str, Iterable[str]]) -> int:
    """Erasure: the rows stay (so the address stays suppressed) but no longer hold the address or the
    provider's free-text reason, which often quotes it."""
    keys = [
        (channel, suppression_key(channel=channel, address=a))
        for channel, addresses in addresses_by_channel.items()
        for a in addresses
    ]
    updated = 0
    for channel in {c for c, _ in keys}:
        updated += Suppression.objects.filter(
            channel=channel, address_key__in=[k for c, k in keys if c == channel]
        ).update(address="", detail="")
    return updated
