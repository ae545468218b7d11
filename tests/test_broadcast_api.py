"""Broadcasts through the API: create with variants, schedule (400 with every field error), results."""

from datetime import UTC, datetime

import pytest

from audiences.models import Audience, AudienceMembership
from channels.models import Template
from journeys.testing import profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2039, 5, 2, 9, 0, tzinfo=UTC)


def test_create_schedule_send_and_read_results(api_client):
    audience = Audience.objects.create(slug="api-shoppers", name="Shoppers", rule={"tag": "s"})
    for _ in range(5):
        AudienceMembership.objects.create(audience=audience, profile=profile_add(), entered_at=T0)
    Template.objects.create(slug="api-a", name="A", channel="email")
    Template.objects.create(slug="api-b", name="B", channel="email")
    body = {
        "name": "May sale",
        "audience_slug": "api-shoppers",
        "channel": "email",
        "send_at": T0.isoformat(),
        "variants": [
            {"key": "a", "template_slug": "api-a", "weight": 1},
            {"key": "b", "template_slug": "api-b", "weight": 1},
        ],
    }
    r = api_client.post("/api/broadcasts/", body, format="json")
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    r = api_client.post(f"/api/broadcasts/{pk}/schedule/")
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    run_due(T0)
    results = api_client.get(f"/api/broadcasts/{pk}/results/").json()
    assert results["occurrence"] == 1
    assert sum(v["recipients"] for v in results["variants"]) == 5


def test_scheduling_an_incomplete_broadcast_names_every_field(api_client):
    r = api_client.post(
        "/api/broadcasts/",
        {"name": "x", "audience_slug": "nobody", "variants": [{"key": "a", "template_slug": "nope"}]},
        format="json",
    )
    pk = r.json()["id"]
    r = api_client.post(f"/api/broadcasts/{pk}/schedule/")
    assert r.status_code == 400
    assert {"audience_slug", "send_at", "variants[0].template_slug"} <= set(r.json())
    r = api_client.post("/api/broadcasts/", {"name": "x", "audience_slug": "a", "variants": [
        {"key": "a", "template_slug": "t"}, {"key": "a", "template_slug": "u"}]}, format="json")  # fmt: skip
    assert r.status_code == 400 and "variants" in r.json()
