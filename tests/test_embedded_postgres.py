"""The embedded PostgreSQL: settings refuse any other database; with DATABASE_URL unset a real
PostgreSQL starts from the pip-installed wheel, keeps its data between runs and stops when the last
process using it exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=180
    )


def test_settings_refuse_a_database_that_is_not_postgresql():
    done = run_python(
        "import django; django.setup()",
        DATABASE_URL="mysql://voyage:secret@127.0.0.1:3306/voyage",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    assert done.returncode != 0
    assert "Voyage runs on PostgreSQL only. Set DATABASE_URL=postgres://" in done.stderr


def test_production_settings_refuse_to_start_the_embedded_postgresql(tmp_path):
    done = run_python(
        "import django; django.setup()",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 40,
        VOYAGE_PGDATA=str(tmp_path / "pgdata"),
    )
    assert done.returncode != 0 and "Set DATABASE_URL=postgres://" in done.stderr
    assert not (tmp_path / "pgdata").exists()


PROBE = """
import sys
import django
django.setup()
from django.db import connection
from core.embedded_postgres import embedded_postgres_running
with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS kept (n int)")
    c.execute("INSERT INTO kept VALUES (1)")
    c.execute("SELECT count(*), current_setting('server_version_num')::int, inet_server_addr()::text FROM kept")
    print(*c.fetchone(), connection.settings_dict["NAME"], embedded_postgres_running())
"""


def test_unset_database_url_runs_the_embedded_postgresql_and_keeps_its_data(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "VOYAGE_PGDATA": str(tmp_path / "pgdata")}
    first = run_python(PROBE, **env)
    assert first.returncode == 0, first.stderr[-3000:]
    rows, version, address, name, running = first.stdout.split()
    assert (rows, name, running) == ("1", "voyage", "True")
    assert int(version) >= 180000 and address == "127.0.0.1/32"
    # The server stopped with the process that started it (no other process used it)…
    postmaster = tmp_path / "pgdata" / "data" / "postmaster.pid"
    assert not postmaster.exists()
    # …and the next run starts it again on the same data.
    second = run_python(PROBE, **env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.split()[0] == "2"
    assert not postmaster.exists()
