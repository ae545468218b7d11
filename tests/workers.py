"""Real Celery worker processes for tests where workers matter.

The worker is a separate `celery worker` process on the test Redis, pointed at the test database,
so tests using it must be `django_db(transaction=True)` (data committed, visible to the worker).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{connection.settings_dict['NAME']}"


@contextmanager
def celery_worker(
    *,
    concurrency: int = 1,
    queues: str | None = None,
    extra_env: dict[str, str] | None = None,
    name: str = "w1",
) -> Iterator[subprocess.Popen]:
    """Start a real worker; yields the process; stops it (SIGTERM, then SIGKILL) on exit."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **(extra_env or {}),
    }
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "-l",
        "warning",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if queues:
        cmd.append(f"--queues={queues}")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        _wait_ready(proc)
        yield proc
    finally:
        worker_stop(proc)


def _wait_ready(proc: subprocess.Popen, timeout: float = 30) -> None:
    from config.celery import app

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}")
        replies = app.control.ping(timeout=0.5)
        if replies:
            return
    raise RuntimeError("celery worker did not answer a ping in time")


def worker_kill(proc: subprocess.Popen) -> None:
    """SIGKILL the whole worker process group: no cleanup, no acknowledgement, as in a crash."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def worker_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        worker_kill(proc)
