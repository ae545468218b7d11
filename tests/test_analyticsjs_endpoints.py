"""What analytics.js loads from its CDN, served by Voyage (settings, library, chunks), and CORS on /v1/*:
allowed origins per source, preflights answered or refused with a reason, credentials never allowed."""

from __future__ import annotations

import gzip

import orjson
import pytest
from django.conf import settings as django_settings
from django.test import Client

from tracking.models import Event, Source
from tracking.views_analyticsjs import _STATIC

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


@pytest.fixture
def web(db) -> Source:
    return Source.objects.create(name="shop-web", write_key="wk_shop_web_1", allowed_origins=[SHOP])


def _chunk_name() -> str:
    version = _STATIC / django_settings.TRACKING_ANALYTICS_JS_VERSION
    return next(p.name for p in version.iterdir() if ".bundle." in p.name)


# --- settings ------------------------------------------------------------------------------------


def test_settings_point_analytics_js_back_at_this_voyage_and_reveal_nothing_else(
    client: Client, web, settings
):
    settings.ALLOWED_HOSTS = ["voyage.example.com"]
    r = client.get(f"/v1/projects/{web.write_key}/settings", HTTP_HOST="voyage.example.com", secure=True)
    assert r.status_code == 200
    assert r["Content-Type"] == "application/json"
    assert r["Cache-Control"] == f"public, max-age={django_settings.TRACKING_SETTINGS_MAX_AGE}"
    body = orjson.loads(r.content)
    segment = body["integrations"]["Segment.io"]
    assert (segment["apiKey"], segment["apiHost"], segment["protocol"]) == (
        web.write_key,
        "voyage.example.com/v1",
        "https",
    )
    assert list(body["integrations"]) == ["Segment.io"]  # no device-mode destinations
    assert body["metrics"] == {"sampleRate": 0}  # the library reports nothing to Segment
    text = r.content.decode()
    assert "shop-web" not in text and SHOP not in text and "rate_limit" not in text


def test_settings_protocol_follows_the_request(client: Client, web):
    r = client.get(f"/v1/projects/{web.write_key}/settings")
    segment = orjson.loads(r.content)["integrations"]["Segment.io"]
    assert (segment["apiHost"], segment["protocol"]) == ("testserver/v1", "http")


@pytest.mark.parametrize("path", ["/v1/projects/{key}/settings", "/analytics.js/v1/{key}/analytics.min.js"])
def test_unknown_and_disabled_keys_get_404_that_is_not_cached(client: Client, web, path):
    r = client.get(path.format(key="wk_nobody_has_this"))
    assert r.status_code == 404
    assert r["Cache-Control"] == "no-store"
    assert orjson.loads(r.content)["error"] == "unknown or disabled write key"
    Source.objects.filter(pk=web.pk).update(enabled=False)
    from tracking import views_ingest

    views_ingest._SOURCE_CACHE.clear()
    assert client.get(path.format(key=web.write_key)).status_code == 404


def test_settings_answer_any_origin_like_a_cdn(client: Client, web):
    r = client.get(f"/v1/projects/{web.write_key}/settings", HTTP_ORIGIN="https://elsewhere.example")
    assert r["Access-Control-Allow-Origin"] == "https://elsewhere.example"
    assert "Access-Control-Allow-Credentials" not in r


# --- the library and its chunks --------------------------------------------------------------------


def test_library_is_the_vendored_bundle_with_the_write_key_embedded_and_cacheable(client: Client, web):
    r = client.get(f"/analytics.js/v1/{web.write_key}/analytics.min.js")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/javascript; charset=utf-8"
    assert r["Cache-Control"] == f"public, max-age={django_settings.TRACKING_ANALYTICS_JS_MAX_AGE}"
    assert r["ETag"] and "Accept-Encoding" in r["Vary"]
    body = r.content
    assert b'window.analyticsWriteKey="wk_shop_web_1"' in body
    vendored = (_STATIC / django_settings.TRACKING_ANALYTICS_JS_VERSION / "standalone.js").read_bytes()
    assert len(body) == len(vendored) + len("wk_shop_web_1") - len("__WRITE_KEY__")
    # Conditional and compressed answers.
    again = client.get(f"/analytics.js/v1/{web.write_key}/analytics.min.js", HTTP_IF_NONE_MATCH=r["ETag"])
    assert again.status_code == 304 and again["Cache-Control"] == r["Cache-Control"]
    zipped = client.get(f"/analytics.js/v1/{web.write_key}/analytics.min.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == body


def test_chunks_are_served_for_a_year_and_nothing_else_is(client: Client):
    name = _chunk_name()
    r = client.get(f"/analytics-next/bundles/{name}")
    assert r.status_code == 200
    assert r["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.content == (_STATIC / django_settings.TRACKING_ANALYTICS_JS_VERSION / name).read_bytes()
    for bad in ("standalone.js", "LICENSE.MD", "nothing.bundle.0123456789abcdef.js", "..%2F..%2Fmodels.py"):
        assert client.get(f"/analytics-next/bundles/{bad}").status_code == 404, bad


def test_the_licence_is_vendored_with_the_bundle():
    licence = (_STATIC / django_settings.TRACKING_ANALYTICS_JS_VERSION / "LICENSE.MD").read_text()
    assert "MIT License" in licence and "Segment" in licence


# --- CORS on the ingestion paths -------------------------------------------------------------------


def _preflight(client: Client, path: str, origin: str):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type",
    )


@pytest.mark.parametrize("path", ["/v1/t", "/v1/track", "/v1/batch", "/v1/b", "/v1/identify", "/v1/p"])
def test_preflight_from_an_allowed_origin_is_answered_with_what_the_sdks_send(client: Client, web, path):
    r = _preflight(client, path, SHOP)
    assert r.status_code == 200
    assert r["Access-Control-Allow-Origin"] == SHOP
    assert {"POST", "OPTIONS"} <= set(r["Access-Control-Allow-Methods"].split(", "))
    assert {"authorization", "content-type", "x-retry-count"} <= set(
        r["Access-Control-Allow-Headers"].split(", ")
    )
    assert r["Access-Control-Max-Age"] == "7200"
    assert "Access-Control-Allow-Credentials" not in r


def test_preflight_from_an_origin_no_source_allows_is_refused_with_how_to_allow_it(client: Client, web):
    r = _preflight(client, "/v1/t", "https://evil.example")
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r
    text = r.content.decode()
    assert "'https://evil.example'" in text and "allowed origins" in text and "admin" in text


def test_a_source_with_no_origins_accepts_no_browser(client: Client, db):
    Source.objects.create(name="no-browser", write_key="wk_no_browser_1")
    r = _preflight(client, "/v1/t", SHOP)
    assert r.status_code == 403


def test_post_from_an_origin_another_source_allows_is_refused_and_stores_nothing(client: Client, web):
    Source.objects.create(name="app", write_key="wk_app_only_1")  # allows no origin
    body = {"writeKey": "wk_app_only_1", "userId": "u1", "event": "Viewed"}
    r = client.post("/v1/track", orjson.dumps(body), content_type="text/plain", HTTP_ORIGIN=SHOP)
    assert r.status_code == 403
    error = orjson.loads(r.content)["error"]
    assert (
        "'https://shop.example.com' is not allowed for source 'app'" in error and "allowed origins" in error
    )
    # The browser may read the refusal (some source allows the origin), so the shop's developer sees why.
    assert r["Access-Control-Allow-Origin"] == SHOP
    assert not Event.objects.exists()


def test_post_from_the_allowed_origin_is_stored_and_readable_by_the_page(client: Client, web):
    body = {"writeKey": web.write_key, "userId": "u1", "event": "Viewed"}
    r = client.post("/v1/t", orjson.dumps(body), content_type="text/plain", HTTP_ORIGIN=SHOP)
    assert r.status_code == 200, r.content
    assert r["Access-Control-Allow-Origin"] == SHOP and "origin" in r["Vary"].lower()
    assert Event.objects.count() == 1


def test_servers_and_mobile_sdks_send_no_origin_and_are_unaffected(client: Client, db):
    Source.objects.create(name="server", write_key="wk_server_1")
    body = {"writeKey": "wk_server_1", "userId": "u1", "event": "Viewed"}
    r = client.post("/v1/track", orjson.dumps(body), content_type="application/json")
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r


def test_cors_stays_off_the_rest_of_the_site(client: Client, web):
    for path in ("/api/profiles/", "/admin/login/"):
        r = client.get(path, HTTP_ORIGIN=SHOP)
        assert "Access-Control-Allow-Origin" not in r, path
    assert _preflight(client, "/api/profiles/", SHOP).get("Access-Control-Allow-Origin") is None


# --- setting the origins -----------------------------------------------------------------------------


def test_api_normalises_origins_and_names_the_bad_item(api_client, web):
    r = api_client.patch(
        f"/api/sources/{web.pk}/",
        {"allowed_origins": ["HTTPS://Shop.Example.com:443/", "http://127.0.0.1:8012"]},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["allowed_origins"] == ["https://shop.example.com", "http://127.0.0.1:8012"]
    for bad, says in (
        (["https://shop.example.com/cart"], "item 1: 'https://shop.example.com/cart': an origin has no path"),
        (["ok.example.com"], "item 1: 'ok.example.com': an origin is scheme://host[:port]"),
        ([SHOP, "*"], "item 2: '*' is not allowed"),
    ):
        r = api_client.patch(f"/api/sources/{web.pk}/", {"allowed_origins": bad}, format="json")
        assert r.status_code == 400, bad
        assert any(m.startswith(says) for m in r.json()["allowed_origins"]), r.json()
    web.refresh_from_db()
    assert web.allowed_origins == ["https://shop.example.com", "http://127.0.0.1:8012"]
