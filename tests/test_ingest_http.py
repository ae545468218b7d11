"""The Segment-compatible endpoints: answers, limits, dedupe, gzip and bad input."""

import gzip

import orjson
import pytest

from tracking.models import Event
from tracking.processing import events_process_pending

pytestmark = pytest.mark.django_db


def post(client, path, body, auth=None, **extra):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.generic(
        "POST",
        path,
        data,
        content_type=extra.pop("content_type", "application/json"),
        **(auth or {}),
        **extra,
    )


def test_track_is_accepted_and_stored(client, basic_auth):
    r = post(
        client,
        "/v1/track",
        {"userId": "u1", "event": "Product Viewed", "properties": {"sku": "A"}},
        basic_auth,
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    event = Event.objects.get()
    assert (event.type, event.name, event.user_id, event.properties) == (
        "track",
        "Product Viewed",
        "u1",
        {"sku": "A"},
    )


def test_short_paths_and_write_key_in_body(client, source):
    r = post(client, "/v1/t", {"writeKey": source.write_key, "anonymousId": "a1", "event": "Signed Up"})
    assert r.status_code == 200
    r = post(client, "/v1/p", {"writeKey": source.write_key, "anonymousId": "a1", "name": "Home"})
    assert r.status_code == 200
    assert sorted(Event.objects.values_list("type", flat=True)) == ["page", "track"]


def test_text_plain_body_is_read_as_json(client, basic_auth):
    r = post(
        client,
        "/v1/identify",
        {"userId": "u1", "traits": {"plan": "pro"}},
        basic_auth,
        content_type="text/plain",
    )
    assert r.status_code == 200


def test_missing_and_unknown_write_key_get_401(client):
    assert post(client, "/v1/track", {"userId": "u", "event": "x"}).status_code == 401
    r = post(client, "/v1/track", {"userId": "u", "event": "x", "writeKey": "nope"})
    assert r.status_code == 401 and "unknown" in r.json()["error"]


def test_malformed_json_gets_400_naming_the_problem(client, basic_auth):
    r = post(client, "/v1/track", b'{"userId": "u1", "event": ', basic_auth)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/v1/track", {"event": "x"}, "userId or anonymousId"),
        ("/v1/track", {"userId": "u"}, "event:"),
        ("/v1/track", {"userId": {"a": 1}, "event": "x"}, "userId: must be a string or number"),
        ("/v1/track", {"userId": "u", "event": "x", "properties": [1]}, "properties: must be an object"),
        ("/v1/track", {"userId": "u", "event": "x", "timestamp": "yesterday"}, "timestamp:"),
        ("/v1/alias", {"userId": "u"}, "previousId and userId"),
        ("/v1/group", {"userId": "u"}, "groupId"),
    ],
)
def test_bad_single_messages_get_400_naming_the_field(client, basic_auth, path, body, expected):
    r = post(client, path, body, basic_auth)
    assert r.status_code == 400, r.content
    assert expected in r.json()["error"]
    assert Event.objects.count() == 0


def test_batch_keeps_valid_messages_and_reports_rejected_by_index(client, basic_auth):
    batch = [
        {"type": "track", "userId": "u1", "event": "A"},
        {"type": "launch", "userId": "u1"},
        {"type": "identify", "traits": {"x": 1}},
        {"type": "page", "anonymousId": "a1"},
    ]
    r = post(client, "/v1/batch", {"batch": batch}, basic_auth)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert [x["index"] for x in body["rejected"]] == [1, 2]
    assert "unknown message type 'launch'" in body["rejected"][0]["reason"]
    assert Event.objects.count() == 2


def test_batch_limits(client, basic_auth, settings):
    too_many = {"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501}
    r = post(client, "/v1/batch", too_many, basic_auth)
    assert r.status_code == 400 and "2501" in r.json()["error"]
    big = {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"p": "x" * 33_000}}]}
    r = post(client, "/v1/batch", big, basic_auth)
    assert r.status_code == 400 and "over the limit" in r.json()["rejected"][0]["reason"]
    huge = {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"p": "x" * 30_000}}] * 20}
    r = post(client, "/v1/batch", huge, basic_auth)
    assert r.status_code == 400 and "larger than" in r.json()["error"]


def test_gzip_body(client, basic_auth):
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "Zipped"}]}))
    r = post(client, "/v1/batch", body, basic_auth, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 200
    assert Event.objects.get().name == "Zipped"


def test_gzip_bomb_is_refused(client, basic_auth):
    body = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")
    r = post(client, "/v1/batch", body, basic_auth, HTTP_CONTENT_ENCODING="gzip")
    assert r.status_code == 400


def test_duplicate_message_ids_are_stored_once_across_retries(client, basic_auth):
    batch = {
        "batch": [{"type": "track", "userId": "u", "event": "e", "messageId": f"m{i}"} for i in range(3)]
    }
    assert post(client, "/v1/batch", batch, basic_auth).status_code == 200
    assert post(client, "/v1/batch", batch, basic_auth).status_code == 200
    single = {"userId": "u", "event": "e", "messageId": "m1"}
    assert post(client, "/v1/track", single, basic_auth).status_code == 200
    assert Event.objects.count() == 3


def test_clock_skew_is_corrected(client, basic_auth):
    # The device clock runs one hour fast: it says the event happened at 10:00 and was sent at 10:05.
    msg = {"userId": "u", "event": "e", "timestamp": "2026-01-01T10:00:00Z", "sentAt": "2026-01-01T10:05:00Z"}
    post(client, "/v1/track", msg, basic_auth)
    event = Event.objects.get()
    assert (event.received_at - event.timestamp).total_seconds() == pytest.approx(300, abs=0.001)


def test_batch_context_and_integrations_apply_to_every_item(client, basic_auth):
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "A", "context": {"locale": "de-DE"}},
            {"type": "track", "userId": "u", "event": "B"},
        ],
        "context": {"library": {"name": "analytics-python"}, "locale": "en-US"},
        "integrations": {"All": True},
    }
    post(client, "/v1/batch", body, basic_auth)
    a, b = Event.objects.order_by("name")
    assert a.context["locale"] == "de-DE" and b.context["locale"] == "en-US"
    assert a.context["library"]["name"] == "analytics-python"
    assert b.context["integrations"] == {"All": True}


def test_rate_limited_source_gets_429_with_retry_after(client, source, basic_auth):
    source.rate_limit_per_second = 3
    source.save()
    from tracking import views_ingest

    views_ingest._SOURCE_CACHE.clear()
    batch = {"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2}
    codes = [post(client, "/v1/batch", batch, basic_auth).status_code for _ in range(3)]
    assert 429 in codes
    r = post(client, "/v1/batch", batch, basic_auth)
    if r.status_code == 429:
        assert int(r["Retry-After"]) >= 1


def test_accepted_events_are_resolved_to_profiles(client, basic_auth):
    post(
        client,
        "/v1/identify",
        {"userId": "u1", "anonymousId": "a1", "traits": {"email": "A@Example.com"}},
        basic_auth,
    )
    post(client, "/v1/track", {"anonymousId": "a1", "event": "Viewed"}, basic_auth)
    events_process_pending()
    profiles = set(Event.objects.values_list("profile_id", flat=True))
    assert len(profiles) == 1 and None not in profiles
