"""python manage.py demo_run [--host 127.0.0.1:8000] [--no-load]: the whole system, as production runs it.

`make demo` calls it. It uses the database and broker it is given (DATABASE_URL, REDIS_URL) or
starts its own: the embedded PostgreSQL (data kept in .pgdata/) and a redis-server child
(core/embedded_redis.py). Then it migrates, loads the demo store (tasks in-process, so the store is
complete when the site opens) and runs, each in its own process group:

    web     manage.py runserver HOST --noreload      admin, API, ingestion, report pages
    worker  celery -A config worker                  sends, event processing, journeys, refreshes
    beat    celery -A config beat                    the clock: ticks from django-celery-beat

Ctrl-C (SIGINT), SIGTERM or SIGHUP stops all of it: web, beat, worker (warm shutdown: the task in
hand finishes), then Redis, then PostgreSQL. If one process dies, the others are stopped too and the
command exits 1. The children also get SIGTERM from the kernel if this process is killed outright
(PR_SET_PDEATHSIG), so nothing is left behind; a killed demo leaves only the PostgreSQL server,
which the next run reuses.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.settings import services
from core.embedded_postgres import embedded_postgres_release
from core.embedded_redis import EmbeddedRedis, embedded_redis_start

ROOT = Path(settings.BASE_DIR)
STOP_SECONDS = 30  # a worker's warm shutdown waits for the task in hand


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def _child_setup() -> None:
    """In the child, before exec: SIGTERM it if this supervisor dies without stopping it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Command(BaseCommand):
    help = "Run the demo: web server, Celery worker and beat on PostgreSQL and Redis (started if not given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1:8000", help="address:port to serve on")
        parser.add_argument("--no-load", action="store_true", help="do not migrate and load the demo store")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")

    def handle(self, *args: Any, **options: Any) -> None:
        started = float(os.environ.get("VOYAGE_DEMO_STARTED") or time.time())
        self.children: list[Child] = []
        self.redis: EmbeddedRedis | None = None
        self.stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        code = 0
        try:
            env = self._environment(options["host"])
            if not options["no_load"]:
                self._step(env, "migrate", "--noinput", "-v0")
                self._step(env, "load_demo", eager=True)
            self._start(env, options["host"], options["concurrency"])
            self._wait_serving(options["host"])
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nVoyage is serving on http://{options['host']}/admin/ "
                    f"({time.time() - started:.1f} s after make demo started)"
                )
            )
            self.stdout.write(
                "Running: web (runserver), Celery worker, Celery beat (the clock), "
                f"PostgreSQL ({self._database_label()}), Redis ({env['REDIS_URL']}). Ctrl-C stops all of it."
            )
            code = self._watch()
        except _Stop:
            pass
        finally:
            self._stop_all()
        if code:
            raise CommandError("a demo process exited; everything was stopped")
        self.stdout.write("Demo stopped.")

    # --- steps ---------------------------------------------------------------------------------

    def _environment(self, host: str) -> dict[str, str]:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "config.settings"
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]  # services.database_url() set it
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("PUBLIC_BASE_URL", f"http://{host}")
        env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        if not env.get("REDIS_URL"):
            self.redis = embedded_redis_start()
            env["REDIS_URL"] = self.redis.url(0)
        return env

    def _step(self, env: dict[str, str], command: str, *args: str, eager: bool = False) -> None:
        step_env = {**env, "CELERY_TASK_ALWAYS_EAGER": "1"} if eager else env
        child = self._spawn(command, [sys.executable, "manage.py", command, *args], step_env)
        while child.process.poll() is None:
            self._sleep(0.2)
        self.children.remove(child)
        if child.process.returncode != 0:
            raise CommandError(f"manage.py {command} failed ({child.process.returncode})")

    def _start(self, env: dict[str, str], host: str, concurrency: int) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        self._spawn("web", [sys.executable, "manage.py", "runserver", host, "--noreload"], env)
        self._spawn(
            "worker",
            [*celery, "worker", "-l", "warning", f"--concurrency={concurrency}", "-n", "demo@%h"],
            env,
        )
        self._spawn("beat", [*celery, "beat", "-l", "warning"], env)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Child:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_child_setup
        )
        child = Child(name=name, process=process)
        self.children.append(child)
        return child

    def _wait_serving(self, host: str) -> None:
        url = f"http://{host}/admin/login/"
        while True:
            self._check_children()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
            self._sleep(0.3)

    def _watch(self) -> int:
        while True:
            dead = self._check_children(raise_stop=False)
            if dead:
                self.stderr.write(f"{dead.name} exited with {dead.process.returncode}: stopping the demo")
                return 1
            self._sleep(0.5)

    def _check_children(self, *, raise_stop: bool = True) -> Child | None:
        for child in self.children:
            if child.process.poll() is not None:
                if raise_stop:
                    raise CommandError(f"{child.name} exited with {child.process.returncode}")
                return child
        return None

    def _database_label(self) -> str:
        db = settings.DATABASES["default"]
        where = f"{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return f"{where}, embedded, data in .pgdata/" if services.embedded else where

    # --- stopping ------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stopping:
            return
        self.stopping = True
        raise _Stop

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _stop_all(self) -> None:
        self.stopping = True
        # Order: stop taking requests, stop the clock, let the worker finish what it holds.
        order = {"web": 0, "beat": 1, "worker": 2}
        for child in sorted(self.children, key=lambda c: order.get(c.name, -1)):
            self._stop_child(child)
        if self.redis is not None:
            self.redis.stop()
        embedded_postgres_release()

    def _stop_child(self, child: Child) -> None:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in {STOP_SECONDS} s: killing it")
        # Whatever is left in its group (a pool process, a runserver thread's child) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=10)


class _Stop(Exception):
    """A stop signal arrived."""
