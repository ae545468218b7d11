"""Web and worker processes do not pay for scipy at startup: it is imported when a test is computed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # imports every view module, the report pages and API included
import journeys.reports.api, journeys.reports.views, journeys.reports.tasks
loaded = sorted(m for m in ("scipy", "statsmodels") if m in sys.modules)
print("loaded:", ",".join(loaded))
from journeys.reports.stats import wilson
wilson(5, 10)
print("after use:", "scipy" in sys.modules)
"""


def test_scipy_is_imported_on_first_use_not_at_startup():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "loaded: \n" in out.stdout
    assert "after use: True" in out.stdout
