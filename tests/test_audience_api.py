"""The audiences API: CRUD, preview without saving, members, memberships, refresh, schema."""

import pytest

from audiences.models import Audience, AudienceMembership
from audiences.testing import event_add, profile_add
from tracking.models import Consent, ContactPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoppers():
    a = profile_add(traits={"plan": "gold", "email": "a@example.com"}, tags=["vip"])
    b = profile_add(traits={"plan": "gold"}, tags=["vip"])
    c = profile_add(traits={"plan": "free"})
    ContactPoint.objects.create(profile=a, channel="email", address="a@example.com")
    ContactPoint.objects.create(profile=b, channel="email", address="b@example.com")
    ContactPoint.objects.create(profile=b, channel="sms", address="+4915112345678")
    Consent.objects.create(
        profile=b,
        channel="email",
        topic="marketing",
        status="withdrawn",
        changed_at="2025-01-01T00:00Z",
        method="form",
    )
    return a, b, c


def test_create_computes_membership_and_reads_back(api_client, shoppers, django_capture_on_commit_callbacks):
    a, b, _ = shoppers
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.post(
            "/api/audiences/",
            {"slug": "gold", "name": "Gold", "rule": {"trait": "plan", "op": "eq", "value": "gold"}},
            format="json",
        )
    assert r.status_code == 201, r.json()
    r = api_client.get("/api/audiences/gold/")
    assert r.json()["member_count"] == 2
    members = api_client.get("/api/audiences/gold/members/").json()
    assert {m["profile_id"] for m in members["results"]} == {a.pk, b.pk}
    assert members["count"] == 2


def test_invalid_rule_is_400_with_every_error_by_path(api_client):
    r = api_client.post(
        "/api/audiences/",
        {
            "slug": "bad",
            "name": "Bad",
            "rule": {
                "all": [{"trait": "x", "op": "equals", "value": 1}, {"event": "Order", "count": {"gte": -1}}]
            },
        },
        format="json",
    )
    assert r.status_code == 400
    assert [e["path"] for e in r.json()["errors"]] == ["all[0].trait.op", "all[1].event.count.gte"]
    assert not Audience.objects.exists()


def test_update_and_delete(api_client, shoppers, django_capture_on_commit_callbacks):
    Audience.objects.create(slug="vip", name="VIP", rule={"tag": "vip"})
    Audience.objects.create(
        slug="vip-gold",
        name="VIP gold",
        rule={"all": [{"audience": "vip"}, {"trait": "plan", "op": "eq", "value": "gold"}]},
    )
    r = api_client.patch("/api/audiences/vip/", {"rule": {"audience": "vip-gold"}}, format="json")
    assert r.status_code == 400 and "cycle" in r.json()["errors"][0]["message"]
    with django_capture_on_commit_callbacks(execute=True):
        r = api_client.patch(
            "/api/audiences/vip/", {"rule": {"trait": "plan", "op": "eq", "value": "free"}}, format="json"
        )
    assert r.status_code == 200 and r.json()["member_count"] == 0  # the refresh runs after commit
    assert Audience.objects.get(slug="vip").member_count == 1
    r = api_client.delete("/api/audiences/vip/")
    assert r.status_code == 400 and "still used by: vip-gold" in r.json()["errors"][0]["message"]
    assert api_client.delete("/api/audiences/vip-gold/").status_code == 204


def test_preview_counts_samples_and_reach_without_saving(api_client, shoppers):
    a, b, c = shoppers
    r = api_client.post("/api/audiences/preview/", {"rule": {"tag": "vip"}}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    assert {s["id"] for s in body["sample"]} == {a.pk, b.pk}
    # b withdrew email consent; only b has an SMS contact point.
    assert (
        body["reachable"]["email"] == 1 and body["reachable"]["sms"] == 1 and body["reachable"]["push"] == 0
    )
    assert not Audience.objects.exists()
    bad = api_client.post("/api/audiences/preview/", {"rule": {"tag": ""}}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "tag"


def test_refresh_now_and_profile_memberships(api_client, shoppers):
    a, b, c = shoppers
    Audience.objects.create(slug="free", name="Free", rule={"trait": "plan", "op": "eq", "value": "free"})
    event_add(profile=c, name="Order Completed")
    r = api_client.post("/api/audiences/free/refresh/")
    assert r.status_code == 200 and r.json()["entered"] == 1 and r.json()["members"] == 1
    r = api_client.get(f"/api/profiles/{c.pk}/audiences/")
    assert [m["audience"] for m in r.json()["results"]] == ["free"]
    AudienceMembership.objects.update(exited_at="2025-01-01T00:00Z")
    assert api_client.get(f"/api/profiles/{c.pk}/audiences/").json()["results"] == []
    history = api_client.get(f"/api/profiles/{c.pk}/audiences/?history=1").json()["results"]
    assert history[0]["exited_at"].startswith("2025-01-01")


def test_api_needs_permissions(client, shoppers):
    assert client.get("/api/audiences/").status_code in (401, 403)


def test_schema_describes_the_audience_endpoints_with_examples(api_client):
    r = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    schema = r.json()
    for path in (
        "/api/audiences/",
        "/api/audiences/preview/",
        "/api/audiences/{slug}/members/",
        "/api/audiences/{slug}/refresh/",
        "/api/audiences/{slug}/upload/",
        "/api/profiles/{profile_id}/audiences/",
    ):
        assert path in schema["paths"], path
    create = schema["paths"]["/api/audiences/"]["post"]
    assert "examples" in create["requestBody"]["content"]["application/json"]
