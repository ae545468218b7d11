"""Bad input to the management API is a 400 naming the field, never a 500; errors are JSON (issue 11).

Each case is a body or parameter that schemathesis found answering 500.
"""

from __future__ import annotations

import orjson
import pytest
from rest_framework.test import APIClient

from audiences.models import Audience
from journeys.models import Broadcast
from tracking.models import Profile, Source

pytestmark = pytest.mark.django_db
NUL_REASON = "contains a NUL character (\\u0000), which cannot be stored"

DEFINITION = {
    "slug": "bad-input",
    "name": "Bad input",
    "entry": {"event": "Signed Up"},
    "stages": [{"key": "hello", "transitions": [{"to": "bye", "after": {"days": 1}}]}, {"key": "bye", "exit": True}],
}  # fmt: skip


@pytest.fixture
def world(api_client):
    r = api_client.post("/api/journeys/", {"definition": DEFINITION}, format="json")
    assert r.status_code == 201, r.content
    Audience.objects.create(slug="shoppers", name="Shoppers", rule={"tag": "s"})
    body = {
        "name": "May",
        "audience_slug": "shoppers",
        "variants": [{"key": "a", "template_slug": "welcome"}],
    }
    r = api_client.post("/api/broadcasts/", body, format="json")
    assert r.status_code == 201, r.content
    source = Source.objects.create(name="web", write_key="wk_bad_input")
    return {"broadcast": r.json()["id"], "source": source.pk, "profile": Profile.objects.create().pk}


def raw(client: APIClient, method: str, path: str, body: bytes, content_type: str = "application/json"):
    return client.generic(method, path, body, content_type=content_type)


@pytest.mark.parametrize("body", [b"null", b"true", b"1", b'"text"', b"[]"])
def test_validate_with_a_body_that_is_not_an_object_is_a_400(api_client, world, body):
    r = raw(api_client, "POST", "/api/journeys/bad-input/validate/", body)
    assert r.status_code == 400, r.content
    assert "non_field_errors" in r.json()


def test_audience_patch_multipart_rule_null_is_a_400(api_client, world):
    r = api_client.patch("/api/audiences/shoppers/", {"rule": "null"}, format="multipart")
    assert r.status_code == 400, r.content
    assert "rule" in r.json()
    assert Audience.objects.get(slug="shoppers").rule == {"tag": "s"}


@pytest.mark.parametrize(
    ("variants", "missing"),
    [
        ([{"template_slug": "welcome", "weight": 100}], "key"),
        ([{"key": "b", "weight": 100}], "template_slug"),
    ],
)
def test_broadcast_patch_with_an_incomplete_variant_is_a_400(api_client, world, variants, missing):
    r = api_client.patch(f"/api/broadcasts/{world['broadcast']}/", {"variants": variants}, format="json")
    assert r.status_code == 400, r.content
    assert missing in r.json()["variants"]["0"]
    assert list(Broadcast.objects.get().variants.values_list("key", flat=True)) == ["a"]


def test_broadcast_patch_with_whole_variants_replaces_them_through_the_service(api_client, world):
    variants = [{"key": "x", "template_slug": "welcome", "weight": 3}, {"key": "y", "template_slug": "w2"}]
    r = api_client.patch(
        f"/api/broadcasts/{world['broadcast']}/", {"variants": variants, "name": "June"}, format="json"
    )
    assert r.status_code == 200, r.content
    broadcast = Broadcast.objects.get()
    assert broadcast.name == "June"
    assert sorted(broadcast.variants.values_list("key", "weight")) == [("x", 3), ("y", 1)]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("patch", "/api/journeys/bad-input/", {"definition": {**DEFINITION, "name": "x\u0000"}}, "definition.name"),
        ("post", "/api/journeys/", {"definition": {**DEFINITION, "slug": "n\u0000"}}, "definition.slug"),
        ("post", "/api/journeys/bad-input/validate/", {"definition": {"stages": [{"key": "\u0000"}]}}, "definition.stages[0].key"),
        ("post", "/api/audiences/", {"slug": "a", "name": "A\u0000", "rule": {"tag": "x"}}, "name"),
        ("patch", "/api/audiences/shoppers/", {"rule": {"tag": "s\u0000"}}, "rule.tag"),
        ("post", "/api/sources/", {"name": "s\u0000"}, "name"),
        ("post", "/api/audiences/preview/", {"rule": {"tag\u0000": 1}}, "rule.tag\\u0000"),
    ],
)  # fmt: skip
def test_nul_in_a_json_body_is_a_400_naming_the_field(api_client, world, method, path, body, field):
    r = getattr(api_client, method)(path, body, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {field: [NUL_REASON]}


def test_nul_in_a_form_body_is_a_400_naming_the_field(api_client, world):
    r = api_client.patch("/api/audiences/shoppers/", {"name": "A\x00"}, format="multipart")
    assert r.status_code == 400 and r.json() == {"name": [NUL_REASON]}


def test_source_patch_rate_limit_beyond_the_column_is_a_400(api_client, world):
    r = api_client.patch(
        f"/api/sources/{world['source']}/", {"rate_limit_per_second": 2147483648}, format="json"
    )
    assert r.status_code == 400 and "rate_limit_per_second" in r.json()
    r = api_client.patch(
        f"/api/sources/{world['source']}/", {"rate_limit_per_second": 2147483647}, format="json"
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/journey-runs/?status=a%00", "status"),
        ("/api/journeys/bad-input/runs/?stage=%00", "stage"),
        ("/api/profiles/?email=a%00b", "email"),
        ("/api/events/?name=%00", "name"),
        ("/api/audiences/?x%00=1", "x\\u0000"),
    ],
)
def test_nul_in_a_query_parameter_is_a_400_naming_it(api_client, world, path, field):
    r = api_client.get(path)
    assert r.status_code == 400, r.content
    assert r.json() == {field: [NUL_REASON]}


@pytest.mark.parametrize(
    "path", ["/api/audiences/a%00b/", "/api/journeys/a%00b/", "/v1/projects/a%00b/settings"]
)
def test_nul_in_a_path_is_a_400(api_client, world, path):
    r = api_client.get(path)
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "application/json"
    assert "path: " + NUL_REASON in r.json().values()


def test_dry_run_of_a_draft_without_stages_says_no_stages(api_client, world):
    r = api_client.patch("/api/journeys/bad-input/", {"definition": {"name": "x"}}, format="json")
    assert r.status_code == 200, r.content
    r = api_client.get(f"/api/journeys/bad-input/dry-run/?profile_id={world['profile']}")
    assert r.status_code == 400, r.content
    assert {"path": "stages", "message": "must be a non-empty list of stages"} in r.json()["errors"]


def test_api_errors_are_json_everywhere(api_client, world, settings):
    r = api_client.get("/api/no-such-thing/")
    assert (r.status_code, r["Content-Type"]) == (404, "application/json")
    assert r.json() == {"detail": "not found: /api/no-such-thing/"}
    r = api_client.delete("/api/profiles/")
    assert r.status_code == 405 and r.json()["detail"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    r = api_client.patch("/api/audiences/shoppers/", {"name": "y" * 500}, format="multipart")
    assert (r.status_code, r["Content-Type"]) == (413, "application/json")


def test_json_nested_too_deep_for_the_parser_is_a_400(api_client, world):
    body = b'{"definition":' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = raw(api_client, "POST", "/api/journeys/bad-input/validate/", body)
    assert r.status_code == 400, r.content


def test_an_escaped_nul_in_a_form_field_read_as_json_is_a_400(api_client, world):
    """Schemathesis: multipart `definition={"r\\u0000": 1}` only becomes a NUL once the JSONField parses it."""
    r = api_client.patch("/api/journeys/bad-input/", {"definition": '{"r\\u0000": 1}'}, format="multipart")
    assert r.status_code == 400 and r.json() == {"definition": [NUL_REASON]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/profiles/", {"detail": "Internal Server Error"}),
        ("/v1/batch", {"success": False, "error": "Internal Server Error"}),
    ],
)
def test_a_server_error_page_under_the_machine_prefixes_is_json(rf, path, body):
    """Django's HTML 500 page (what handler500 gives after an unexpected exception) leaves as JSON."""
    from django.http import HttpResponseServerError

    from core.middleware import JsonErrorsMiddleware

    middleware = JsonErrorsMiddleware(lambda request: HttpResponseServerError("<h1>Server Error (500)</h1>"))
    response = middleware(rf.get(path))
    assert (response.status_code, response["Content-Type"]) == (500, "application/json")
    assert orjson.loads(response.content) == body
    html = JsonErrorsMiddleware(lambda request: HttpResponseServerError("<h1>x</h1>"))(rf.get("/admin/"))
    assert html["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/analytics/slots/?date_from=0001-01-01&date_to=0001-01-01", "date_from"),
        ("/api/analytics/acquisition/?start=0001-01-01&end=0001-01-01", "end"),
        ("/api/journeys/bad-input/dry-run/?profile_id=1&now=0001-01-01T00:00:00%2B14:00", "now"),
    ],
)
def test_dates_outside_what_reports_can_compute_are_a_400(api_client, world, path, field):
    """Schemathesis (coverage phase): year 1 in a report range was an OverflowError."""
    r = api_client.get(path)
    assert r.status_code == 400, r.content
    assert field in r.content.decode()
