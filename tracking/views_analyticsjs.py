"""What Segment's CDN serves to analytics.js, served by Voyage: the library and a source's settings.

The standard Segment snippet loads `<cdn>/analytics.js/v1/<writeKey>/analytics.min.js`; the library
then reads `<cdn>/v1/projects/<writeKey>/settings` and loads its lazy chunks from
`<cdn>/analytics-next/bundles/<chunk>`. With the snippet's CDN host changed to Voyage, all three come
from here. The library is @segment/analytics-next's standalone bundle, vendored at the version in
settings.TRACKING_ANALYTICS_JS_VERSION (docs/tracking.md says how to update it).
"""

from __future__ import annotations

import gzip
import hashlib
import re
from functools import cache
from pathlib import Path

import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from tracking.views_ingest import source_by_write_key

_STATIC = Path(__file__).resolve().parent / "vendor" / "analytics-next"
_CHUNK = re.compile(r"^[A-Za-z0-9_-]+\.bundle\.[0-9a-f]{8,40}\.js$")
# Segment's CDN writes the source's key into the bundle here (analytics-next's embedded-write-key.ts).
_KEY_PLACEHOLDER = b'window.analyticsWriteKey="__WRITE_KEY__"'
_LIBRARY_CACHE: dict[str, tuple[bytes, bytes, str]] = {}
_LIBRARY_CACHE_MAX = 512


def _not_found(message: str) -> HttpResponse:
    response = HttpResponse(
        orjson.dumps({"success": False, "error": message}), status=404, content_type="application/json"
    )
    # A key created a moment later must work at once.
    response["Cache-Control"] = "no-store"
    return response


def _vendored(name: str) -> bytes:
    path = _STATIC / settings.TRACKING_ANALYTICS_JS_VERSION / name
    return _read(str(path))


@cache
def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _javascript(
    request: HttpRequest, *, raw: bytes, compressed: bytes, etag: str, max_age: int, immutable: bool = False
) -> HttpResponse:
    headers = {
        "Cache-Control": f"public, max-age={max_age}" + (", immutable" if immutable else ""),
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        # Loaded by <script> from the shop's pages: any origin may embed it.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(compressed, content_type="application/javascript; charset=utf-8")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(raw, content_type="application/javascript; charset=utf-8")
    for key, value in headers.items():
        response[key] = value
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


@require_GET
def analytics_js(request: HttpRequest, write_key: str) -> HttpResponse:
    """The library for one source, its write key embedded as Segment's CDN does."""
    if source_by_write_key(write_key) is None:
        return _not_found("unknown or disabled write key")
    hit = _LIBRARY_CACHE.get(write_key)
    if hit is None:
        bundle = _vendored("standalone.js")
        # Write keys are [A-Za-z0-9_.-] (tracking.services.sources), so they need no escaping in JS.
        raw = bundle.replace(_KEY_PLACEHOLDER, f'window.analyticsWriteKey="{write_key}"'.encode(), 1)
        digest = hashlib.sha256(raw).hexdigest()[:20]
        if len(_LIBRARY_CACHE) >= _LIBRARY_CACHE_MAX:
            _LIBRARY_CACHE.clear()
        hit = _LIBRARY_CACHE[write_key] = (raw, gzip.compress(raw, 9, mtime=0), f'"{digest}"')
    raw, compressed, etag = hit
    return _javascript(
        request, raw=raw, compressed=compressed, etag=etag, max_age=settings.TRACKING_ANALYTICS_JS_MAX_AGE
    )


@cache
def _chunk(version: str, name: str) -> tuple[bytes, bytes, str]:
    raw = (_STATIC / version / name).read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), f'"{hashlib.sha256(raw).hexdigest()[:20]}"'


@require_GET
def analytics_js_chunk(request: HttpRequest, name: str) -> HttpResponse:
    """A lazily loaded chunk; its name carries a content hash, so it is cached for a year."""
    version = settings.TRACKING_ANALYTICS_JS_VERSION
    if not _CHUNK.match(name) or not (_STATIC / version / name).is_file():
        raise Http404("no such analytics.js chunk")
    raw, compressed, etag = _chunk(version, name)
    return _javascript(request, raw=raw, compressed=compressed, etag=etag, max_age=31_536_000, immutable=True)


@require_GET
def project_settings(request: HttpRequest, write_key: str) -> HttpResponse:
    """The settings analytics.js loads first: send to this Voyage, and nothing secret.

    Only the Segment.io integration (no device-mode destinations), no middleware, and Segment's own
    metrics off (sampleRate 0) so the library reports nothing to Segment.
    """
    source = source_by_write_key(write_key)
    if source is None:
        return _not_found("unknown or disabled write key")
    body = {
        "integrations": {
            "Segment.io": {
                "apiKey": source.write_key,
                # analytics.js posts to {protocol}://{apiHost}/t, /i, /p, … (our short forms).
                "apiHost": f"{request.get_host()}/v1",
                "protocol": request.scheme,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    response["Cache-Control"] = f"public, max-age={settings.TRACKING_SETTINGS_MAX_AGE}"
    return response
