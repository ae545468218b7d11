"""The journeys API: CRUD, validate, publish, pause/resume, enroll, runs, dry run, and clear 4xx."""

from datetime import UTC, datetime, timedelta

import pytest

from journeys.models import Run
from journeys.testing import event_emit, profile_add

pytestmark = pytest.mark.django_db
T0 = datetime(2035, 3, 1, 9, 0, tzinfo=UTC)


def definition(**extra):
    return {
        "slug": "api-welcome",
        "name": "API welcome",
        "entry": {"event": "Signed Up"},
        "stages": [
            {"key": "hello", "actions": [{"tag": {"add": "hello"}}],
             "transitions": [{"to": "bought", "on_event": {"event": "Order Completed"}},
                             {"to": "bye", "after": {"days": 2}}]},
            {"key": "bought", "exit": True},
            {"key": "bye", "exit": True},
        ],
        **extra,
    }  # fmt: skip


def test_create_validate_publish_edit_and_pause_resume(api_client):
    bad = definition()
    bad["stages"][0]["transitions"][1]["to"] = "nowhere"
    r = api_client.post("/api/journeys/", {"definition": bad}, format="json")
    assert r.status_code == 201, r.content
    r = api_client.post("/api/journeys/api-welcome/validate/", {}, format="json")
    assert r.status_code == 200 and not r.json()["ok"]
    assert r.json()["errors"][0]["path"] == "stages[0].transitions[1].to"

    r = api_client.post("/api/journeys/api-welcome/publish/", {}, format="json")
    assert r.status_code == 400
    assert any(e["path"] == "stages[0].transitions[1].to" for e in r.json()["errors"])

    assert (
        api_client.patch(
            "/api/journeys/api-welcome/", {"definition": definition()}, format="json"
        ).status_code
        == 200
    )
    r = api_client.post("/api/journeys/api-welcome/publish/", {}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["live_version"]) == ("active", 1)

    # The published version is frozen: editing it is a conflict, not a silent change.
    r = api_client.put(
        "/api/journeys/api-welcome/versions/1/", {"definition": definition(name="x")}, format="json"
    )
    assert r.status_code == 409 and "frozen" in r.json()["detail"]
    # Editing the journey starts a new draft instead.
    r = api_client.patch(
        "/api/journeys/api-welcome/", {"definition": definition(name="Welcome v2")}, format="json"
    )
    assert r.status_code == 200 and r.json()["draft_version"] == 2

    assert api_client.post("/api/journeys/api-welcome/pause/").json()["status"] == "paused"
    assert api_client.post("/api/journeys/api-welcome/pause/").status_code == 409
    assert api_client.post("/api/journeys/api-welcome/resume/").json()["status"] == "active"


def test_enroll_runs_and_a_profiles_runs(api_client):
    api_client.post("/api/journeys/", {"definition": definition()}, format="json")
    api_client.post("/api/journeys/api-welcome/publish/", {}, format="json")
    p = profile_add()
    r = api_client.post("/api/journeys/api-welcome/enroll/", {"profile_id": p.pk, "key": "k1"}, format="json")
    assert r.status_code == 201 and r.json()["created"] == 1
    r = api_client.post("/api/journeys/api-welcome/enroll/", {"profile_id": p.pk, "key": "k1"}, format="json")
    assert r.status_code == 200 and r.json()["refused"] == {"duplicate entry": 1}
    r = api_client.post("/api/journeys/api-welcome/enroll/", {"profile_id": 987654321}, format="json")
    assert r.status_code == 404 and "profile_id" in r.json()
    r = api_client.post("/api/journeys/api-welcome/enroll/", {"profile_id": "abc"}, format="json")
    assert r.status_code == 400 and "profile_id" in r.json()

    runs = api_client.get("/api/journeys/api-welcome/runs/?status=active").json()
    assert runs["count"] == 1 and runs["results"][0]["profile_id"] == p.pk
    mine = api_client.get(f"/api/journey-runs/?profile_id={p.pk}").json()
    assert [r["journey"] for r in mine["results"]] == ["api-welcome"]
    assert api_client.get("/api/journey-runs/?profile_id=987654321").status_code == 404


def test_dry_run_replays_the_profiles_history_without_writing(api_client):
    api_client.post("/api/journeys/", {"definition": definition()}, format="json")
    api_client.post("/api/journeys/api-welcome/publish/", {}, format="json")
    Run.objects.all().delete()
    p = profile_add()
    # History from before: the journey was not there, so nothing was enrolled for real.
    from journeys.models import Journey

    Journey.objects.filter(slug="api-welcome").update(status="paused")
    event_emit(profile=p, name="Signed Up", at=T0)
    event_emit(profile=p, name="Order Completed", at=T0 + timedelta(days=1))
    r = api_client.get(
        f"/api/journeys/api-welcome/dry-run/?profile_id={p.pk}&now={(T0 + timedelta(days=5)).isoformat()}"
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert [s["stage"] for s in body["steps"]] == ["hello", "bought"]
    assert body["steps"][1]["reason"] == "event Order Completed"
    assert body["steps"][0]["actions"] == ["add tag 'hello'"]
    assert body["status"] == "completed"
    assert not Run.objects.exists()
    assert api_client.get("/api/journeys/api-welcome/dry-run/?profile_id=987654321").status_code == 404
    assert api_client.get("/api/journeys/api-welcome/dry-run/").status_code == 400


def test_bad_input_gets_clear_4xx(api_client):
    assert api_client.post("/api/journeys/", {"definition": "nope"}, format="json").status_code == 400
    assert api_client.post("/api/journeys/", {}, format="json").status_code == 400
    api_client.post("/api/journeys/", {"definition": definition()}, format="json")
    r = api_client.post("/api/journeys/", {"definition": definition()}, format="json")
    assert r.status_code == 400 and "slug" in r.json()
    assert api_client.get("/api/journeys/no-such/").status_code == 404
    r = api_client.post("/api/journeys/api-welcome/enroll/", {"profile_id": profile_add().pk}, format="json")
    assert r.status_code == 409  # a draft journey takes no entries


def test_the_journeys_api_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path in ("/api/journeys/", "/api/journeys/{slug}/publish/", "/api/journeys/{slug}/dry-run/",
                 "/api/journeys/{slug}/enroll/", "/api/journey-runs/", "/api/broadcasts/"):  # fmt: skip
        assert path in schema["paths"], path
