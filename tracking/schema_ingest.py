"""The Segment-compatible ingestion endpoints (`/v1/*`, tracking/views_ingest.py) in the OpenAPI schema.

They are plain Django views (the Segment wire format, Basic auth with the source's write key as the
user name), not DRF views, so drf-spectacular does not see them; this postprocessing hook adds them
with their authentication and every answer the view gives.
"""

from __future__ import annotations

from typing import Any

KINDS = ("identify", "track", "page", "screen", "group", "alias", "batch")
SHORT = {"identify": "i", "track": "t", "page": "p", "screen": "s", "group": "g", "alias": "a", "batch": "b"}
SCHEME = "segmentWriteKey"

_COMMON = {
    "type": {"type": "string", "description": "Optional here: the path names the call."},
    "userId": {
        "type": "string",
        "description": "Your id for the person (userId or anonymousId is required).",
    },
    "anonymousId": {"type": "string", "description": "The browser's or device's id before a login."},
    "timestamp": {"type": "string", "format": "date-time", "description": "When it happened (ISO 8601)."},
    "sentAt": {
        "type": "string",
        "format": "date-time",
        "description": "When the client sent it (clock skew).",
    },
    "messageId": {
        "type": "string",
        "description": "Unique per message: a repeat with the same id is dropped.",
    },
    "context": {
        "type": "object",
        "additionalProperties": True,
        "description": "ip, userAgent, page, campaign (UTM)…",
    },
    "integrations": {"type": "object", "additionalProperties": True},
    "writeKey": {
        "type": "string",
        "description": "The write key, when it is not sent as HTTP Basic user name.",
    },
}
_BY_KIND: dict[str, dict[str, Any]] = {
    "identify": {"traits": {"type": "object", "additionalProperties": True}},
    "track": {
        "event": {"type": "string", "description": "The event name, e.g. Order Completed."},
        "properties": {"type": "object", "additionalProperties": True},
    },
    "page": {"name": {"type": "string"}, "properties": {"type": "object", "additionalProperties": True}},
    "screen": {"name": {"type": "string"}, "properties": {"type": "object", "additionalProperties": True}},
    "group": {"groupId": {"type": "string"}, "traits": {"type": "object", "additionalProperties": True}},
    "alias": {"previousId": {"type": "string"}},
}
_REQUIRED = {"track": ["event"], "group": ["groupId"], "alias": ["previousId"]}


def _message_schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {**_COMMON, **_BY_KIND[kind]}}
    if kind in _REQUIRED:
        schema["required"] = _REQUIRED[kind]
    return schema


def _answer(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SegmentAnswer"}, "example": example}
        },
    }


def _operation(kind: str, path: str) -> dict[str, Any]:
    if kind == "batch":
        body = {
            "type": "object",
            "required": ["batch"],
            "properties": {
                "batch": {
                    "type": "array",
                    "items": {
                        "oneOf": [{"$ref": f"#/components/schemas/Segment{k.title()}"} for k in KINDS[:-1]]
                    },
                    "description": "Messages of any kind, each with its `type`.",
                },
                "context": _COMMON["context"],
                "writeKey": _COMMON["writeKey"],
            },
        }
    else:
        body = {"$ref": f"#/components/schemas/Segment{kind.title()}"}
    short = f" (also `/v1/{SHORT[kind]}`)" if path.endswith(f"/{kind}") else ""
    return {
        "operationId": f"segment_{kind}" if path.endswith(f"/{kind}") else f"segment_{kind}_short",
        "summary": f"Segment-compatible {kind}{short}",
        "description": (
            f"The Segment HTTP Tracking API's `{kind}` call, as analytics.js and Segment's server libraries send it. "
            "Authenticate with the source's write key as the HTTP Basic user name and an empty password "
            "(`Authorization: Basic base64(writeKey + ':')`), or as `writeKey` in the body. The body may be "
            "gzip-encoded (`Content-Encoding: gzip`)."
        ),
        "tags": ["ingestion (Segment-compatible)"],
        "security": [{SCHEME: []}, {}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": _answer("Accepted (stored; processed in the background).", {"success": True}),
            "400": _answer(
                "Bad input: the message names the field, e.g. `body: invalid JSON`, `batch: must be a list`.",
                {"success": False, "error": "context: must be an object"},
            ),
            "401": _answer(
                "No write key, or an unknown or disabled one.",
                {"success": False, "error": "unknown or disabled write key"},
            ),
            "403": _answer(
                "A browser origin the source does not allow.",
                {"success": False, "error": "origin 'https://evil.example' is not allowed for source 'web'"},
            ),
            "405": _answer("Only POST.", {"success": False, "error": "use POST"}),
        },
    }


def ingest_paths_add(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add `/v1/{kind}` and its short form for every call."""
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "basic",
        "description": "The source's write key as the user name, an empty password.",
    }
    schemas = components.setdefault("schemas", {})
    for kind in KINDS[:-1]:
        schemas[f"Segment{kind.title()}"] = _message_schema(kind)
    schemas["SegmentAnswer"] = {
        "type": "object",
        "required": ["success"],
        "properties": {
            "success": {"type": "boolean"},
            "error": {"type": "string", "description": "What was wrong, naming the field."},
            "rejected": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
        "additionalProperties": True,
    }
    paths = result.setdefault("paths", {})
    for kind in KINDS:
        for path in (f"/v1/{kind}", f"/v1/{SHORT[kind]}"):
            paths[path] = {"post": _operation(kind, path)}
    return result
