"""One HTTP POST to a partner, with timeouts, no redirects and a check of the address actually reached."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from channels.partner import conf
from channels.partner.destination import DestinationRefused, address_refusal

SNIPPET_CHARS = 500
_READ_BYTES = 2048


class _PeerCheck:
    """Refuse the connection if the socket's peer is not public: closes the DNS-rebinding gap."""

    def _new_conn(self):  # type: ignore[no-untyped-def]
        sock = super()._new_conn()  # type: ignore[misc]
        if not conf.allow_private():
            reason = address_refusal(sock.getpeername()[0].split("%", 1)[0])
            if reason:
                sock.close()
                raise DestinationRefused(
                    f"connected to {reason}; partner webhooks only go to public addresses"
                )
        return sock


class _GuardedHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: we must see the real destination
        session.mount("http://", _GuardedAdapter())
        session.mount("https://", _GuardedAdapter())
        _local.session = session
    return session


@dataclass(frozen=True)
class Response:
    status_code: int | None  # None: no HTTP answer (timeout, connection error, refused)
    duration_ms: int
    snippet: str = ""
    error: str = ""
    retry_after: float | None = None  # seconds, from a Retry-After header
    refused: bool = False  # the SSRF guard stopped it


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - (now or datetime.now(UTC))).total_seconds())


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Response:
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with _session().post(
            url,
            data=body,
            headers=headers,
            timeout=(conf.connect_timeout(), conf.read_timeout()),
            allow_redirects=False,
            stream=True,
        ) as r:
            raw = r.raw.read(_READ_BYTES, decode_content=True) or b""
            return Response(
                status_code=r.status_code,
                duration_ms=elapsed(),
                snippet=raw.decode("utf-8", "replace")[:SNIPPET_CHARS],
                retry_after=retry_after_seconds(r.headers.get("Retry-After")),
            )
    except DestinationRefused as exc:
        return Response(status_code=None, duration_ms=elapsed(), error=str(exc), refused=True)
    except requests.Timeout:
        return Response(status_code=None, duration_ms=elapsed(), error="timed out")
    except Exception as exc:  # connection errors, and body reads that fail in ways requests does not wrap
        return Response(status_code=None, duration_ms=elapsed(), error=f"connection error: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    """The root cause in a few words, without the URL (partners put tokens in query strings)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        reason = getattr(cause, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cause.args and isinstance(cause.args[0], BaseException):
            nxt = cause.args[0]
        cause = nxt or cause.__cause__ or cause.__context__
    return type(exc).__name__
