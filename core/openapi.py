"""The error answers every API operation can give, written into the OpenAPI schema with their bodies.

drf-spectacular documents what a view declares; the answers that come from the layers around it
(authentication 401, permissions 403, lookups and paging 404, the parsers and the NUL rule 400)
are the same everywhere, so one postprocessing hook adds them where a view did not, and gives a
body to error answers a view documented with a description only. See docs/api.md, "Errors".
"""

from __future__ import annotations

from typing import Any

METHODS = ("get", "put", "post", "patch", "delete")

DETAIL = {
    "type": "object",
    "description": 'One message: {"detail": "…"}.',
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
NOT_FOUND = {
    "type": "object",
    "description": 'What was not found: {"detail": "…"}, or by parameter, e.g. {"profile_id": ["no profile 7"]}.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
BAD_REQUEST = {
    "type": "object",
    "description": (
        "What was wrong, by field: each key is a field path (`name`, `definition.stages[0].key`, a "
        'query parameter) with a list of messages, e.g. {"rule": ["may not be null"]}; or '
        '{"detail": "…"} when the body as a whole is unreadable. Some operations add `errors` and '
        "`warnings` (lists of {path, message})."
    ),
    "properties": {
        # A string for the body as a whole, or a list of messages for a field that is named `detail`.
        "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
DEFAULTS = {
    "400": ("Bad input: errors by field (a NUL character anywhere is refused too).", "ErrorsByField"),
    "401": ("No or an invalid token (`Authorization: Bearer <token>`).", "ErrorDetail"),
    "403": ("The token's user has no role that may do this.", "ErrorDetail"),
    "404": ("No such object (or page).", "NotFound"),
}


def _ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDetail", DETAIL)
    schemas.setdefault("ErrorsByField", BAD_REQUEST)
    schemas.setdefault("NotFound", NOT_FOUND)
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, (description, schema) in DEFAULTS.items():
                if code not in responses:
                    responses[code] = {"description": description, "content": _ref(schema)}
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    response["content"] = _ref(
                        {"400": "ErrorsByField", "404": "NotFound"}.get(code, "ErrorDetail")
                    )
    return result
