"""Answers that machines read: JSON errors under /api/ and /v1/, and no NUL in paths or query strings.

Django's own 400/404/405/413/500 answers are HTML pages, which an SDK or API client cannot read;
under the machine-facing prefixes every error leaves as JSON instead (ingestion keeps Segment's
`{"success": false, "error": …}`, the management API DRF's `{"detail": …}`). A NUL in the path or
a query parameter is refused here, before any view hands it to PostgreSQL (core/text.py).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from core.text import NUL, NUL_REASON

INGEST_PREFIX = "/v1/"
API_PREFIX = "/api/"
# Pages under /api/ that are meant for people (Swagger UI, Redoc) keep their HTML.
HTML_PAGES = ("/api/docs/", "/api/redoc/")


def _machine_facing(path: str) -> bool:
    return path.startswith((INGEST_PREFIX, API_PREFIX)) and not path.startswith(HTML_PAGES)


def json_error(
    path: str, status: int, message: str, fields: dict[str, list[str]] | None = None
) -> HttpResponse:
    """An error in the shape clients of `path` read."""
    if path.startswith(INGEST_PREFIX):
        payload: dict[str, Any] = {"success": False, "error": message}
    elif fields:
        payload = fields
    else:
        payload = {"detail": message}
    return HttpResponse(orjson.dumps(payload), status=status, content_type="application/json")


def _nul_field(request: HttpRequest) -> str | None:
    if NUL in request.path:
        return "path"
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            return key.replace(NUL, "\\u0000")
    return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = _nul_field(request)
        if field is not None:
            message = f"{field}: {NUL_REASON}"
            return json_error(request.path, 400, message, {field: [NUL_REASON]} if field != "path" else None)
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and _machine_facing(request.path)
            and not response.get("Content-Type", "").startswith(
                ("application/json", "application/problem+json")
            )
        ):
            message = _phrase(response.status_code)
            if response.status_code == 404:
                message = f"not found: {request.path}"
            elif response.get("Content-Type", "").startswith("text/plain") and not response.streaming:
                # A view's own plain-text explanation (e.g. how to allow a refused origin) is kept.
                message = (
                    response.content.decode(response.charset or "utf-8", "replace").strip()[:2000] or message
                )
            json = json_error(request.path, response.status_code, message)
            # Allow, Retry-After, WWW-Authenticate, the CORS headers…: everything but the body's own.
            for header, value in response.items():
                if header.lower() not in ("content-type", "content-length"):
                    json[header] = value
            return json
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig) and _machine_facing(request.path):
            return json_error(request.path, 413, "body: larger than this server accepts")
        return None
