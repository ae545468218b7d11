"""Sources through the management API: create (key shown), read, change, rotate; errors by field."""

from __future__ import annotations

import pytest

from tests.tracking_helpers import role_user, token_client
from tracking.models import Source

pytestmark = pytest.mark.django_db


def test_create_generates_and_shows_the_write_key_which_then_ingests(api_client, client):
    r = api_client.post("/api/sources/", {"name": "storefront", "rate_limit_per_second": 50}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    source = Source.objects.get(name="storefront")
    assert body["write_key"] == source.write_key and len(body["write_key"]) >= 20
    assert body["rate_limit_per_second"] == 50 and body["enabled"] is True
    sent = client.post(
        "/v1/track",
        {"writeKey": body["write_key"], "userId": "u1", "event": "Signed Up"},
        content_type="application/json",
    )
    assert sent.status_code == 200


def test_create_with_a_chosen_write_key(api_client):
    r = api_client.post("/api/sources/", {"name": "ios", "write_key": "wk_ios_existing_sdk"}, format="json")
    assert r.status_code == 201
    assert Source.objects.get(name="ios").write_key == "wk_ios_existing_sdk"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "web"}, "name"),
        ({"name": "x", "write_key": "wk_test_web"}, "write_key"),
        ({"name": "x", "write_key": "short"}, "write_key"),
        ({"name": "x", "write_key": "has spaces in it"}, "write_key"),
        ({"name": "x", "rate_limit_per_second": 0}, "rate_limit_per_second"),
        ({"name": "x", "rate_limit_per_second": "fast"}, "rate_limit_per_second"),
        ({}, "name"),
        ({"name": "   "}, "name"),
    ],
)
def test_bad_source_input_is_400_naming_the_field(api_client, source, payload, field):
    r = api_client.post("/api/sources/", payload, format="json")
    assert r.status_code == 400
    assert field in r.json()
    assert Source.objects.count() == 1


def test_detail_shows_the_key_the_list_does_not(api_client, source):
    listed = api_client.get("/api/sources/").json()["results"]
    assert [s["name"] for s in listed] == ["web"] and "write_key" not in listed[0]
    assert api_client.get(f"/api/sources/{source.pk}/").json()["write_key"] == "wk_test_web"


def test_update_changes_rate_limit_and_enabled_but_never_the_key(api_client, source):
    url = f"/api/sources/{source.pk}/"
    r = api_client.patch(url, {"rate_limit_per_second": 200, "write_key": "wk_changed_123"}, format="json")
    assert r.status_code == 200 and r.json()["rate_limit_per_second"] == 200
    r = api_client.put(
        url, {"name": "web-shop", "enabled": False, "rate_limit_per_second": None}, format="json"
    )
    assert r.status_code == 200
    source.refresh_from_db()
    assert (source.name, source.enabled, source.rate_limit_per_second, source.write_key) == (
        "web-shop",
        False,
        None,
        "wk_test_web",
    )


def test_rename_onto_an_existing_name_is_400(api_client, source):
    other = Source.objects.create(name="app", write_key="wk_app_1234")
    r = api_client.patch(f"/api/sources/{other.pk}/", {"name": "web"}, format="json")
    assert r.status_code == 400 and "name" in r.json()


def test_rotate_write_key_replaces_it(api_client, source):
    r = api_client.post(f"/api/sources/{source.pk}/rotate-write-key/")
    assert r.status_code == 200
    source.refresh_from_db()
    assert source.write_key == r.json()["write_key"] != "wk_test_web"


def test_marketer_reads_sources_but_cannot_create_or_change(source):
    marketer = token_client(role_user("marketer"))
    assert marketer.get(f"/api/sources/{source.pk}/").status_code == 200
    assert marketer.post("/api/sources/", {"name": "x"}, format="json").status_code == 403
    assert marketer.patch(f"/api/sources/{source.pk}/", {"enabled": False}, format="json").status_code == 403
    assert marketer.post(f"/api/sources/{source.pk}/rotate-write-key/").status_code == 403
    assert marketer.delete(f"/api/sources/{source.pk}/").status_code in (403, 405)
    source.refresh_from_db()
    assert source.enabled and source.write_key == "wk_test_web"


def test_api_tokens_never_appear_in_source_answers(api_client, source):
    from rest_framework.authtoken.models import Token

    body = api_client.get(f"/api/sources/{source.pk}/").content.decode()
    assert all(token.key not in body for token in Token.objects.all())
