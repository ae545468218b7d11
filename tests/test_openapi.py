"""The OpenAPI schema documents every tracking endpoint, validates, and its docs pages work offline."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

TRACKING_OPERATIONS = {
    ("/api/profiles/", "get"),
    ("/api/profiles/{id}/", "get"),
    ("/api/profiles/{id}/", "delete"),
    ("/api/profiles/{id}/events/", "get"),
    ("/api/profiles/{id}/export/", "get"),
    ("/api/profiles/{id}/consent/", "post"),
    ("/api/profiles/{id}/consent/", "put"),
    ("/api/sources/", "get"),
    ("/api/sources/", "post"),
    ("/api/sources/{id}/", "get"),
    ("/api/sources/{id}/", "put"),
    ("/api/sources/{id}/", "patch"),
    ("/api/sources/{id}/rotate-write-key/", "post"),
    ("/api/events/", "get"),
    ("/api/events/{id}/", "get"),
}
# Operations whose documentation carries a worked example.
WITH_EXAMPLES = {
    ("/api/profiles/", "get"),
    ("/api/profiles/{id}/", "get"),
    ("/api/profiles/{id}/events/", "get"),
    ("/api/profiles/{id}/export/", "get"),
    ("/api/profiles/{id}/consent/", "post"),
    ("/api/sources/", "post"),
    ("/api/sources/{id}/", "get"),
    ("/api/events/", "get"),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        r = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    return r.json()


def test_whole_schema_is_valid_openapi(schema):
    validate(schema)  # raises with the offending path when invalid


def test_every_tracking_operation_is_documented_with_summary_and_auth(schema):
    documented = {
        (p, m)
        for p, ops in schema["paths"].items()
        for m in ops
        if m in {"get", "post", "put", "patch", "delete"}
    }
    assert documented >= TRACKING_OPERATIONS
    for route, method in TRACKING_OPERATIONS:
        operation = schema["paths"][route][method]
        assert operation.get("summary"), (route, method)
        assert {"tokenAuth": []} in operation["security"], (route, method)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {"type": "http", "scheme": "bearer"}


def _examples(operation: dict) -> list:
    found = []
    bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
    for body in bodies:
        for media in body.get("content", {}).values():
            found.extend(media.get("examples", {}).values())
    return found


def test_main_operations_carry_examples(schema):
    for route, method in WITH_EXAMPLES:
        assert _examples(schema["paths"][route][method]), (route, method)


def test_profile_look_up_parameters_and_cursor_paging_are_described(schema):
    names = {p["name"] for p in schema["paths"]["/api/profiles/"]["get"]["parameters"]}
    assert {"user_id", "anonymous_id", "email", "phone", "external_id", "namespace"} <= names
    events = schema["paths"]["/api/profiles/{id}/events/"]["get"]
    assert {"cursor", "page_size", "type", "name", "since", "until"} <= {
        p["name"] for p in events["parameters"]
    }


def test_tracking_views_generate_without_warnings():
    urlconf = [path("api/", include("tracking.urls_api"))]
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator(patterns=urlconf).get_schema(request=None, public=True)
    problems = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert problems == {}


@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_docs_page_loads_only_local_static_files(client, settings, page):
    r = client.get(page)
    assert r.status_code == 200
    html = r.content.decode()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    refs += re.findall(r"""["']((?:https?:)?//[^"']+)["']""", html)
    assert refs, "the page should load its scripts"
    external = [ref for ref in refs if re.match(r"^(https?:)?//", ref)]
    assert external == [], external
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    static = [ref for ref in refs if ref.startswith(prefix)]
    assert static, refs
    for ref in static:
        assert finders.find(ref[len(prefix) :].split("?")[0]), f"{ref} is not a file we ship"


def test_segment_ingestion_endpoints_are_documented_with_the_write_key(schema):
    """/v1/* (Segment's HTTP API) is what a developer calls first: listed with Basic auth and answers."""
    scheme = schema["components"]["securitySchemes"]["segmentWriteKey"]
    assert scheme == {**scheme, "type": "http", "scheme": "basic"}
    for kind, short in (("identify", "i"), ("track", "t"), ("page", "p"), ("screen", "s"),
                        ("group", "g"), ("alias", "a"), ("batch", "b")):  # fmt: skip
        for url in (f"/v1/{kind}", f"/v1/{short}"):
            operation = schema["paths"][url]["post"]
            assert {"segmentWriteKey": []} in operation["security"], url
            assert {"200", "400", "401", "403"} <= set(operation["responses"]), url
            assert "write key" in operation["description"]
    track = schema["components"]["schemas"]["SegmentTrack"]
    assert track["required"] == ["event"] and "properties" in track["properties"]
