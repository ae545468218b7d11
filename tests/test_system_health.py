"""Operators see trouble before users do: liveness, readiness, Prometheus figures and the admin's
System health page, each showing a processing lag when events stop being processed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from tests.browser import chromium_require, needs_chromium
from tracking.models import Event, Source
from tracking.roles import roles_sync

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "health"


def _stuck_event(source: Source, *, minutes: int) -> Event:
    """An event received `minutes` ago that nothing has processed: what a stopped processor leaves."""
    at = timezone.now() - timedelta(minutes=minutes)
    return Event.objects.create(
        source=source,
        message_id=f"m-{minutes}",
        type="track",
        name="Stuck",
        user_id="u",
        received_at=at,
        timestamp=at,
    )


@pytest.mark.django_db
def test_liveness_answers_without_touching_anything(client):
    r = client.get("/health/live")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_database_broker_and_migrations(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # check the real broker (the test Redis)
    r = client.get("/health/ready")
    assert r.status_code == 200, r.json()
    assert set(r.json()["checks"]) == {"database", "broker", "migrations"}
    assert all(c["ok"] for c in r.json()["checks"].values())


@pytest.mark.django_db
def test_readiness_is_503_naming_the_broker_when_it_is_down(client, settings):
    from celery import current_app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    before = current_app.conf.broker_url
    current_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        r = client.get("/health/ready")
    finally:
        current_app.conf.broker_url = before
    assert r.status_code == 503
    assert r.json()["checks"]["broker"]["ok"] is False
    assert r.json()["checks"]["database"]["ok"] is True


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


@pytest.mark.django_db
def test_metrics_show_the_processing_lag_and_the_web_side(client, source):
    assert _metric(client.get("/metrics").content.decode(), "voyage_events_pending") == 0
    _stuck_event(source, minutes=45)
    _stuck_event(source, minutes=5)
    text = client.get("/metrics").content.decode()
    assert _metric(text, "voyage_events_pending") == 2
    assert 45 * 60 - 5 < _metric(text, "voyage_events_pending_oldest_seconds") < 46 * 60
    for name in ("voyage_outbox_due", "voyage_journey_runs_overdue", "voyage_reports_fold_lag_seconds"):
        _metric(text, name)
    assert 'voyage_ready{check="database"} 1.0' in text
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus' own figures


@pytest.mark.django_db
def test_health_page_says_in_words_that_processing_is_stuck(admin_client, source):
    page = admin_client.get("/admin/system-health/")
    assert page.status_code == 200 and page.context["state"] == "ok"
    _stuck_event(source, minutes=45)
    page = admin_client.get("/admin/system-health/")
    assert page.context["state"] == "fail"
    assert "not yet resolved to profiles: how long the oldest has waited" in page.context["sentence"]
    assert b"Processing has stopped or is far behind" in page.content


@pytest.mark.django_db
def test_health_page_needs_staff(client):
    r = client.get("/admin/system-health/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


@needs_chromium
def test_operator_finds_system_health_from_the_admin_index_in_a_browser(
    live_server, transactional_db, monkeypatch
):
    from playwright.sync_api import sync_playwright

    roles_sync()
    user = User.objects.create_user("otto", "otto@example.com", "pw-operator-123", is_staff=True)
    user.groups.add(Group.objects.get(name="operator"))
    _stuck_event(Source.objects.create(name="web", write_key="wk_h"), minutes=45)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_require(), args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "otto")
        page.fill("#id_password", "pw-operator-123")
        page.click("input[type=submit]")
        page.get_by_role("link", name="System health").click()
        page.wait_for_url(f"{live_server.url}/admin/system-health/")
        verdict = page.locator("p.verdict")
        assert verdict.get_attribute("data-state") == "fail"
        assert "how long the oldest has waited" in verdict.inner_text()
        row = page.locator('tr[data-name="voyage_events_pending_oldest_seconds"]')
        assert "fail" in row.inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1400, width
        page.screenshot(path=str(ARTIFACTS / "system-health.png"), full_page=True)
        browser.close()
    assert problems == []


def test_check_deploy_passes_with_the_production_settings():
    import os
    import subprocess
    import sys

    from django.conf import settings

    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "a-production-secret-key-that-is-long-enough-0123456789",
        "ALLOWED_HOSTS": "voyage.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": settings.REDIS_URL,
    }
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout
