"""The benchmarks' own PostgreSQL database next to DATABASE_URL's, migrated, and Django set up on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def bench_db_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/voyage")
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def bench_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of the benchmark and its subprocesses: no broker, tasks run in-process."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def bench_db_prepare(url: str, env: dict[str, str], *, fresh: bool = False) -> None:
    """Create the database when missing (`fresh`: drop it first) and migrate it."""
    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
