"""Browser tests skip when Chromium is missing on a developer's machine, and fail in CI (CI=true),
where .ci/run installs it: a check that silently skipped there would be a check that never ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
A_BROWSER_TEST = """
from tests.browser import browser_session, needs_chromium

pytestmark = needs_chromium


def test_page():
    with browser_session("http://127.0.0.1:9", "u", "p", artifacts="never"):
        pass
"""


def run_pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_a_page.py").write_text(A_BROWSER_TEST)
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    environ.update(PYTHONPATH=str(ROOT), VOYAGE_CHROMIUM=str(tmp_path / "no-chromium-here"), **env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rsf",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:django",
            "test_a_page.py",
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_chromium_skips_locally(tmp_path):
    done = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "apt-get install chromium" in done.stdout


def test_a_missing_chromium_fails_in_ci(tmp_path):
    done = run_pytest(tmp_path, CI="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert "CI=true and" in done.stdout and "no-chromium-here is missing" in done.stdout
