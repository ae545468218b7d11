"""Real Celery workers advance runs: two workers on the same queue never advance a run twice, and a worker killed
mid-batch loses nothing — its runs are taken over once the lease runs out, each side effect once."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from channels.models import Message, Template
from journeys.models import Run, RunStatus, RunStep
from journeys.services.entry import EntryCandidate, runs_enroll
from journeys.testing import journey_live
from tests.workers import ROOT, _database_url, celery_worker, worker_kill
from tracking.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def busy_journey(n_profiles: int, *, send: bool = True):
    Template.objects.create(slug="w-mail", name="W", channel="email")
    actions = [{"send": {"channel": "email", "template": "w-mail"}}] if send else []
    journey = journey_live(
        {
            "slug": "workers",
            "name": "Workers",
            "entry": {"event": "Never Sent"},
            "stages": [
                {"key": "one", "actions": actions,
                 "transitions": [{"to": "two", "after": {"minutes": 0}}]},
                {"key": "two", "transitions": [{"to": "end", "after": {"minutes": 0}}]},
                {"key": "end", "exit": True},
            ],
        }
    )  # fmt: skip
    profiles = Profile.objects.bulk_create([Profile() for _ in range(n_profiles)])
    return journey, profiles


def enroll(journey, profiles):
    now = timezone.now()
    return runs_enroll(journey=journey, candidates=[EntryCandidate(p.pk, "bulk", now) for p in profiles])


def wait_until(predicate, timeout=300.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def assert_each_run_advanced_exactly_once(n, *, messages=True):
    assert Run.objects.filter(status=RunStatus.COMPLETED).count() == n
    # entered "one", then "two", then "end": three visits per run, never more.
    per_run = Counter_of_steps()
    assert set(per_run.values()) == {3}, per_run
    assert Message.objects.filter(campaign_kind="journey").count() == (n if messages else 0)
    assert Message.objects.values("profile_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0


def Counter_of_steps():
    return dict(RunStep.objects.values_list("run_id").annotate(n=Count("id")).values_list("run_id", "n"))


@override_settings(CELERY_TASK_ALWAYS_EAGER=False, JOURNEYS_ADVANCE_FANOUT=4)
def test_two_workers_on_the_same_runs_never_advance_a_run_twice():
    from config.celery import app

    n = 1500
    journey, profiles = busy_journey(n)
    app.conf.task_always_eager = False
    env = {"JOURNEYS_BATCH_SIZE": "50"}
    try:
        with celery_worker(name="j1", extra_env=env), celery_worker(name="j2", extra_env=env):
            enroll(journey, profiles)  # wakes four advance tasks on commit
            assert wait_until(lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == n)
    finally:
        app.conf.task_always_eager = True
    # The outcome only: which worker takes which batch is the scheduler's business (on a busy
    # 2-core machine one worker may well take them all), so it is not asserted.
    assert_each_run_advanced_exactly_once(n)


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_a_worker_killed_mid_batch_is_taken_over_after_the_lease():
    from config.celery import app

    n = 2000
    journey, profiles = busy_journey(n)
    app.conf.task_always_eager = False
    env = {"JOURNEYS_BATCH_SIZE": "100", "JOURNEYS_LEASE_SECONDS": "3"}
    try:
        with celery_worker(name="victim", extra_env=env) as victim:
            enroll(journey, profiles)
            assert wait_until(lambda: RunStep.objects.filter(stage_key="end").exists(), timeout=60)
            worker_kill(victim)  # SIGKILL in the middle of the work
        done_before = Run.objects.filter(status=RunStatus.COMPLETED).count()
        assert done_before < n, "the victim finished everything before it was killed; nothing to take over"
        leased = Run.objects.filter(status=RunStatus.ACTIVE, lease_until__gt=timezone.now()).exists()
        with celery_worker(name="rescuer", extra_env=env):
            from journeys.tasks import runs_advance_task

            runs_advance_task.delay()
            if leased:
                time.sleep(4)  # the victim's claimed batch is someone else's only after its lease
                runs_advance_task.delay()
            assert wait_until(lambda: Run.objects.filter(status=RunStatus.COMPLETED).count() == n)
    finally:
        app.conf.task_always_eager = True
    assert_each_run_advanced_exactly_once(n)


def test_a_claimed_batch_of_a_killed_process_waits_for_its_lease_then_is_taken_once():
    """Two processes: the first claims a batch and dies before processing it; the second cannot take
    the batch while the lease holds, and takes it exactly once after."""
    # No sends here: the first pass must finish well inside the dead claimer's lease, even on a busy machine.
    journey, profiles = busy_journey(300, send=False)
    enroll_result = runs_enroll(
        journey=journey,
        candidates=[EntryCandidate(p.pk, "bulk", timezone.now() - timedelta(seconds=1)) for p in profiles],
        wake=False,
    )
    assert enroll_result.created == 300
    script = (
        "import django, sys; django.setup();"
        "from django.utils import timezone;"
        "from journeys.engine.runner import runs_claim;"
        "ids = runs_claim(now=timezone.now(), limit=120, owner='doomed');"
        "print(len(ids), flush=True); import time; time.sleep(60)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "JOURNEYS_LEASE_SECONDS": "30",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "120"
    finally:
        proc.kill()
        proc.wait()
    from journeys.engine.runner import runs_advance_due

    first = runs_advance_due(batch_size=50)
    assert first.runs == 180  # the other 120 are still leased to the dead process
    assert Run.objects.filter(lease_owner="doomed", status=RunStatus.ACTIVE).count() == 120
    time.sleep(
        max(
            0.0,
            (Run.objects.filter(lease_owner="doomed").first().lease_until - timezone.now()).total_seconds(),
        )
        + 0.2
    )
    second = runs_advance_due(batch_size=50)
    assert second.runs == 120
    assert_each_run_advanced_exactly_once(300, messages=False)


def test_a_claimed_run_locked_by_someone_else_at_that_moment_is_given_back_not_left_leased(monkeypatch):
    """Another worker's claim scan (or news) can hold a run's row lock just when the batch that
    claimed it locks its rows; the batch skips it and gives it back, so it is advanced at once
    instead of waiting out its lease."""
    import threading

    from django.db import connections, transaction

    from journeys.engine import runner

    journey, profiles = busy_journey(5, send=False)
    runs_enroll(
        journey=journey,
        candidates=[EntryCandidate(p.pk, "bulk", timezone.now() - timedelta(seconds=1)) for p in profiles],
        wake=False,
    )
    locked = threading.Event()
    real_claim = runner.runs_claim

    def hold(run_id: int) -> None:
        try:
            with transaction.atomic():
                list(Run.objects.select_for_update().filter(pk=run_id))
                locked.set()
                time.sleep(1.0)
        finally:
            connections.close_all()

    def claim_then_someone_locks_one(**kwargs):
        ids = real_claim(**kwargs)
        if ids and not locked.is_set():
            threading.Thread(target=hold, args=(ids[0],)).start()
            assert locked.wait(10)
        return ids

    monkeypatch.setattr(runner, "runs_claim", claim_then_someone_locks_one)
    result = runner.runs_advance_due(batch_size=50)
    assert result.runs == 5 and result.skipped == 1
    assert_each_run_advanced_exactly_once(5, messages=False)
