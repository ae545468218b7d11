"""The public on-site endpoints (decide, interactions, submit, the snippet) are in the OpenAPI schema
with every answer they give; each documented answer is one the real endpoint gives, in the shape the
schema documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from journeys.onsite.models import Message, Status, Variant
from journeys.onsite.services import messages_cache_clear
from tracking.models import Source

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example.com"
DOCUMENTED = {
    ("/v1/onsite/decide", "post"): {"200", "400", "401", "403", "405", "429"},
    ("/v1/onsite/interactions", "post"): {"200", "400", "401", "403", "405", "429"},
    ("/v1/onsite/submit", "post"): {"200", "400", "401", "403", "405", "429"},
    ("/onsite/{version}/onsite.js", "get"): {"200", "304", "404"},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        r = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    return r.json()


@pytest.fixture
def message(db) -> Message:
    site = Source.objects.create(name="shop", write_key="wk_onsite_doc", allowed_origins=[ORIGIN])
    m = Message.objects.create(
        name="Offer", source=site, status=Status.ACTIVE, form_email=True,
        consents=[{"channel": "email", "topic": "marketing", "label": "Email me"}],
    )  # fmt: skip
    Variant.objects.create(message=m, arm="A", headline="Hi {{ profile.first_name | default: 'there' }}")
    messages_cache_clear()
    return m


def test_the_public_onsite_endpoints_are_documented_with_every_answer(schema):
    validate(schema)
    for (route, method), codes in DOCUMENTED.items():
        operation = schema["paths"][route][method]
        assert operation["summary"] and operation["tags"] == [
            "on-site messages (public, called by the snippet)"
        ]
        assert set(operation["responses"]) == codes, route
        assert operation["security"] == [{}], route  # the write key is in the body, not a header
        if "429" in codes:
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    decide = schema["paths"]["/v1/onsite/decide"]["post"]
    body = decide["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["writeKey", "anonymousId"] and "userIdSignature" in body["properties"]


def _call(path: str, *, method: str = "post", origin: str | None = ORIGIN, **body: Any) -> Any:
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    if method == "get":
        return Client().get(path, **extra)
    payload = {"writeKey": "wk_onsite_doc", "anonymousId": "anon-doc", "sessionId": "s", **body}
    return Client().post(path, data=json.dumps(payload), content_type="text/plain", **extra)


def _limited(path: str, settings: Any, **body: Any) -> Any:
    settings.ONSITE_RATE_PER_IP, settings.ONSITE_RATE_BURST = 0.01, 1
    settings.ONSITE_SUBMIT_RATE_PER_IP, settings.ONSITE_SUBMIT_BURST = 0.01, 1
    first = _call(path, **body)
    assert first.status_code == 200, first.content
    return _call(path, **body)


def _with_message(path: str, **extra: Any) -> Callable[[Message, Any], Any]:
    def call(m: Message, settings: Any) -> Any:
        fields = {"messageId": m.pk, "arm": "A", **extra}
        return _call(path, **fields)

    return call


INTERACTION = {"kind": "view"}
SUBMIT = {"email": "ada@example.com", "consents": ["email:marketing"]}
CASES: dict[tuple[str, str, str], Callable[[Message, Any], Any]] = {
    ("/v1/onsite/decide", "post", "200"): lambda m, s: _call("/v1/onsite/decide", url=f"{ORIGIN}/"),
    ("/v1/onsite/decide", "post", "400"): lambda m, s: _call("/v1/onsite/decide", anonymousId=""),
    ("/v1/onsite/decide", "post", "401"): lambda m, s: _call("/v1/onsite/decide", writeKey="nope"),
    ("/v1/onsite/decide", "post", "403"): lambda m, s: _call(
        "/v1/onsite/decide", origin="https://evil.example"
    ),
    ("/v1/onsite/decide", "post", "405"): lambda m, s: _call("/v1/onsite/decide", method="get"),
    ("/v1/onsite/decide", "post", "429"): lambda m, s: _limited("/v1/onsite/decide", s),
    ("/v1/onsite/interactions", "post", "200"): _with_message("/v1/onsite/interactions", **INTERACTION),
    ("/v1/onsite/interactions", "post", "400"): _with_message("/v1/onsite/interactions", kind="submit"),
    ("/v1/onsite/interactions", "post", "401"): _with_message(
        "/v1/onsite/interactions", writeKey="nope", **INTERACTION
    ),
    ("/v1/onsite/interactions", "post", "403"): lambda m, s: _call(
        "/v1/onsite/interactions", origin="https://evil.example", messageId=m.pk, arm="A", **INTERACTION
    ),
    ("/v1/onsite/interactions", "post", "405"): lambda m, s: _call("/v1/onsite/interactions", method="get"),
    ("/v1/onsite/interactions", "post", "429"): lambda m, s: _limited(
        "/v1/onsite/interactions", s, messageId=m.pk, arm="A", **INTERACTION
    ),
    ("/v1/onsite/submit", "post", "200"): _with_message("/v1/onsite/submit", **SUBMIT),
    ("/v1/onsite/submit", "post", "400"): _with_message("/v1/onsite/submit", email="not-an-address"),
    ("/v1/onsite/submit", "post", "401"): _with_message("/v1/onsite/submit", writeKey="nope", **SUBMIT),
    ("/v1/onsite/submit", "post", "403"): lambda m, s: _call(
        "/v1/onsite/submit", origin="https://evil.example", messageId=m.pk, arm="A", **SUBMIT
    ),
    ("/v1/onsite/submit", "post", "405"): lambda m, s: _call("/v1/onsite/submit", method="get"),
    ("/v1/onsite/submit", "post", "429"): lambda m, s: _limited(
        "/v1/onsite/submit", s, messageId=m.pk, arm="A", **SUBMIT
    ),
    ("/onsite/{version}/onsite.js", "get", "200"): lambda m, s: _call("/onsite/1/onsite.js", method="get"),
    ("/onsite/{version}/onsite.js", "get", "304"): lambda m, s: Client().get(
        "/onsite/1/onsite.js", HTTP_IF_NONE_MATCH=Client().get("/onsite/1/onsite.js")["ETag"]
    ),
    ("/onsite/{version}/onsite.js", "get", "404"): lambda m, s: _call("/onsite/999/onsite.js", method="get"),
}


def test_every_documented_answer_has_a_case_below():
    assert set(CASES) == {
        (route, method, code) for (route, method), codes in DOCUMENTED.items() for code in codes
    }


def _inlined(node: Any, components: dict[str, Any]) -> Any:
    """The schema with its $refs replaced by what they point at (the validator gets one document)."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inlined(components[node["$ref"].rsplit("/", 1)[1]], components)
        return {k: _inlined(v, components) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v, components) for v in node]
    return node


@pytest.mark.parametrize("route,method,code", sorted(CASES), ids=lambda v: str(v))
def test_each_documented_answer_is_given_in_its_documented_shape(
    schema, message, settings, route, method, code
):
    answer = CASES[(route, method, code)](message, settings)
    assert answer.status_code == int(code), answer.content
    documented = schema["paths"][route][method]["responses"][code]
    content = documented.get("content")
    if not content:
        assert not answer.content or code == "404"
        return
    media, spec = next(iter(content.items()))
    assert answer["Content-Type"].split(";")[0] == media
    for header in documented.get("headers", {}):
        assert answer.has_header(header), header
    if media != "application/json":
        return
    body = answer.json()
    shape = _inlined(spec["schema"], schema["components"]["schemas"])
    OAS30Validator(shape).validate(body)
    if code == "200" and route == "/v1/onsite/decide":
        # Rendered content, and nothing about the visitor.
        assert body["messages"][0]["content"]["headline"] == "Hi there"
        assert body["messages"][0]["id"] == message.pk
