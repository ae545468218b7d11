"""Operators build, validate, preview, export and upload audiences in the admin."""

import io
import json

import pytest

from audiences.models import Audience, AudienceKind, AudienceMembership
from audiences.services.membership import audience_refresh
from audiences.testing import profile_add
from tracking.models import ContactPoint, Identity

pytestmark = pytest.mark.django_db


def test_add_form_has_the_structured_editor_and_json_view(admin_client):
    r = admin_client.get("/admin/audiences/audience/add/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "audiences/rule_editor.js" in html and 'class="rule-editor"' in html
    assert "rule-vocabulary" in html and "/admin/audiences/audience/preview/" in html


def test_invalid_rules_show_every_error_inline_and_are_not_saved(admin_client):
    r = admin_client.post(
        "/admin/audiences/audience/add/",
        {
            "name": "Bad",
            "slug": "bad",
            "kind": "rule",
            "refresh_every_minutes": 60,
            "rule": json.dumps({"all": [{"trait": "x", "op": "nope"}, {"event": "x", "count": {"gte": -1}}]}),
        },
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert (
        "all[0].trait.op: unknown operator" in html
        and "all[1].event.count.gte: must be a non-negative integer" in html
    )
    assert not Audience.objects.exists()


def test_saving_a_valid_rule_creates_the_audience(admin_client, django_capture_on_commit_callbacks):
    profile_add(tags=["vip"])
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(
            "/admin/audiences/audience/add/",
            {
                "name": "VIP",
                "slug": "vip",
                "kind": "rule",
                "refresh_every_minutes": 60,
                "rule": '{"tag": "vip"}',
            },
        )
    assert r.status_code == 302
    assert Audience.objects.get(slug="vip").member_count == 1


def test_preview_endpoint_counts_samples_and_reports_errors_by_path(admin_client):
    p = profile_add(tags=["vip"], traits={"email": "v@example.com"})
    ContactPoint.objects.create(profile=p, channel="email", address="v@example.com")
    r = admin_client.post(
        "/admin/audiences/audience/preview/", {"rule": {"tag": "vip"}}, content_type="application/json"
    )
    body = r.json()
    assert body["count"] == 1 and body["sample"][0]["id"] == p.pk and body["reachable"]["email"] == 1
    r = admin_client.post(
        "/admin/audiences/audience/preview/", {"rule": {"all": [{"tag": 3}]}}, content_type="application/json"
    )
    assert r.status_code == 400 and r.json()["errors"][0]["path"] == "all[0].tag"


def test_change_page_shows_history_chart_and_export_streams_members(admin_client):
    p = profile_add(tags=["vip"], traits={"email": "v@example.com"})
    audience = Audience.objects.create(slug="vip", name="VIP", rule={"tag": "vip"})
    audience_refresh(audience_id=audience.pk)
    r = admin_client.get(f"/admin/audiences/audience/{audience.pk}/change/")
    assert (
        r.status_code == 200 and "<svg" in r.content.decode() and "Membership history" in r.content.decode()
    )
    r = admin_client.get(f"/admin/audiences/audience/{audience.pk}/export/")
    lines = b"".join(r.streaming_content).decode().splitlines()
    assert lines[0] == "profile_id,email,country,entered_at"
    assert lines[1].startswith(f"{p.pk},v@example.com,")


def test_upload_page_matches_a_csv_into_a_static_audience(admin_client):
    p = profile_add()
    Identity.objects.create(profile=p, kind="email", value="ana@example.com")
    audience = Audience.objects.create(slug="list", name="List", kind=AudienceKind.STATIC)
    f = io.BytesIO(b"ana@example.com\nbad\n")
    f.name = "list.csv"
    r = admin_client.post(f"/admin/audiences/audience/{audience.pk}/upload/", {"file": f, "id_kind": "email"})
    html = r.content.decode()
    assert r.status_code == 200 and "Match report" in html and "not a valid email address" in html
    assert AudienceMembership.objects.filter(audience=audience, profile=p).exists()


def test_refresh_action(admin_client):
    profile_add(tags=["vip"])
    audience = Audience.objects.create(slug="vip", name="VIP", rule={"tag": "vip"})
    r = admin_client.post(
        "/admin/audiences/audience/",
        {"action": "refresh_now", "_selected_action": [audience.pk]},
        follow=True,
    )
    assert "1 entered, 0 exited" in r.content.decode()
