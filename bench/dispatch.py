"""Dispatch benchmark: emails through the outbox to a fake SendGrid answering after 20 ms.

    python -m bench.dispatch [--messages 10000] [--full] [--workers 2] [--concurrency 2] [--batch 500]
                              [--delay 0.02]

It uses its own database next to DATABASE_URL's (voyage_bench_dispatch, migrated on start) and
REDIS_URL (default redis://127.0.0.1:6379/6), creates N profiles with an email address, one
email template and N due messages (bulk insert, not timed), starts the fake SendGrid in its own
process and real Celery workers (prefork) on Redis. The messages are committed (the outbox is
filled) before the clock starts; timed: from waking the workers (what an enqueue's commit does) to
the last message marked sent, and the fake must have received every message exactly once.

In the same run, with the same concurrency budget (workers × concurrency HTTP clients), a plain
`requests` client posts to the same fake:

- the naive sender: one message per request (the same rendered email as a single-recipient
  payload), measured on a sample, and
- the transport ceiling: exactly the batched request bodies Voyage sends (rendered beforehand).

It prints messages/s for each and the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.db import bench_db_prepare, bench_db_url
from bench.machine import machine_describe

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "SG.bench"
HTML = (
    "<html><body><h1>Hello {{ profile.first_name }}</h1><p>Our spring collection is here.</p>"
    '<p><a href="https://shop.example.com/spring?utm_source=email">Shop now</a></p>'
    "<p>Your code: {{ data.code }}</p></body></html>"
)


def _fake_main(delay: float, queue: mp.Queue) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fakes.sendgrid import FakeSendGrid

    fake = FakeSendGrid(api_key=API_KEY, delay=delay, keep_content=False)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with fake:
        queue.put(fake.url)
        while True:
            time.sleep(3600)


def _data_create(n: int, fake_url: str) -> None:
    from django.db import connection
    from django.utils import timezone

    from channels.models import ChannelSettings, Message, Template, TemplateVariant
    from tracking.models import ContactPoint, Profile

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE channels_message, channels_template, channels_channelsettings, tracking_profile CASCADE"
        )
    template = Template.objects.create(slug="spring", name="Spring", channel="email")
    TemplateVariant.objects.create(
        template=template,
        locale="en",
        subject="Spring is here, {{ profile.first_name }}",
        html=HTML,
        text="Hello {{ profile.first_name }}, spring is here: https://shop.example.com/spring",
    )
    ChannelSettings.objects.create(
        channel="email",
        provider="sendgrid",
        options={"base_url": fake_url, "from_email": "shop@example.com", "quiet_hours": None},
        secrets={"api_key": API_KEY},
    )
    now = timezone.now()
    step = 10_000
    for start in range(0, n, step):
        count = min(step, n - start)
        profiles = Profile.objects.bulk_create(
            [
                Profile(traits={"first_name": f"Shopper{start + i}"}, timezone="Europe/Berlin", locale="en")
                for i in range(count)
            ]
        )
        ContactPoint.objects.bulk_create(
            [
                ContactPoint(profile=p, channel="email", address=f"shopper{start + i}@example.com")
                for i, p in enumerate(profiles)
            ]
        )
        Message.objects.bulk_create(
            [
                Message(
                    profile=p,
                    channel="email",
                    template=template,
                    topic="marketing",
                    data={"code": f"SPRING{p.pk}"},
                    idempotency_key=f"bench-{p.pk}",
                    due_at=now,
                    campaign_kind="broadcast",
                    campaign_id=1,
                )
                for p in profiles
            ]
        )


def _workers_start(n: int, concurrency: int, env: dict[str, str]) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
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
            f"bench{i}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True))
    from config.celery import app

    deadline = time.time() + 60
    while time.time() < deadline:
        replies = app.control.ping(timeout=1.0)
        if len(replies) >= n:
            return procs
    raise SystemExit("workers did not start")


def _workers_stop(procs: list[subprocess.Popen]) -> None:
    import signal

    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def _post_all(url: str, bodies: list[bytes], clients: int) -> float:
    """Post every body with `clients` threads, each with its own keep-alive session. Returns seconds."""
    import requests

    lock = threading.Lock()
    queue = list(reversed(bodies))
    failures = []

    def run() -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            response = session.post(f"{url}/v3/mail/send", data=body, headers=headers, timeout=60)
            if response.status_code != 202:
                failures.append(response.status_code)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"baseline requests failed: {failures[:5]}")
    return time.monotonic() - started


def _payloads(sample: int | None, batch: int) -> tuple[list[bytes], list[bytes], int]:
    """The batched bodies Voyage sends for every message, and single-recipient bodies for a sample."""
    import orjson

    from channels.adapters import adapter_for
    from channels.adapters.base import Outgoing
    from channels.models import Message
    from channels.rendering import render_variant

    adapter = adapter_for("email")
    outgoing = []
    messages = Message.objects.select_related("profile", "template").order_by("pk")
    variant = None
    for m in messages.iterator(chunk_size=2000):
        variant = variant or m.template.variants.get()
        rendered = render_variant(
            variant=variant, channel="email", profile=m.profile, data=m.data, message_id=m.pk
        )
        address = f"shopper-baseline-{m.pk}@example.com"
        outgoing.append(Outgoing(m.pk, "email", address, rendered, m.idempotency_key, request_key="baseline"))
    # Grouped as the workers group them: per claimed batch, then per shared skeleton.
    batched = [
        orjson.dumps(adapter.build_payload(group))
        for start in range(0, len(outgoing), batch)
        for group in adapter.requests(outgoing[start : start + batch])
    ]
    singles = [orjson.dumps(adapter.build_payload([o])) for o in outgoing[: sample or len(outgoing)]]
    return batched, singles, len(outgoing)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--full", action="store_true", help="100,000 messages")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (celery -c each)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="messages claimed per pass")
    parser.add_argument("--delay", type=float, default=0.02, help="fake SendGrid answer delay (s)")
    parser.add_argument(
        "--naive-sample", type=int, default=1000, help="messages for the one-per-request baseline"
    )
    args = parser.parse_args()
    n = 100_000 if args.full else args.messages

    db_url = bench_db_url("voyage_bench_dispatch")
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CHANNELS_DISPATCH_ON_COMMIT": "0",
        }
    )
    print(f"Preparing {db_url.rsplit('@', 1)[-1]} …", flush=True)
    bench_db_prepare(db_url, dict(os.environ))

    import django

    django.setup()
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    fake = ctx.Process(target=_fake_main, args=(args.delay, queue), daemon=True)
    fake.start()
    fake_url = queue.get(timeout=30)
    import requests

    print(f"Creating {n} profiles and due messages …", flush=True)
    _data_create(n, fake_url)

    worker_env = {**os.environ, "CHANNELS_DISPATCH_BATCH_SIZE": str(args.batch), "LOG_LEVEL": "WARNING"}
    procs = _workers_start(args.workers, args.concurrency, worker_env)
    from channels.models import Message, MessageStatus
    from channels.tasks import dispatch_task

    try:
        started = time.monotonic()
        for _ in range(args.workers * args.concurrency):
            dispatch_task.delay()
        while True:
            left = Message.objects.exclude(status=MessageStatus.SENT).count()
            if left == 0:
                break
            if time.monotonic() - started > 1800:
                raise SystemExit(f"timed out with {left} messages not sent")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    finally:
        _workers_stop(procs)
    stats = requests.get(f"{fake_url}/_stats", timeout=10).json()
    dispatch_rate = n / elapsed

    clients = args.workers * args.concurrency
    print("Rendering the same payloads for the baselines …", flush=True)
    batched, singles, _ = _payloads(args.naive_sample, args.batch)
    ceiling_seconds = _post_all(fake_url, batched, clients)
    naive_seconds = _post_all(fake_url, singles, clients)
    ceiling_rate = n / ceiling_seconds
    naive_rate = len(singles) / naive_seconds
    fake.terminate()

    print("\nMachine:\n" + machine_describe({"workers": f"{args.workers} × prefork -c {args.concurrency}"}))
    print(f"\nDispatch of {n} emails, fake SendGrid answering after {args.delay * 1000:.0f} ms:")
    print(
        f"  Voyage end to end          {dispatch_rate:10,.0f} messages/s  ({elapsed:.1f} s, "
        f"{stats['requests']} requests, {n / max(stats['requests'], 1):.0f} recipients each)"
    )
    print(
        f"  at the fake                {stats['unique_messages']} messages received, {stats['duplicates']} twice"
    )
    print(
        f"  baseline, one per request  {naive_rate:10,.0f} messages/s  ({clients} clients, {len(singles)} sample)"
    )
    print(
        f"  baseline, same batches     {ceiling_rate:10,.0f} messages/s  ({clients} clients, {len(batched)} requests)"
    )
    print(f"  ratio vs one per request   {dispatch_rate / naive_rate:10.1f}×")
    print(f"  ratio vs same batches      {dispatch_rate / ceiling_rate:10.1%}")
    if stats["unique_messages"] != n or stats["duplicates"]:
        raise SystemExit("FAILED: the fake did not receive every message exactly once")


if __name__ == "__main__":
    main()
