"""Signed tokens in the links we send: unsubscribe / preferences, open pixel, click redirect.

Signed with the SECRET_KEY (django.core.signing), each kind with its own salt, so a token for one
purpose is useless for another and a click token only ever redirects to the URL signed into it
(no open redirect). Unsubscribe tokens do not expire: RFC 8058 links must keep working.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT_UNSUBSCRIBE = "voyage.channels.unsubscribe"
SALT_OPEN = "voyage.channels.open"
SALT_CLICK = "voyage.channels.click"


@dataclass(frozen=True)
class UnsubscribeClaim:
    profile_id: int
    channel: str
    message_id: int | None


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def unsubscribe_token(*, profile_id: int, channel: str, message_id: int | None) -> str:
    return signing.dumps([profile_id, channel, message_id], salt=SALT_UNSUBSCRIBE)


def unsubscribe_token_read(token: str) -> UnsubscribeClaim:
    """Raises signing.BadSignature for anything we did not sign."""
    profile_id, channel, message_id = signing.loads(token, salt=SALT_UNSUBSCRIBE)
    return UnsubscribeClaim(int(profile_id), str(channel), int(message_id) if message_id else None)


def unsubscribe_url(*, profile_id: int, channel: str, message_id: int | None) -> str:
    return f"{_base()}/u/{unsubscribe_token(profile_id=profile_id, channel=channel, message_id=message_id)}/"


def preferences_url(*, profile_id: int, channel: str, message_id: int | None) -> str:
    token = unsubscribe_token(profile_id=profile_id, channel=channel, message_id=message_id)
    return f"{_base()}/preferences/{token}/"


def open_url(*, message_id: int) -> str:
    return f"{_base()}/o/{signing.dumps(message_id, salt=SALT_OPEN)}.gif"


def open_token_read(token: str) -> int:
    return int(signing.loads(token, salt=SALT_OPEN))


def click_url(*, message_id: int, url: str) -> str:
    # Long URLs are worth compressing; short ones are not (zlib costs more than it saves).
    return f"{_base()}/c/{signing.dumps([message_id, url], salt=SALT_CLICK, compress=len(url) > 120)}/"


def click_token_read(token: str) -> tuple[int, str]:
    message_id, url = signing.loads(token, salt=SALT_CLICK)
    return int(message_id), str(url)


def is_own_url(url: str) -> bool:
    return url.startswith(_base() + "/")
