"""The behaviour pages and API on the demo store: figures that tell its story, CSV of every table,
saved analyses that reopen, the OpenAPI schema, and who may see what."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tracking.analytics.models import SavedAnalysis
from tracking.roles import roles_sync

pytestmark = pytest.mark.django_db
PAGES = ["funnels", "retention", "search", "slots", "affinity", "new-products"]


@pytest.fixture
def demo(db, tmp_path, monkeypatch):
    """A small demo store (inside the test's transaction, so nothing outlives the test)."""
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(tmp_path / "pw"))
    call_command("load_demo", "--shoppers", "150", "--no-progress", stdout=StringIO())


@pytest.fixture
def marketer(demo) -> Client:
    roles_sync()
    user, _ = User.objects.get_or_create(username="mara-analytics", defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name="marketer")])
    client = Client()
    client.force_login(user)
    return client


def _range(days: int = 119) -> dict[str, str]:
    today = date.today()
    return {"date_from": (today - timedelta(days=days)).isoformat(), "date_to": today.isoformat()}


def test_pages_open_and_tell_the_demo_store_story(marketer):
    for page in PAGES:
        response = marketer.get(f"/analytics/{page}/")
        assert response.status_code == 200, (page, response.content[:500])
        assert b"behaviour-charts" in response.content
    response = marketer.get("/analytics/search/", _range())
    result = response.context["result"]
    zero = result["zero_result_keywords"]
    assert zero[0]["keyword"] == "oat milk" and zero[0]["zero_results"] == zero[0]["searches"] >= 10
    oat = next(r for r in result["keywords"] if r["keyword"] == "oat milk")
    assert "zero_results" in oat["flags"] and oat["zero_result_rate"] == 1.0
    keywords = {r["keyword"] for r in result["keywords"]}
    # Case and spaces are normalised and the synonym list applies: no "Decaf", no "coldbrew".
    assert "decaf" in keywords and "Decaf" not in keywords and " decaf " not in keywords
    assert "coldbrew" not in keywords and "cold brew" in keywords
    sampler = next(r for r in result["keywords"] if r["keyword"] == "tea sampler")
    assert sampler["average_position"] is not None and sampler["average_position"] > 3
    assert "Unmet demand" in response.content.decode()
    slots = marketer.get("/analytics/slots/", _range()).context["result"]["slots"]
    heroes = {r["creative"]: r for r in slots if r["position"] == "home_hero"}
    assert set(heroes) == {"hero_spring_v1", "hero_matcha_v2"}
    assert all(r["impressions"] > r["clicks"] > 0 for r in heroes.values())
    assert all(r["click_penetration"] <= 1 for r in slots)
    new = marketer.get("/analytics/new-products/", _range(27)).context["result"]
    by_id = {r["product_id"]: r for r in new["products"]}
    # (Amazon's ASINs are other product ids; some are first seen in the window too.)
    assert {"prod_701", "prod_702"} <= set(by_id)
    assert by_id["prod_701"]["trend"] == "rising" and by_id["prod_702"]["trend"] == "stalling"
    pairs = marketer.get(
        "/analytics/affinity/", {**_range(), "level": "category", "min_support": "1"}
    ).context["result"]
    assert pairs["repurchase"]


def test_funnel_page_builds_from_the_form_exports_csv_rejects_nonsense_and_saves(marketer):
    query = {
        "step": ["Product Viewed", "Product Added", "Order Completed", ""],
        "prop": ["", "", "", ""],
        "op": ["eq"] * 4,
        "value": [""] * 4,
        "window": "7",
        "window_unit": "day",
        "order": "sequential",
        "bd_kind": ["country", "", ""],
        "bd_key": ["", "", ""],
        "tz": "local",
        **_range(),
    }
    response = marketer.get("/analytics/funnels/", query)
    result = response.context["result"]
    assert [s["event"] for s in result["steps"]] == ["Product Viewed", "Product Added", "Order Completed"]
    assert result["steps"][0]["count"] > result["steps"][1]["count"] > result["steps"][2]["count"] > 0
    assert {g["values"][0] for g in result["breakdown"]} >= {"US", "DE"}
    assert "window 7 days," in response.content.decode()  # as it was set, not 10080 min
    # Marketers may not add audiences, so they are not offered the link.
    assert b'class="make-audience"' not in response.content
    exported = marketer.get("/analytics/funnels/", {**query, "export": "steps"})
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][:3] == ["step", "event", "count"] and [int(r[2]) for r in rows[1:]] == [
        s["count"] for s in result["steps"]
    ]
    for table in ("daily", "time_to_convert", "breakdown"):
        assert marketer.get("/analytics/funnels/", {**query, "export": table}).status_code == 200
    response = marketer.get(
        "/analytics/funnels/",
        {
            "step": ["A"],
            "window": "x",
            "window_unit": "day",
            "date_from": "2026-13-01",
            "date_to": "2026-01-01",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "steps" in body and "window_minutes" in body and "date_from" in body

    definition = {
        "start": {"event": "Order Completed"},
        "return": {"event": "Order Completed"},
        "mode": "recurring",
        "period": "month",
        "periods": 4,
        **_range(),
    }
    response = marketer.post(
        "/analytics/saved/",
        {"kind": "retention", "name": "Monthly buyers", "definition": json.dumps(definition)},
    )
    saved = SavedAnalysis.objects.get(name="Monthly buyers")
    assert response["Location"] == f"/analytics/saved/{saved.pk}/"
    reopened = marketer.get(response["Location"], follow=True)
    assert reopened.context["raw"] == definition
    assert reopened.context["result"]["period"] == "month"
    assert b"Monthly buyers" in reopened.content
    # Marketers without the permission see nothing: a plain staff user gets 403.
    plain = User.objects.create_user("plain-staff", is_staff=True)
    other = Client()
    other.force_login(plain)
    assert other.get("/analytics/funnels/").status_code == 403


def test_api_endpoints_and_schema(demo):
    roles_sync()
    user, _ = User.objects.get_or_create(username="api-marketer", defaults={"is_staff": True})
    user.groups.set([Group.objects.get(name="marketer")])
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    funnel = api.post(
        "/api/analytics/funnels/",
        {
            "steps": [{"event": "Product Viewed"}, {"event": "Order Completed"}],
            "window_minutes": 1440,
            **_range(),
        },
        format="json",
    )
    assert funnel.status_code == 200 and funnel.json()["steps"][0]["count"] > 0
    bad = api.post("/api/analytics/funnels/", {"steps": [], "window_minutes": 0}, format="json")
    assert bad.status_code == 400 and {e["path"] for e in bad.json()["errors"]} >= {"steps", "window_minutes"}
    for path in ("search-keywords", "slots", "affinity", "new-products"):
        response = api.get(f"/api/analytics/{path}/", _range())
        assert response.status_code == 200, (path, response.content[:300])
    created = api.post(
        "/api/analytics/saved-analyses/",
        {"kind": "search", "name": "Last 4 months", "definition": _range()},
        format="json",
    )
    assert created.status_code == 201, created.content
    invalid = api.post(
        "/api/analytics/saved-analyses/",
        {"kind": "funnel", "name": "x", "definition": {"steps": []}},
        format="json",
    )
    assert invalid.status_code == 400 and "definition" in invalid.json()
    schema = api.get("/api/schema/").content.decode()
    for path in ("/api/analytics/funnels/", "/api/analytics/retention/", "/api/analytics/saved-analyses/"):
        assert path in schema
    nobody = APIClient()
    assert nobody.post("/api/analytics/funnels/", {}, format="json").status_code in (401, 403)
