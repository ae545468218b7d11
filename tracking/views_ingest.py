"""Segment-compatible HTTP ingestion: /v1/identify, /v1/track, …, /v1/batch and the short forms.

Plain Django views (no DRF) because this is the hot path: read the body, authenticate the write key,
validate every message, store the valid ones, answer. Segment's answers and limits apply.
"""

from __future__ import annotations

import base64
import gzip
import math
import time
import zlib
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.ratelimit import rate_take
from core.text import NUL, NulCharacter, nul_refuse
from tracking.ingest import ingest_messages
from tracking.messages import MAX_DEPTH
from tracking.models import Source
from tracking.origins import HOW_TO_ALLOW, source_origin_allowed

_SOURCE_CACHE: dict[str, tuple[float, Source | None]] = {}
_SOURCE_TTL = 5.0


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def _error(status: int, message: str, **extra: Any) -> HttpResponse:
    return _json(status, {"success": False, "error": message, **extra})


def source_by_write_key(write_key: str) -> Source | None:
    """Sources are looked up on every request; a short in-process cache saves a query each time."""
    now = time.monotonic()
    hit = _SOURCE_CACHE.get(write_key)
    if hit and now - hit[0] < _SOURCE_TTL:
        return hit[1]
    source = Source.objects.filter(write_key=write_key, enabled=True).first()
    _SOURCE_CACHE[write_key] = (now, source)
    return source


def _write_key(request: HttpRequest, body: dict[str, Any]) -> str:
    """The write key from HTTP Basic or the body; NulCharacter if it holds a NUL (no key has one,
    and the database cannot even be asked about it)."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
        key = decoded.split(":", 1)[0]
        if NUL in key:
            raise NulCharacter("Authorization")
        return key
    key = body.get("writeKey")
    if not isinstance(key, str):
        return ""
    if NUL in key:
        raise NulCharacter("writeKey")
    return key


def _batch_part(body: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The batch-level context or integrations, which every message of the batch inherits."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must be an object")
    nul_refuse(value, path=field)
    try:
        orjson.dumps([[[value]]])  # as deep as it will sit in the stored rows
    except orjson.JSONEncodeError:
        raise ValueError(f"{field}: nested more than {MAX_DEPTH} levels deep")
    return value


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.TRACKING_MAX_BATCH_BYTES
    try:
        raw = request.body
    except RequestDataTooBig:  # over Django's DATA_UPLOAD_MAX_MEMORY_SIZE: the same answer as ours
        raise OverflowError
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        # Decompress with a cap, so a small gzip bomb cannot exhaust memory.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decompressor.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise ValueError(f"body: not valid gzip ({exc})")
        if decompressor.unconsumed_tail:
            raise OverflowError
    if len(raw) > limit:
        raise OverflowError
    return raw


@csrf_exempt
def ingest(request: HttpRequest, kind: str) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "use POST")
    try:
        raw = _read_body(request)
    except OverflowError:
        return _error(400, f"body: larger than {settings.TRACKING_MAX_BATCH_BYTES} bytes")
    except (ValueError, gzip.BadGzipFile) as exc:
        return _error(400, str(exc))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _error(400, f"body: invalid JSON ({exc})")
    if not isinstance(body, dict):
        return _error(400, "body: must be a JSON object")

    try:
        write_key = _write_key(request, body)
    except NulCharacter as exc:
        return _error(400, str(exc))
    if not write_key:
        return _error(401, "missing write key: send it as the HTTP Basic user name or as writeKey")
    source = source_by_write_key(write_key)
    if source is None:
        return _error(401, "unknown or disabled write key")
    # Browsers always send Origin on a cross-origin POST; servers and mobile SDKs send none. The
    # preflight let this origin through because some source allows it; this source must allow it too.
    origin = request.headers.get("Origin")
    if origin and not source_origin_allowed(source=source, origin=origin):
        return _error(403, f"origin {origin!r} is not allowed for source {source.name!r}: {HOW_TO_ALLOW}")

    if kind == "batch":
        messages = body.get("batch")
        if not isinstance(messages, list):
            return _error(400, "batch: must be a list of messages")
        if len(messages) > settings.TRACKING_MAX_BATCH_MESSAGES:
            return _error(
                400,
                f"batch: {len(messages)} messages is over the limit of {settings.TRACKING_MAX_BATCH_MESSAGES}",
            )
        try:
            context, integrations = _batch_part(body, "context"), _batch_part(body, "integrations")
        except ValueError as exc:  # NulCharacter too
            return _error(400, str(exc))
        forced_type = None
    else:
        messages, context, integrations, forced_type = [body], None, None, kind

    # Fail open: the limit protects us from floods, and losing its counter must not refuse good
    # traffic while the events themselves can still be stored.
    grant = rate_take(
        key=f"source:{source.pk}",
        wanted=len(messages),
        rate=source.rate_limit_per_second,
        partial=False,
        fail_open=True,
    )
    if grant.granted < len(messages):
        wait = grant.wait
        return _json(
            429,
            {"success": False, "error": f"rate limit of {source.rate_limit_per_second} messages/s exceeded"},
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )

    result = ingest_messages(
        messages,
        source=source,
        forced_type=forced_type,
        batch_context=context,
        batch_integrations=integrations,
        batch_sent_at=body.get("sentAt") if kind == "batch" else None,
    )
    rejected = [r.as_dict() for r in result.rejected]
    if result.accepted == 0 and rejected:
        if forced_type:
            return _error(400, rejected[0]["reason"])
        return _error(400, "no valid messages in batch", rejected=rejected)
    payload: dict[str, Any] = {"success": True}
    if rejected:
        payload["rejected"] = rejected
    return _json(200, payload)
