"""The public on-site endpoints the snippet calls (CORS as on /v1: tracking/origins.py), and the snippet.

Bodies are sent as text/plain JSON so that a browser needs no preflight: one round trip per page view.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.ratelimit import rate_take
from journeys.onsite.services import PageContext, form_submit, interaction_record, messages_decide
from tracking.models import Source
from tracking.origins import HOW_TO_ALLOW, source_origin_allowed
from tracking.views_ingest import source_by_write_key

MAX_BODY = 16 * 1024
SNIPPET = Path(__file__).resolve().parent / "static" / "onsite" / "onsite.js"
PREVIEW_SALT = "voyage-onsite-preview"


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    response = HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, message: str | dict[str, Any]) -> HttpResponse:
    return _json(status, {"success": False, "error": message})


def _str(body: dict[str, Any], key: str, limit: int = 255) -> str:
    value = body.get(key)
    return value[:limit] if isinstance(value, str) else ""


def client_address(request: HttpRequest) -> str:
    """The visitor's address: the connection's, or the last entry of the trusted proxy's header."""
    header = settings.ONSITE_CLIENT_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _limited(request: HttpRequest, *, source: Source, submit: bool) -> HttpResponse | None:
    """429 with Retry-After past the per-address budget. Fails open: the limit protects us from
    floods, and losing its counter must not hide the shop's messages."""
    if submit:
        rate, burst, bucket = settings.ONSITE_SUBMIT_RATE_PER_IP, settings.ONSITE_SUBMIT_BURST, "submit"
    else:
        rate, burst, bucket = settings.ONSITE_RATE_PER_IP, settings.ONSITE_RATE_BURST, "page"
    grant = rate_take(
        key=f"onsite:{bucket}:{source.pk}:{client_address(request)}",
        wanted=1,
        rate=rate,
        burst=burst,
        partial=False,
        fail_open=True,
    )
    if grant.granted:
        return None
    response = _error(429, f"too many requests from this address; retry in {math.ceil(grant.wait)} s")
    response["Retry-After"] = str(max(1, math.ceil(grant.wait)))
    return response


def _parse(
    request: HttpRequest, *, submit: bool = False
) -> tuple[Source, dict[str, Any], PageContext] | HttpResponse:
    if len(request.body) > MAX_BODY:
        return _error(400, f"body: larger than {MAX_BODY} bytes")
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        return _error(400, f"body: invalid JSON ({exc})")
    if not isinstance(body, dict):
        return _error(400, "body: must be a JSON object")
    source = source_by_write_key(_str(body, "writeKey", 100))
    if source is None:
        return _error(401, "unknown or disabled write key")
    origin = request.headers.get("Origin")
    if origin and not source_origin_allowed(source=source, origin=origin):
        return _error(403, f"origin {origin!r} is not allowed for source {source.name!r}: {HOW_TO_ALLOW}")
    limited = _limited(request, source=source, submit=submit)
    if limited is not None:
        return limited
    anonymous_id = _str(body, "anonymousId")
    if not anonymous_id:
        return _error(400, {"anonymousId": ["required"]})
    preview = None
    token = _str(body, "preview", 500)
    if token:
        try:
            preview = int(signing.loads(token, salt=PREVIEW_SALT, max_age=24 * 3600))
        except (signing.BadSignature, ValueError, TypeError):
            return _error(400, {"preview": ["invalid or expired preview link"]})
    pages = body.get("sessionPages")
    context = PageContext(
        anonymous_id=anonymous_id,
        user_id=_str(body, "userId"),
        user_id_signature=_str(body, "userIdSignature", 128),
        session_id=_str(body, "sessionId", 64),
        page_view_id=_str(body, "pageViewId", 64),
        url=_str(body, "url", 2000),
        device="mobile" if body.get("device") == "mobile" else "desktop",
        new_visitor=body.get("newVisitor") is True,
        session_pages=pages if isinstance(pages, int) and pages > 0 else 1,
        utm_source=_str(body, "utmSource", 200),
        locale=_str(body, "locale", 35),
        preview=preview,
    )
    return source, body, context


def preview_token(*, message_id: int) -> str:
    return signing.dumps(message_id, salt=PREVIEW_SALT)


@csrf_exempt
@require_POST
def decide(request: HttpRequest) -> HttpResponse:
    parsed = _parse(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    source, _, context = parsed
    return _json(200, {"messages": messages_decide(source=source, context=context)})


def _message_id(body: dict[str, Any]) -> int | None:
    value = body.get("messageId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@csrf_exempt
@require_POST
def interaction(request: HttpRequest) -> HttpResponse:
    parsed = _parse(request)
    if isinstance(parsed, HttpResponse):
        return parsed
    source, body, context = parsed
    message_id = _message_id(body)
    if message_id is None:
        return _error(400, {"messageId": ["required, a number"]})
    try:
        interaction_record(
            source=source,
            context=context,
            message_id=message_id,
            arm=_str(body, "arm", 16),
            kind=_str(body, "kind", 16),
        )
    except ValidationError as exc:
        return _error(400, exc.message_dict)
    return _json(200, {"success": True})


@csrf_exempt
@require_POST
def submit(request: HttpRequest) -> HttpResponse:
    parsed = _parse(request, submit=True)
    if isinstance(parsed, HttpResponse):
        return parsed
    source, body, context = parsed
    message_id = _message_id(body)
    if message_id is None:
        return _error(400, {"messageId": ["required, a number"]})
    consents = body.get("consents") or []
    if not isinstance(consents, list) or not all(isinstance(c, str) for c in consents):
        return _error(400, {"consents": ["a list of the ticked checkbox keys"]})
    try:
        form_submit(
            source=source, context=context, message_id=message_id, arm=_str(body, "arm", 16),
            email=_str(body, "email", 320), phone=_str(body, "phone", 40), consents=consents,
        )  # fmt: skip
    except ValidationError as exc:
        return _error(400, exc.message_dict)
    return _json(200, {"success": True})


@cache
def snippet_bytes() -> tuple[bytes, bytes, str]:
    """The snippet as written, gzip'd once (mtime 0: the same bytes every start), and its ETag."""
    raw = SNIPPET.read_bytes()
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:20]}"'


@require_GET
def snippet(request: HttpRequest, version: str) -> HttpResponse:
    """The one script a shop adds; its URL carries the version, so it is cached for a day (and
    revalidated by ETag), and a new major version is a new URL."""
    raw, packed, etag = snippet_bytes()
    if version != settings.ONSITE_SNIPPET_VERSION:
        return HttpResponse(status=404)
    response: HttpResponse
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(packed, content_type="application/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type="application/javascript; charset=utf-8")
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = "public, max-age=86400"
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


DEMO_PRODUCTS = [("Cast-iron teapot", "39.00"), ("Glass teapot", "24.50"), ("Sencha, 100 g", "9.90"),
                 ("Tea cups, set of 4", "19.00")]  # fmt: skip


@require_GET
def demo_shop(request: HttpRequest) -> HttpResponse:
    """The demo's shop page (make demo): the snippet on a page, with the demo store's web source."""
    if not (settings.DEBUG or settings.ONSITE_DEMO_SHOP):
        raise Http404("the demo shop page is off (DEBUG or ONSITE_DEMO_SHOP)")
    source = Source.objects.filter(name="web", enabled=True).first()
    if source is None:
        raise Http404("no demo source: run manage.py load_demo")
    snippet_url = reverse("onsite-snippet", args=[settings.ONSITE_SNIPPET_VERSION])
    return render(
        request,
        "onsite/demo_shop.html",
        {"snippet_url": snippet_url, "write_key": source.write_key, "products": DEMO_PRODUCTS},
    )
