"""Which web origins may send events from a browser (CORS on /v1/*), per source.

django-cors-headers writes the headers; this module decides which origins it may write them for.
Origins are set per source (the shop's domains), but a preflight (OPTIONS) carries no Authorization
header and no body, so it cannot say which source it is for: the preflight is answered for an origin
that *some* enabled source allows, and the actual request (which carries the write key) is then
refused by the ingestion view unless *its* source allows that origin (`source_origin_allowed`).
An origin no source allows is refused at the preflight; nothing reaches the view.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from tracking.models import Source

# Paths whose answers carry CORS headers (settings: CORS_URLS_REGEX is kept matching nothing, this
# decides). The settings endpoint is public (like Segment's CDN), so any origin may read it.
INGEST_PATH = re.compile(r"^/v1/")
PUBLIC_PATH = re.compile(r"^/v1/projects/[^/]+/settings$")

_CACHE_TTL = 5.0
_cache: dict[str, tuple[float, frozenset[str]]] = {}

HOW_TO_ALLOW = (
    "add it to the source's allowed origins (admin: Tracking › Sources › the source › Allowed origins, "
    "or PATCH /api/sources/<id>/ with allowed_origins)"
)


def origin_normalize(value: str) -> str:
    """'https://Shop.example.com/' -> 'https://shop.example.com'; a ValidationError says what is wrong."""
    text = value.strip()
    if text == "*":
        raise ValidationError("'*' is not allowed: list each of the shop's origins")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{text!r}: not an origin ({exc})")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{text!r}: an origin is scheme://host[:port], e.g. https://shop.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError(
            f"{text!r}: an origin has no path, query or user, e.g. https://shop.example.com"
        )
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origins_normalize(values: list[Any], *, unit: str = "item") -> list[str]:
    """A list of origins, normalised and de-duplicated; errors name the item (or line), 1-based."""
    if not isinstance(values, list):
        raise ValidationError("must be a list of origins such as https://shop.example.com")
    found: list[str] = []
    errors: list[str] = []
    for number, value in enumerate(values, start=1):
        if not isinstance(value, str):
            errors.append(f"{unit} {number}: must be a string")
            continue
        if not value.strip():
            continue
        try:
            origin = origin_normalize(value)
        except ValidationError as exc:
            errors.append(f"{unit} {number}: {exc.messages[0]}")
            continue
        if origin not in found:
            found.append(origin)
    if errors:
        raise ValidationError(errors)
    return found


def source_origin_allowed(*, source: Source, origin: str) -> bool:
    return origin in (source.allowed_origins or [])


def origins_allowed_any() -> frozenset[str]:
    """Every origin some enabled source allows; cached a few seconds in-process (one query per miss)."""
    now = time.monotonic()
    hit = _cache.get("all")
    if hit and now - hit[0] < _CACHE_TTL:
        return hit[1]
    origins: set[str] = set()
    for values in Source.objects.filter(enabled=True).values_list("allowed_origins", flat=True):
        origins.update(v for v in values or [] if isinstance(v, str))
    result = frozenset(origins)
    _cache["all"] = (now, result)
    return result


def origins_cache_clear() -> None:
    _cache.clear()


@receiver(post_save, sender=Source)
def _source_saved(**kwargs: Any) -> None:
    # This process sees the change at once; other processes within _CACHE_TTL seconds.
    origins_cache_clear()


def cors_request_allowed(*, request: HttpRequest) -> bool:
    """django-cors-headers' check_request_enabled: may this request's origin read this /v1 answer?"""
    path = request.path_info
    if not INGEST_PATH.match(path):
        return False
    if PUBLIC_PATH.match(path):
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin in origins_allowed_any()


class CorsRefusalMiddleware:
    """Sits outside CorsMiddleware: a /v1 preflight it did not allow becomes a 403 that says why.

    The browser only reports "blocked by CORS policy"; the answer's text (in the developer tools'
    network tab) and the server log tell the shop's developer what to change.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            request.method == "OPTIONS"
            and "access-control-request-method" in request.headers
            and INGEST_PATH.match(request.path_info)
            and "access-control-allow-origin" not in response
        ):
            origin = request.headers.get("Origin", "")
            refusal = HttpResponse(
                f"origin {origin!r} may not send events here: no source allows it; {HOW_TO_ALLOW}.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
            refusal["Vary"] = "origin"
            return refusal
        return response
