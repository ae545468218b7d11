"""The demo's reports have figures: load_demo rebuilds the rollups last, on PostgreSQL and on SQLite
(`make demo`), and the pages answer with them."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from journeys.models import Journey
from journeys.reports import metrics
from journeys.reports.models import HourlyRollup

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def password_file(tmp_path, monkeypatch):
    path = tmp_path / "demo-password"
    monkeypatch.setenv("VOYAGE_DEMO_PASSWORD_FILE", str(path))
    return path


@pytest.mark.django_db
def test_load_demo_leaves_the_lifecycle_journey_with_report_figures(password_file):
    out = StringIO()
    call_command("load_demo", "--shoppers", "40", "--no-progress", stdout=out)
    assert "rollup rows rebuilt" in out.getvalue()
    journey = Journey.objects.get(slug="lifecycle")
    assert HourlyRollup.objects.filter(campaign_kind="journey", campaign_id=journey.pk).exists()
    q = dict(campaign=("journey", journey.pk), group_by=["stage"])
    rollups = metrics.report_rows(metrics.ReportQuery(**q))
    assert rollups == metrics.report_rows(metrics.ReportQuery(**q, source="raw"))
    # (Messages stay queued here: the test settings send tasks to Redis, which no worker reads.)
    assert sum(r["targeted"] for r in rollups) > 0 and sum(r["entered"] for r in rollups) > 0


# Run inside the SQLite demo: every page and CSV as the demo's marketer, and the rollups against
# the raw rows (both through the Python path, the only one SQLite has).
SQLITE_PROBE = """
import django
django.setup()
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from journeys.reports import metrics
from journeys.reports.models import HourlyRollup
assert connection.vendor == "sqlite"
client = Client()
client.force_login(User.objects.get(username="marketer"))
campaigns = sorted(set(HourlyRollup.objects.values_list("campaign_kind", "campaign_id")))
assert campaigns, "no campaign has report rollups"
pages = ["/reports/", "/reports/?tz=local&bucket=hour", "/reports/?export=campaigns",
         "/api/reports/campaigns/"]
for kind, cid in campaigns:
    for query in ("", "?tz=local&bucket=hour", "?tz=workspace&attribution=linear&metric=conversion",
                  "?export=stage", "?export=series"):
        pages.append(f"/reports/{kind}/{cid}/{query}")
    pages.append(f"/api/reports/campaigns/{kind}/{cid}/")
    for tz in ("utc", "local"):
        a = metrics.campaign_report(campaign=(kind, cid), tz=tz)
        b = metrics.campaign_report(campaign=(kind, cid), tz=tz, source="raw")
        assert a["total"] == b["total"] and a["tables"] == b["tables"] and a["series"] == b["series"], kind
    assert a["total"]["sent"] > 0, a["total"]
for page in pages:
    status = client.get(page).status_code
    assert status == 200, (page, status)
print("pages", len(pages))
"""


def test_the_sqlite_demo_has_reports_with_figures(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "VOYAGE_DEMO_PASSWORD_FILE": str(tmp_path / "password"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("REDIS_URL", None)  # as `make demo`: no services, tasks run in-process

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        return done.stdout

    run("manage.py", "migrate", "-v0")
    loaded = run("manage.py", "load_demo", "--shoppers", "40", "--no-progress")
    assert "rollup rows rebuilt" in loaded and "skipped" not in loaded
    assert "pages" in run("-c", SQLITE_PROBE)
