"""Shared pieces of the browser tests: headless Debian Chromium, logging in, collecting JS errors,
screenshots under test-artifacts/, and a gunicorn server run as production runs (DEBUG off,
collected static files served by WhiteNoise)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Debian's chromium; VOYAGE_CHROMIUM points elsewhere (another distribution, or a test of a missing one).
CHROMIUM = os.environ.get("VOYAGE_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


# Locally a missing browser skips; in CI (CI=true, as .ci/run sets) it fails: .ci/run installs it, so a
# browser test that silently skipped there would be a check that never ran.
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM) and not in_ci(),
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def chromium_require() -> str:
    """The browser's path; in CI a missing one fails the test with the command that installs it."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"CI=true and {CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
    return CHROMIUM


@dataclass
class Session:
    """One logged-in browser page and the JS errors it has seen."""

    page: object
    base: str
    artifacts: Path
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        assert response is not None and response.status < 400, (path, response and response.status)
        return response

    def submit(self, selector: str) -> None:
        """Click something that loads a new page, and wait for that page (not the old one's DOM)."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def shot(self, name: str) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def browser_session(
    base: str, username: str, password: str, *, artifacts: str, width: int = 1400
) -> Iterator[Session]:
    """Chromium logged in to the admin at `base`; JS console errors and page errors are collected."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_require(), args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": 1000})
        session = Session(page=page, base=base, artifacts=ARTIFACTS / artifacts)
        page.on(
            "console",
            lambda m: session.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: session.problems.append(f"page error: {e}"))
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        try:
            page.wait_for_url(f"{base}/admin/", timeout=15000)
        except Exception:
            session.shot("login-failed")
            raise AssertionError(f"login as {username} failed: {page.inner_text('body')[:500]}")
        try:
            yield session
        finally:
            browser.close()


@contextmanager
def gunicorn_production(*, database_name: str, static_root: Path) -> Iterator[str]:
    """`collectstatic` then gunicorn with config.settings.production and DEBUG off, as the README's
    "Running it for real" does; yields the base URL. The test database's rows are committed
    (transactional tests), so the server process sees them."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{database_name}",
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(static_root),
        # Plain http on loopback: the secure-cookie defaults are for the real (https) deployment.
        "SESSION_COOKIE_SECURE": "False",
        "SECURE_SSL_REDIRECT": "False",
        "CSRF_COOKIE_SECURE": "False",
        "CELERY_TASK_ALWAYS_EAGER": "True",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    log = static_root.parent / "gunicorn.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "config.wsgi", "-w", "1", "-b", "127.0.0.1:0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # gunicorn binds port 0 and logs the port it got; wait for that line (or its exit).
        deadline = time.monotonic() + 120
        while True:
            match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text())
            if match and "Booting worker" in log.read_text():
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def password_for_production(user, password: str) -> None:
    """Tests hash with MD5 for speed; a production-settings server only accepts its own hasher."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
