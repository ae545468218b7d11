"""Losing Redis does not stop the worker for good: Redis is killed (SIGKILL) and restarted under a
real Celery worker several times, while it dispatches; the worker stays up, and every message is
delivered exactly once (durable state is in PostgreSQL; a wake-up lost with Redis is redone)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import suppress

import pytest
from celery import Celery
from django.db import transaction
from django.db.models import Count

from channels.models import Message, MessageStatus, SandboxDelivery
from channels.services import message_enqueue
from tests.test_channel_support import profile_make, template_make
from tests.workers import ROOT, _database_url, worker_stop

pytest_plugins = ["tests.test_channel_support"]
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to start and kill"),
]

KILLS = 4
PER_ROUND = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A private redis-server this test may kill: never the shared one."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="voyage-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def _wait(predicate, timeout: float, kick=None, interval: float = 0.3) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if kick:
            with suppress(Exception):
                kick()
        time.sleep(interval)
    return predicate()


def _enqueue(round_no: int) -> None:
    with transaction.atomic():
        for i in range(PER_ROUND):
            p = profile_make(traits={"n": i})
            message_enqueue(
                profile_id=p.pk,
                channel="email",
                template_slug="welcome",
                idempotency_key=f"outage-{round_no}-{i}",
            )


def test_worker_survives_redis_being_killed_and_every_message_goes_once(sandbox, settings):
    settings.CHANNELS_DISPATCH_ON_COMMIT = False
    template_make(html="<p>Hi {{ profile.first_name }}</p>", text="")
    redis = Redis()
    redis.start()
    probe = Celery("probe", broker=redis.url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis.url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CHANNELS_DISPATCH_ON_COMMIT": "0",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "-l",
            "warning",
            "-n",
            "outage@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait(lambda: bool(probe.control.ping(timeout=0.5)), 60), "worker did not start"
        for round_no in range(KILLS):
            _enqueue(round_no)
            probe.send_task("channels.dispatch")
            # Kill Redis while the worker holds an unacknowledged dispatch (acks_late).
            assert _wait(
                lambda: (
                    SandboxDelivery.objects.exists()
                    or Message.objects.filter(status=MessageStatus.SENDING).exists()
                ),
                60,
                interval=0.02,
            )
            redis.kill()
            time.sleep(1.5)
            assert worker.poll() is None, f"worker exited with {worker.returncode} after Redis died"
            redis.start()
        # Everything left is sent once the worker is back on Redis (the beat tick's role here: a kick).
        done = _wait(
            lambda: not Message.objects.filter(sent_at__isnull=True).exists(),
            180,
            kick=lambda: probe.send_task("channels.dispatch"),
            interval=1.0,
        )
        alive = worker.poll() is None
    finally:
        worker_stop(worker)
        stderr = worker.stderr.read() if worker.stderr else ""
        with suppress(Exception):
            redis.kill()
        shutil.rmtree(redis.dir, ignore_errors=True)
    assert alive, stderr[-3000:]
    assert done, (
        dict(Message.objects.values("status").annotate(n=Count("id")).values_list("status", "n")),
        stderr[-3000:],
    )
    counts = list(
        SandboxDelivery.objects.values("message_id")
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
        .values_list("n", flat=True)
    )
    assert len(counts) == KILLS * PER_ROUND and set(counts) == {1}
    assert "Unrecoverable error" not in stderr, stderr[-3000:]
