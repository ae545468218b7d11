"""`make demo` runs the whole system: `manage.py demo_run` (web server, Celery worker, beat) sends a
broadcast at its scheduled time and moves a journey run past a one-minute wait with nobody calling
anything, and Ctrl-C (SIGINT) stops every process it started.

Slow by nature (a real minute of waiting): the waits poll for the outcome with generous deadlines,
so a busy machine makes the test slower, never red.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from audiences.models import Audience, AudienceMembership
from channels.models import ChannelSettings, Message
from journeys.models import Broadcast, BroadcastStatus, BroadcastVariant, Run, RunStatus, RunStep
from journeys.services.broadcasts import broadcast_schedule
from journeys.services.entry import EntryCandidate, runs_enroll
from journeys.testing import journey_live
from tests.test_channel_support import profile_make, template_make
from tests.workers import ROOT, _database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DELAY = {
    "slug": "one-minute",
    "name": "One minute",
    "entry": {"event": "Never Sent"},
    "stages": [
        {"key": "waiting", "transitions": [{"to": "done", "after": {"minutes": 1}}]},
        {"key": "done", "actions": [{"tag": {"add": "waited"}}], "exit": True},
    ],
}
SENT = ("sent", "delivered", "opened", "clicked")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, *, timeout: float, what: str, demo: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if demo.poll() is not None:
            pytest.fail(f"demo_run exited ({demo.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        time.sleep(2)
    pytest.fail(f"not within {timeout:.0f} s: {what}\n{log.read_text()[-3000:]}")


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc), however deep."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.timeout(900)
def test_the_demo_sends_a_scheduled_broadcast_and_fires_a_delay_by_itself_and_ctrl_c_stops_it(tmp_path):
    ChannelSettings.objects.create(channel="email", provider="sandbox")
    template_make("promo", html="<p>Hello {{ profile.first_name }}, our autumn sale is on.</p>")
    audience = Audience.objects.create(slug="shoppers", name="Shoppers", rule={"tag": "s"})
    profiles = [profile_make(email=f"shopper{i}@example.com") for i in range(3)]
    now = timezone.now()
    AudienceMembership.objects.bulk_create(
        [AudienceMembership(audience=audience, profile=p, entered_at=now) for p in profiles]
    )
    broadcast = Broadcast.objects.create(
        name="Soon", audience_slug="shoppers", send_at=now + timedelta(seconds=45)
    )
    BroadcastVariant.objects.create(broadcast=broadcast, key="a", template_slug="promo", weight=1)
    broadcast_schedule(broadcast=broadcast)
    journey = journey_live(DELAY)
    entered = runs_enroll(
        journey=journey, candidates=[EntryCandidate(profiles[0].pk, "demo-test", now)], wake=False
    )
    assert entered.created == 1

    log = tmp_path / "demo.log"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE")
        },
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    with log.open("w") as out:
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo_run", "--no-load", "--concurrency", "1",
             "--host", f"127.0.0.1:{_free_port()}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        _wait_for(
            lambda: "Voyage is serving" in log.read_text(), timeout=300, what="serving", demo=demo, log=log
        )
        started = _descendants(demo.pid)
        assert len(started) >= 3  # web, worker (+ its pool), beat

        def broadcast_out() -> bool:
            b = Broadcast.objects.get(pk=broadcast.pk)
            messages = Message.objects.filter(campaign_kind="broadcast", campaign_id=b.pk)
            return b.status == BroadcastStatus.SENT and messages.filter(status__in=SENT).count() == 3

        def run_done() -> bool:
            return Run.objects.filter(journey=journey, status=RunStatus.COMPLETED).exists()

        _wait_for(broadcast_out, timeout=400, what="the broadcast is sent", demo=demo, log=log)
        _wait_for(run_done, timeout=400, what="the journey run passes its wait", demo=demo, log=log)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)  # what Ctrl-C sends it (its children are in their own sessions)
        try:
            code = demo.wait(timeout=120)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise

    assert code == 0, log.read_text()[-3000:]
    assert "Demo stopped." in log.read_text()
    assert [pid for pid in started if _alive(pid)] == []
    sent_at = Message.objects.filter(campaign_kind="broadcast").order_by("sent_at").first().sent_at
    assert sent_at >= broadcast.send_at  # at its time, not before
    step = RunStep.objects.get(run__journey=journey, stage_key="done")
    assert step.at == now + timedelta(minutes=1)  # entered when the wait ended, whenever the tick ran
