"""The journey designer in the admin: save a draft, see errors inline and the diagram with live counts,
publish, pause, resume; runs with their stage history per profile; broadcasts with results."""

import json
import shutil
from datetime import UTC, datetime

import pytest

from journeys.models import Journey, Run
from journeys.testing import event_emit, profile_add, run_due

pytestmark = pytest.mark.django_db
T0 = datetime(2038, 1, 4, 9, 0, tzinfo=UTC)


def definition(**extra):
    return {
        "slug": "admin-journey",
        "name": "Admin journey",
        "entry": {"event": "Signed Up"},
        "stages": [
            {"key": "welcome", "actions": [{"tag": {"add": "hi"}}],
             "transitions": [{"to": "done", "after": {"days": 1}}]},
            {"key": "done", "exit": True},
        ],
        **extra,
    }  # fmt: skip


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_designer_saves_drafts_shows_errors_and_publishes(admin_client):
    bad = definition()
    bad["stages"][0]["transitions"][0]["to"] = "nowhere"
    r = admin_client.post("/admin/journeys/journey/add/", {"definition": json.dumps(bad)})
    assert r.status_code == 302, r.content.decode()[:2000]
    journey = Journey.objects.get(slug="admin-journey")
    page = admin_client.get(f"/admin/journeys/journey/{journey.pk}/change/").content.decode()
    assert "stages[0].transitions[0].to" in page and "unknown stage" in page
    assert 'id="journey-canvas"' in page and "journeys/canvas.js" in page

    r = admin_client.post(f"/admin/journeys/journey/{journey.pk}/publish/")
    journey.refresh_from_db()
    assert journey.status == "draft"  # refused: the draft is invalid

    admin_client.post(
        f"/admin/journeys/journey/{journey.pk}/change/", {"definition": json.dumps(definition())}
    )
    admin_client.post(f"/admin/journeys/journey/{journey.pk}/publish/")
    journey.refresh_from_db()
    assert (journey.status, journey.live_version.number) == ("active", 1)

    admin_client.post(f"/admin/journeys/journey/{journey.pk}/state/pause/")
    journey.refresh_from_db()
    assert journey.status == "paused"
    admin_client.post(f"/admin/journeys/journey/{journey.pk}/state/resume/")
    journey.refresh_from_db()
    assert journey.status == "active"


@pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz (apt-get install graphviz) is not installed"
)
def test_the_diagram_is_svg_with_live_counts_per_stage(admin_client):
    from journeys.testing import journey_live

    journey = journey_live(definition())
    profiles = [profile_add() for _ in range(3)]
    for p in profiles:
        event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    r = admin_client.get(f"/admin/journeys/journey/{journey.pk}/diagram.svg")
    assert r.status_code == 200 and r["Content-Type"] == "image/svg+xml"
    svg = r.content.decode()
    assert svg.startswith("<svg") and "welcome" in svg and "now 3 · visited 3" in svg
    assert "after 1 days" in svg
    page = admin_client.get(f"/admin/journeys/journey/{journey.pk}/change/")
    assert page.context["canvas"]["counts"]["welcome"] == {"now": 3, "visited": 3, "converted": 0}


def test_runs_of_a_profile_with_stage_history(admin_client):
    from journeys.testing import journey_live

    journey_live(definition())
    p = profile_add()
    event_emit(profile=p, name="Signed Up", at=T0)
    run_due(T0)
    r = admin_client.get(f"/admin/journeys/run/?profile__id__exact={p.pk}")
    assert r.status_code == 200 and "Admin journey" in r.content.decode()
    run = Run.objects.get(profile=p)
    page = admin_client.get(f"/admin/journeys/run/{run.pk}/change/").content.decode()
    assert "welcome" in page and "entered" in page


def test_broadcast_admin_pages_render(admin_client):
    assert admin_client.get("/admin/journeys/broadcast/add/").status_code == 200
    assert admin_client.get("/admin/journeys/broadcast/").status_code == 200
