"""The public on-site endpoints (journeys/onsite/views.py) in the OpenAPI schema.

They are plain Django views (the snippet sends JSON as text/plain so that a browser needs no
preflight; the write key is in the body), not DRF views, so drf-spectacular does not see them; this
postprocessing hook adds them with every answer the views give, as tracking/schema_ingest.py does
for /v1/*. tests/test_onsite_openapi.py calls the real endpoints for each documented answer.
"""

from __future__ import annotations

from typing import Any

from journeys.onsite.models import Device, InteractionKind, Kind, Trigger

TAG = "on-site messages (public, called by the snippet)"

_IDENTITY = {
    "writeKey": {"type": "string", "description": "The shop's source write key (admin: Tracking › Sources)."},
    "anonymousId": {
        "type": "string",
        "maxLength": 255,
        "description": "The browser's own random id (analytics.js' ajs_anonymous_id).",
    },
    "userId": {
        "type": "string",
        "maxLength": 255,
        "description": "The shop's id for the person; trusted only with a valid `userIdSignature`.",
    },
    "userIdSignature": {
        "type": "string",
        "description": "Hex HMAC-SHA256 of userId with the source's on-site signing secret (docs/onsite.md).",
    },
    "sessionId": {
        "type": "string",
        "maxLength": 64,
        "description": "The snippet's session (caps per session).",
    },
    "pageViewId": {
        "type": "string",
        "maxLength": 64,
        "description": "This page view (one pop-up per page view).",
    },
    "url": {"type": "string", "maxLength": 2000, "description": "The page's URL (URL rules)."},
    "device": {"type": "string", "enum": [Device.DESKTOP.value, Device.MOBILE.value], "default": "desktop"},
    "newVisitor": {"type": "boolean", "description": "First session in this browser."},
    "sessionPages": {"type": "integer", "minimum": 1, "description": "Pages seen in this session so far."},
    "utmSource": {"type": "string", "description": "utm_source of the session's first page."},
    "locale": {"type": "string", "description": "The browser's language, e.g. de-AT (content's locale)."},
    "preview": {"type": "string", "description": "A signed preview token (the admin's preview link)."},
}

_MESSAGE = {
    "type": "object",
    "description": "A message this visitor may see on this page, rendered for them (text, never HTML).",
    "required": ["id", "arm", "kind", "popup", "selector", "trigger", "content", "form"],
    "properties": {
        "id": {"type": "integer"},
        "arm": {"type": "string", "description": "The A/B arm; send it back with interactions and submits."},
        "kind": {"type": "string", "enum": list(Kind.values)},
        "popup": {"type": "boolean", "description": "Modal or slide-in: at most one per page view."},
        "selector": {"type": "string", "description": "Embedded blocks: the CSS selector to fill."},
        "trigger": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": list(Trigger.values)},
                "seconds": {"type": "integer", "nullable": True},
                "pages": {"type": "integer", "nullable": True},
                "scroll": {"type": "integer", "nullable": True},
                "event": {"type": "string"},
                "unless": {"type": "string"},
                "waitMinutes": {"type": "integer", "nullable": True},
            },
        },
        "content": {
            "type": "object",
            "properties": {
                name: {"type": "string"}
                for name in (
                    "headline",
                    "body",
                    "cta_label",
                    "cta_url",
                    "coupon_code",
                    "submit_label",
                    "success_text",
                    "image_url",
                )
            },  # fmt: skip
        },
        "form": {
            "type": "object",
            "properties": {
                "email": {"type": "boolean"},
                "phone": {"type": "boolean"},
                "consents": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string", "description": "channel:topic, sent back when ticked."},
                            "label": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

_ERROR = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "description": 'What was wrong: a sentence, or by field, e.g. {"anonymousId": ["required"]}.',
            "oneOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            ],
        },
    },
}


def _json(description: str, schema: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}, "example": example}
        },
    }


def _errors(*, submit: bool, message_id: bool) -> dict[str, Any]:
    unknown = {"messageId": ["no such message on this site"]} if message_id else {"anonymousId": ["required"]}
    limit = "`ONSITE_SUBMIT_RATE_PER_IP`/s" if submit else "`ONSITE_RATE_PER_IP`/s"
    too_many = _json(
        f"Too many requests from this client address ({limit} with a burst); retry after `Retry-After` s.",
        "OnsiteError",
        {"success": False, "error": "too many requests from this address; retry in 3 s"},
    )
    too_many["headers"] = {
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
    }
    return {
        "400": _json(
            "Bad input, naming the field: unreadable JSON, a missing anonymousId, an invalid preview token"
            + (", an unknown message or arm, a field the form refuses" if message_id else "")
            + ".",
            "OnsiteError",
            {"success": False, "error": unknown},
        ),
        "401": _json(
            "Unknown or disabled write key.",
            "OnsiteError",
            {"success": False, "error": "unknown or disabled write key"},
        ),
        "403": _json(
            "A browser origin the source does not allow (Tracking › Sources › Allowed origins).",
            "OnsiteError",
            {"success": False, "error": "origin 'https://evil.example' is not allowed for source 'web': …"},
        ),
        "405": _json("Only POST.", "OnsiteError", {"success": False, "error": "Method Not Allowed"}),
        "429": too_many,
    }


_COMMON_DESCRIPTION = (
    "Called by the on-site snippet from the shop's pages. The body is JSON sent as `text/plain` (a simple "
    "cross-origin request: no preflight), with the write key in it; no cookies. CORS: answered to the "
    "origins the source allows. Rate-limited per client address."
)


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    # The snippet labels it text/plain (see the description); the server reads the body whatever its type.
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _decide() -> dict[str, Any]:
    return {
        "operationId": "onsite_decide",
        "summary": "The messages this visitor may see on this page, rendered",
        "description": (
            f"{_COMMON_DESCRIPTION} One request per page view: the server decides from the messages' "
            "targeting and caps (the interactions it recorded, by profile when known) and answers only "
            "rendered messages, never traits or other profile data. An unsigned `userId` is ignored."
        ),
        "tags": [TAG],
        "security": [{}],
        "requestBody": _body(_IDENTITY, ["writeKey", "anonymousId"]),
        "responses": {
            "200": _json(
                "The messages, highest priority first (possibly none).",
                "OnsiteDecideAnswer",
                {"messages": []},
            ),
            **_errors(submit=False, message_id=False),
        },
    }


def _interaction() -> dict[str, Any]:
    kinds = [InteractionKind.VIEW.value, InteractionKind.CLOSE.value, InteractionKind.CLICK.value]
    properties = {
        **_IDENTITY,
        "messageId": {"type": "integer"},
        "arm": {"type": "string", "description": "The arm the decide answer gave."},
        "kind": {"type": "string", "enum": kinds},
    }
    return {
        "operationId": "onsite_interaction",
        "summary": "Record a view, close or click of a message",
        "description": (
            f"{_COMMON_DESCRIPTION} Kept for the caps and the results, and sent into tracking as an "
            "event on the visitor's profile (`Onsite Message Viewed`, `… Closed`, `… Clicked`)."
        ),
        "tags": [TAG],
        "security": [{}],
        "requestBody": _body(properties, ["writeKey", "anonymousId", "messageId", "arm", "kind"]),
        "responses": {
            "200": _json("Recorded.", "OnsiteOk", {"success": True}),
            **_errors(submit=False, message_id=True),
        },
    }


def _submit() -> dict[str, Any]:
    properties = {
        **_IDENTITY,
        "messageId": {"type": "integer"},
        "arm": {"type": "string"},
        "email": {"type": "string", "maxLength": 320},
        "phone": {"type": "string", "maxLength": 40, "description": "E.164, e.g. +14155550100."},
        "consents": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The keys (channel:topic) of the ticked consent checkboxes.",
        },
    }
    return {
        "operationId": "onsite_submit",
        "summary": "Submit a message's form",
        "description": (
            f"{_COMMON_DESCRIPTION} Identifies the visitor with what they typed (the contact point is "
            "created by ID resolution) and records each ticked consent with method `onsite form` once "
            "that is resolved to a profile. Its own, lower rate limit."
        ),
        "tags": [TAG],
        "security": [{}],
        "requestBody": _body(properties, ["writeKey", "anonymousId", "messageId", "arm"]),
        "responses": {
            "200": _json("Accepted.", "OnsiteOk", {"success": True}),
            **_errors(submit=True, message_id=True),
        },
    }


def _snippet() -> dict[str, Any]:
    return {
        "operationId": "onsite_snippet",
        "summary": "The on-site snippet (the one script a shop adds)",
        "description": (
            "Versioned URL (`ONSITE_SNIPPET_VERSION`); cached a day, revalidated by ETag; gzip'd when "
            "the browser accepts it. See docs/onsite.md, Install the snippet."
        ),
        "tags": [TAG],
        "security": [{}],
        "parameters": [
            {
                "name": "version",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "The snippet's major version, e.g. 1.",
            },
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "The script.",
                "headers": {
                    "ETag": {"schema": {"type": "string"}},
                    "Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=86400"},
                },
                "content": {"application/javascript": {"schema": {"type": "string"}}},
            },
            "304": {"description": "Not modified (the ETag matched)."},
            "404": {"description": "No such version (an old or unknown one); empty body."},
        },
    }


def onsite_paths_add(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the public on-site endpoints with their answers."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["OnsiteMessage"] = _MESSAGE
    schemas["OnsiteDecideAnswer"] = {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/OnsiteMessage"}}
        },
    }
    schemas["OnsiteOk"] = {
        "type": "object",
        "required": ["success"],
        "properties": {"success": {"type": "boolean", "enum": [True]}},
    }
    schemas["OnsiteError"] = _ERROR
    paths = result.setdefault("paths", {})
    paths["/v1/onsite/decide"] = {"post": _decide()}
    paths["/v1/onsite/interactions"] = {"post": _interaction()}
    paths["/v1/onsite/submit"] = {"post": _submit()}
    paths["/onsite/{version}/onsite.js"] = {"get": _snippet()}
    return result
