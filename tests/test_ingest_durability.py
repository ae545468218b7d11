"""Once /v1/batch has answered 200 the events are committed in PostgreSQL, whatever Redis and the
workers do next; wake-ups are debounced, and the periodic sweep picks up what no worker was told about."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.test import override_settings

from tests.workers import _database_url, celery_worker
from tracking.models import Event, Source

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _gunicorn(env: dict[str, str]):
    """The real WSGI app in a gunicorn process of its own, with its own environment."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--timeout",
            "180",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        start_new_session=True,
    )
    try:
        # Generous: the first request imports every app (scipy for reports) on a busy machine.
        deadline = time.time() + 150
        while True:
            with suppress(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/v1/batch", timeout=150)
                break
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _batch(prefix: str, count: int) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "anonymousId": f"{prefix}-{i % 7}",
                "event": "Viewed",
                "messageId": f"{prefix}-{i}",
            }
            for i in range(count)
        ]
    }


def _auth(source: Source) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{source.write_key}:".encode()).decode()}


def test_accepted_batch_is_committed_while_redis_is_down_and_swept_later():
    source = Source.objects.create(name="web", write_key="wk_durable", rate_limit_per_second=10_000)
    dead_redis = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    server_env = {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": dead_redis,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "0",
    }
    with _gunicorn(server_env) as base:
        started = time.monotonic()
        r = requests.post(f"{base}/v1/batch", json=_batch("down", 50), headers=_auth(source), timeout=30)
        assert r.status_code == 200, r.text
        assert r.json() == {"success": True}
        # No broker retries stall the answer.
        assert time.monotonic() - started < 5
        # Answered, so committed: visible from another connection, not yet resolved (no worker ran).
        stored = Event.objects.filter(source=source)
        assert stored.count() == 50
        assert not stored.filter(processed_at__isnull=False).exists()
        r = requests.post(f"{base}/v1/batch", json=_batch("down", 50), headers=_auth(source), timeout=30)
        assert r.status_code == 200 and stored.count() == 50  # a retried batch is still stored once

    # The periodic sweep is the beat's tracking.events_process task; it resolves everything.
    schedule = settings.CELERY_BEAT_SCHEDULE["tracking-process-pending"]
    assert schedule["task"] == "tracking.events_process"
    from tracking.tasks import events_process_task

    assert events_process_task.name == schedule["task"]
    assert events_process_task.apply().get() == 50
    assert not Event.objects.filter(processed_at__isnull=True).exists()
    assert len(set(Event.objects.values_list("profile_id", flat=True))) == 7


@contextmanager
def _real_broker():
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
            yield app
    finally:
        app.conf.task_always_eager = True


def test_wake_ups_are_debounced_to_one_queued_task(client):
    source = Source.objects.create(name="web", write_key="wk_debounce")
    queue = redis.Redis.from_url(settings.REDIS_URL)
    queue.delete("celery")
    headers = {"HTTP_AUTHORIZATION": _auth(source)["Authorization"]}
    with _real_broker():
        for i in range(25):
            r = client.post("/v1/batch", _batch(f"d{i}", 10), content_type="application/json", **headers)
            assert r.status_code == 200
        try:
            assert queue.llen("celery") == 1  # 25 requests, one wake-up waiting
        finally:
            queue.delete("celery")


def test_concurrent_ingest_with_a_worker_leaves_nothing_behind(live_server):
    """No beat runs here: every event must be resolved by woken workers alone, including events that
    arrive while a processor is finishing (it looks again after releasing its lock)."""
    source = Source.objects.create(name="web", write_key="wk_concurrent")
    errors: list[str] = []

    def client_thread(n: int) -> None:
        with requests.Session() as session:
            for i in range(15):
                r = session.post(
                    f"{live_server.url}/v1/batch",
                    json=_batch(f"c{n}-{i}", 20),
                    headers=_auth(source),
                    timeout=30,
                )
                if r.status_code != 200:
                    errors.append(r.text)
                time.sleep(0.01 * (n % 3))

    with _real_broker(), celery_worker(concurrency=2):
        threads = [threading.Thread(target=client_thread, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert Event.objects.count() == 4 * 15 * 20
        deadline = time.time() + 90
        while time.time() < deadline and Event.objects.filter(processed_at__isnull=True).exists():
            time.sleep(0.2)
    assert not Event.objects.filter(processed_at__isnull=True).exists()
