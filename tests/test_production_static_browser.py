"""Production as the README runs it: collectstatic, gunicorn, DEBUG off. An admin page and a report
page load their stylesheets and scripts (served by WhiteNoise under content-hashed names, compressed,
cached for a year) and the report charts draw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from journeys.reports import fold
from journeys.reports.testing import dataset_generate
from tests.browser import browser_session, gunicorn_production, needs_chromium, password_for_production
from tracking.roles import roles_sync

pytestmark = needs_chromium


@pytest.fixture
def people(transactional_db):
    roles_sync()
    ops = User.objects.create_superuser("ops", "ops@example.com", "pw-ops-12345")
    mara = User.objects.create_user("mara", "mara@example.com", "pw-marketer-123", is_staff=True)
    mara.groups.add(Group.objects.get(name="marketer"))
    password_for_production(ops, "pw-ops-12345")
    password_for_production(mara, "pw-marketer-123")


def test_admin_and_report_pages_load_their_css_and_js_under_gunicorn_with_debug_off(
    people, tmp_path, monkeypatch
):
    ds = dataset_generate(seed=5, profiles=30, start=datetime(2026, 5, 4, tzinfo=UTC))
    fold.rollups_fold_until_idle()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with gunicorn_production(
        database_name=connection.settings_dict["NAME"], static_root=tmp_path / "static"
    ) as base:
        for user, password, path, name in (
            ("ops", "pw-ops-12345", "/admin/", "admin-index"),
            ("mara", "pw-marketer-123", f"/reports/journey/{ds.journey.pk}/", "report-journey"),
        ):
            with browser_session(base, user, password, artifacts="production") as s:
                statics: list[tuple[str, int, str, str]] = []
                s.page.on(
                    "response",
                    lambda r, statics=statics: (
                        statics.append(
                            (
                                r.url,
                                r.status,
                                r.headers.get("content-type", ""),
                                r.headers.get("cache-control", ""),
                            )
                        )
                        if "/static/" in r.url
                        else None
                    ),
                )
                s.goto(path)
                s.page.wait_for_load_state("networkidle")
                s.shot(name)
                css = [x for x in statics if ".css" in x[0]]
                js = [x for x in statics if ".js" in x[0]]
                assert css and js, statics
                for url, status, ctype, cache in statics:
                    assert status == 200, (url, status)
                    assert not ctype.startswith("text/html"), (url, ctype)
                    # Hashed names (…/base.1a2b3c4d5e6f.css) are cached for a long time.
                    assert "max-age=315360000" in cache, (url, cache)
                # Every stylesheet was applied (a refused one has no rules).
                sheets = s.page.evaluate(
                    "() => [...document.styleSheets].filter(x => x.href).map(x => x.cssRules.length)"
                )
                assert sheets and all(n > 0 for n in sheets), sheets
                # The admin's own stylesheet styles the page: the header is not the browser default.
                header_bg = s.page.evaluate(
                    "getComputedStyle(document.querySelector('#header')).backgroundColor"
                )
                assert header_bg not in ("rgba(0, 0, 0, 0)", "transparent"), header_bg
                if name == "report-journey":
                    s.page.wait_for_function(
                        "() => [...document.querySelectorAll('canvas.report-chart')].every(c => c.dataset.drawn)"
                    )
                    assert s.page.evaluate("() => !!window.Chart")
                assert s.problems == [], s.problems
