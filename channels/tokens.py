"""Signed tokens in the links we send: unsubscribe / preferences, open pixel, click redirect.

Every email carries several of these, so they must be cheap to make: a token is a compact
payload and one HMAC-SHA256 over it (truncated to 128 bits), keyed by the SECRET_KEY through a
per-purpose salt, so a token for one purpose is useless for another and a click token only ever
redirects to the URL signed into it (no open redirect). Verification accepts SECRET_KEY_FALLBACKS
(key rotation) and, for links already in inboxes, the earlier django.core.signing format.
Unsubscribe tokens do not expire: RFC 8058 links must keep working.

    unsubscribe   <profile_id>.<channel>.<message_id or 0>.<mac>
    open          <message_id>.<mac>
    click         <message_id>.<base64url(url)>.<mac>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT_UNSUBSCRIBE = "voyage.channels.unsubscribe"
SALT_OPEN = "voyage.channels.open"
SALT_CLICK = "voyage.channels.click"
MAC_BYTES = 16

_keys: dict[tuple[str, str], bytes] = {}


@dataclass(frozen=True)
class UnsubscribeClaim:
    profile_id: int
    channel: str
    message_id: int | None


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def _key(salt: str, secret: str) -> bytes:
    key = _keys.get((salt, secret))
    if key is None:
        key = _keys[(salt, secret)] = hashlib.sha256(f"{salt}:signer:{secret}".encode()).digest()
    return key


def _mac(salt: str, payload: str, secret: str) -> str:
    digest = hmac.new(_key(salt, secret), payload.encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _sign(salt: str, payload: str) -> str:
    return f"{payload}.{_mac(salt, payload, settings.SECRET_KEY)}"


def _unsign(salt: str, token: str) -> list[str]:
    """The payload's fields, or signing.BadSignature."""
    payload, _, mac = token.rpartition(".")
    if payload:
        for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])):
            if hmac.compare_digest(mac, _mac(salt, payload, secret)):
                return payload.split(".")
    raise signing.BadSignature("token signature does not match")


def _legacy(token: str) -> bool:
    # django.core.signing tokens ("<payload>:<signature>") from links sent before the compact format.
    return ":" in token


def unsubscribe_token(*, profile_id: int, channel: str, message_id: int | None) -> str:
    return _sign(SALT_UNSUBSCRIBE, f"{int(profile_id)}.{channel}.{int(message_id or 0)}")


def unsubscribe_token_read(token: str) -> UnsubscribeClaim:
    """Raises signing.BadSignature for anything we did not sign."""
    if _legacy(token):
        profile_id, channel, message_id = signing.loads(token, salt=SALT_UNSUBSCRIBE)
    else:
        profile_id, channel, message_id = _unsign(SALT_UNSUBSCRIBE, token)
    return UnsubscribeClaim(int(profile_id), str(channel), int(message_id or 0) or None)


def unsubscribe_url(*, profile_id: int, channel: str, message_id: int | None) -> str:
    return f"{_base()}/u/{unsubscribe_token(profile_id=profile_id, channel=channel, message_id=message_id)}/"


def preferences_url(*, profile_id: int, channel: str, message_id: int | None) -> str:
    token = unsubscribe_token(profile_id=profile_id, channel=channel, message_id=message_id)
    return f"{_base()}/preferences/{token}/"


def open_url(*, message_id: int) -> str:
    return f"{_base()}/o/{_sign(SALT_OPEN, str(int(message_id)))}.gif"


def open_token_read(token: str) -> int:
    if _legacy(token):
        return int(signing.loads(token, salt=SALT_OPEN))
    (message_id,) = _unsign(SALT_OPEN, token)
    return int(message_id)


def click_url(*, message_id: int, url: str) -> str:
    encoded = base64.urlsafe_b64encode(url.encode()).rstrip(b"=").decode()
    return f"{_base()}/c/{_sign(SALT_CLICK, f'{int(message_id)}.{encoded}')}/"


def click_token_read(token: str) -> tuple[int, str]:
    if _legacy(token):
        message_id, url = signing.loads(token, salt=SALT_CLICK)
        return int(message_id), str(url)
    message_id, encoded = _unsign(SALT_CLICK, token)
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    return int(message_id), url


def is_own_url(url: str) -> bool:
    return url.startswith(_base() + "/")
