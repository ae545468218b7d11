"""Hostile and broken input to the Segment-compatible endpoints gets a clear 400 naming the field (issue 11).

Each case once answered 500 (or 200 and then stopped event processing); one bad message in a batch
no longer fails its neighbours, and every answer under /v1/ is JSON.
"""

from __future__ import annotations

import base64

import orjson
import pytest

from tracking.models import Event
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db


def post(client, path, body, auth=None, **extra):
    data = body if isinstance(body, bytes) else encode(body)
    return client.generic(
        "POST",
        path,
        data,
        content_type=extra.pop("content_type", "application/json"),
        **(auth or {}),
        **extra,
    )


def nested(depth: int) -> str:
    """A marker that encode() replaces with an object nested `depth` levels deep (no encoder writes it)."""
    return f"__nested_{depth}__"


def encode(body) -> bytes:
    data = orjson.dumps(body)
    for depth in (300, 1000):
        data = data.replace(f'"{nested(depth)}"'.encode(), b'{"a":' * depth + b"1" + b"}" * depth)
    return data


GOOD = {"type": "track", "userId": "u1", "event": "Good", "timestamp": "2024-05-01T10:00:00Z"}

# (message, the field its error must name)
BAD_MESSAGES = [
    pytest.param({"type": {}, "userId": "u", "event": "E"}, "type", id="type-object"),
    pytest.param({"type": [], "userId": "u", "event": "E"}, "type", id="type-list"),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "timestamp": "0001-01-01T00:00:00+14:00"},
        "timestamp",
        id="timestamp-1-BC-in-UTC",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "timestamp": "9999-12-31T23:59:00-14:00"},
        "timestamp",
        id="timestamp-year-10000-in-UTC",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"},
        "timestamp",
        id="timestamp-0001-sentAt-9999-overflow",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "originalTimestamp": "1900-01-01T00:00:00Z"},
        "timestamp",
        id="timestamp-before-1970",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "timestamp": "2024-01-01T00:00:00Z", "sentAt": "2199-01-01T00:00:00Z"},
        "sentAt",
        id="absurd-skew-correction",
    ),
    pytest.param(
        {"type": "track", "userId": "u", "event": "E", "sentAt": "0001-01-01T00:00:00+14:00"},
        "sentAt",
        id="sentAt-out-of-range",
    ),
    pytest.param({"type": "track", "userId": "u", "event": "E", "properties": {"x": "a\u0000b"}}, "properties.x", id="nul-in-property"),
    pytest.param({"type": "track", "userId": "u", "event": "E\u0000"}, "event", id="nul-in-event-name"),
    pytest.param({"type": "track", "userId": "u", "event": "E", "properties": {"k\u0000": 1}}, "properties.k", id="nul-in-key"),
    pytest.param({"type": "track", "userId": "u", "event": "E", "properties": nested(300)}, "message", id="nested-300"),
    pytest.param({"type": "track", "userId": "u", "event": "E", "properties": nested(1000)}, "message", id="nested-1000"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "field"), BAD_MESSAGES)
def test_a_bad_message_is_refused_with_400_naming_the_field(client, basic_auth, message, field):
    r = post(client, "/v1/track", message, basic_auth)
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "application/json"
    assert r.json()["error"].startswith(field), r.json()
    assert Event.objects.count() == 0


@pytest.mark.parametrize(("message", "field"), BAD_MESSAGES)
def test_one_bad_message_does_not_fail_its_batch(client, basic_auth, message, field):
    r = post(client, "/v1/batch", {"batch": [GOOD, message, {**GOOD, "event": "Also good"}]}, basic_auth)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["success"] is True
    assert [x["index"] for x in body["rejected"]] == [1]
    assert body["rejected"][0]["reason"].startswith(field), body
    assert sorted(Event.objects.values_list("name", flat=True)) == ["Also good", "Good"]
    # Nothing stored can stop processing.
    events_process_pending()
    assert Event.objects.filter(processed_at__isnull=True).count() == 0


def test_timestamps_inside_the_window_are_kept_with_their_offset(client, basic_auth):
    r = post(client, "/v1/track", {**GOOD, "timestamp": "1970-01-01T00:00:00+00:00"}, basic_auth)
    assert r.status_code == 200
    r = post(
        client, "/v1/track", {**GOOD, "messageId": "m2", "timestamp": "2199-12-31T10:00:00-05:00"}, basic_auth
    )
    assert r.status_code == 200
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    ("auth", "body", "field"),
    [
        pytest.param({"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"wk\x00x:").decode()}, GOOD, "Authorization", id="basic-auth"),
        pytest.param({}, {**GOOD, "writeKey": "wk_test_web\u0000"}, "writeKey", id="body-write-key"),
    ],
)  # fmt: skip
def test_nul_in_the_write_key_is_a_400(client, source, auth, body, field):
    r = post(client, "/v1/track", body, auth)
    assert r.status_code == 400, r.content
    assert r.json() == {
        "success": False,
        "error": f"{field}: contains a NUL character (\\u0000), which cannot be stored",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch": [GOOD], "context": {"ip": "1\u0000"}}, "context.ip"),
        ({"batch": [GOOD], "integrations": nested(300)}, "integrations"),
        ({"batch": [GOOD], "context": "x"}, "context"),
    ],
)
def test_bad_batch_level_fields_are_a_400(client, basic_auth, body, field):
    r = post(client, "/v1/batch", body, basic_auth)
    assert r.status_code == 400
    assert r.json()["error"].startswith(field)
    assert Event.objects.count() == 0


def test_json_nested_beyond_the_parser_is_a_400(client, basic_auth):
    raw = b'{"userId":"u","event":"E","properties":' + b"[" * 2000 + b"]" * 2000 + b"}"
    r = post(client, "/v1/track", raw, basic_auth)
    assert r.status_code == 400 and r.json()["success"] is False


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/track/extra", "/v1/"])
def test_unknown_ingestion_paths_answer_json(client, basic_auth, path):
    r = post(client, path, GOOD, basic_auth)
    assert r.status_code == 404
    assert r["Content-Type"] == "application/json"
    assert r.json()["success"] is False


def test_a_body_over_djangos_limit_answers_json(client, basic_auth, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.TRACKING_MAX_BATCH_BYTES = 100_000
    r = post(client, "/v1/batch", {"batch": [{**GOOD, "properties": {"x": "y" * 5000}}]}, basic_auth)
    assert r.status_code == 400
    assert r.json() == {"success": False, "error": "body: larger than 100000 bytes"}


def test_get_on_an_ingestion_path_answers_json(client):
    r = client.get("/v1/track")
    assert r.status_code == 405 and r.json()["success"] is False


def test_a_json_404_keeps_the_original_headers(rf):
    from django.http import HttpResponseNotFound

    from core.middleware import JsonErrorsMiddleware

    def page(request):
        response = HttpResponseNotFound("<h1>Not Found</h1>")
        response["Access-Control-Allow-Origin"] = "https://shop.example"
        return response

    response = JsonErrorsMiddleware(page)(rf.post("/v1/nope"))
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
