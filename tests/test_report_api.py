"""The report figures through the API equal the pages' figures; bad options are 400s naming the option."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from journeys.reports import metrics
from journeys.reports.testing import dataset_generate
from tracking.roles import roles_sync


def client_for(user: User) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


@pytest.fixture
def marketer(db) -> APIClient:
    roles_sync()
    user = User.objects.create_user("m", "m@example.com", "pw-12345678")
    user.groups.add(Group.objects.get(name="marketer"))
    return client_for(user)


@pytest.mark.django_db
def test_campaign_report_through_the_api(marketer):
    ds = dataset_generate(seed=4, profiles=50, start=datetime(2026, 6, 1, tzinfo=UTC))
    r = marketer.get(
        f"/api/reports/campaigns/broadcast/{ds.broadcast.pk}/", {"tz": "local", "metric": "conversion"}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    raw = metrics.report_rows(metrics.ReportQuery(campaign=("broadcast", ds.broadcast.pk), source="raw"))[0]
    assert body["total"]["sent"] == raw["sent"] and body["total"]["opens_unique"] == raw["opens_unique"]
    assert body["total"]["conversions"] == raw["conv_last"]
    assert {v["variant"] for v in body["ab"]["variants"]} == {"A", "B"}
    assert body["ab"]["sentence"]
    assert [step for step, _ in body["funnel"]][0] == "Entered"
    listing = marketer.get("/api/reports/campaigns/").json()
    assert {(c["campaign_kind"], c["campaign_id"]) for c in listing["campaigns"]} >= {
        ("journey", ds.journey.pk),
        ("broadcast", ds.broadcast.pk),
    }


@pytest.mark.django_db
def test_bad_options_are_400_naming_the_option(marketer):
    ds = dataset_generate(seed=4, profiles=5, start=datetime(2026, 6, 1, tzinfo=UTC))
    url = f"/api/reports/campaigns/journey/{ds.journey.pk}/"
    for query, name in (({"tz": "mars"}, "tz"), ({"start": "yesterday"}, "start"), ({"level": "2"}, "level"),
                        ({"start": "2026-02-02", "end": "2026-01-01"}, "end"), ({"bucket": "week"}, "bucket")):  # fmt: skip
        r = marketer.get(url, query)
        assert r.status_code == 400 and r.json()["detail"].startswith(f"{name}:"), (query, r.content)
    assert marketer.get("/api/reports/campaigns/journey/999999/").status_code == 404
    assert marketer.get("/api/reports/campaigns/newsletter/1/").status_code == 404


@pytest.mark.django_db
def test_reports_need_the_view_reports_permission(client):
    user = User.objects.create_user("nobody", "n@example.com", "pw-12345678", is_staff=True)
    assert client_for(user).get("/api/reports/campaigns/").status_code == 403
    client.force_login(user)
    assert client.get("/reports/").status_code == 403
