"""core.wake: a task is woken once per transaction after commit, never on rollback, and a broker
that is down after commit is logged, not raised: the API answers 201 and the beat sweep sends."""

from __future__ import annotations

import logging

import pytest
import requests
from django.db import transaction
from rest_framework.authtoken.models import Token

from channels.dispatch import dispatch_until_idle
from channels.models import Message, MessageStatus
from core.wake import task_wake, task_wake_on_commit
from tests.test_channel_support import profile_make, template_make
from tests.test_ingest_durability import _free_port, _gunicorn
from tests.workers import _database_url

pytest_plugins = ["tests.test_channel_support"]


class _Recorder:
    """A task stand-in that records what was published (the broker is what is left out)."""

    name = "test.recorder"

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def apply_async(self, args=None, **options):
        if self.fail:
            raise ConnectionRefusedError("broker down")
        self.calls.append(tuple(args or ()))


@pytest.mark.django_db(transaction=True)
def test_many_calls_in_one_transaction_wake_once_after_commit():
    task = _Recorder()
    with transaction.atomic():
        assert task_wake_on_commit(task=task) is True
        assert task_wake_on_commit(task=task) is False
        assert task_wake_on_commit(task=task, args=(7,)) is True  # other arguments: another wake-up
        assert task.calls == []  # nothing before commit
    assert task.calls == [(), (7,)]
    with transaction.atomic():
        assert task_wake_on_commit(task=task) is True  # a new transaction asks again
    assert task.calls == [(), (7,), ()]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_or_savepoint_forgets_its_wake_up():
    task = _Recorder()
    with pytest.raises(RuntimeError), transaction.atomic():
        task_wake_on_commit(task=task)
        raise RuntimeError("rolled back")
    assert task.calls == []
    with transaction.atomic():
        try:
            with transaction.atomic():
                task_wake_on_commit(task=task)
                raise RuntimeError("savepoint rolled back")
        except RuntimeError:
            pass
        # The savepoint's on-commit callback is gone, and so is its "already asked" mark.
        assert task_wake_on_commit(task=task) is True
    assert task.calls == [()]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_wake_is_immediate():
    task = _Recorder()
    assert task_wake_on_commit(task=task) is True
    assert task.calls == [()]


def test_a_broker_error_is_logged_not_raised(caplog):
    with caplog.at_level(logging.WARNING, logger="core.wake"):
        assert task_wake(task=_Recorder(fail=True)) is False
    assert "periodic sweep" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_post_message_answers_201_when_the_broker_refuses_after_commit_and_the_sweep_sends_it(
    fake_sendgrid, staff_user
):
    template_make("receipt")
    profile_make(email="buyer@example.com")
    token = Token.objects.create(user=staff_user)
    dead_redis = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    server_env = {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": dead_redis,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "0",
    }
    body = {"email": "buyer@example.com", "channel": "email", "template": "receipt", "data": {"code": "A1"}}
    headers = {"Authorization": f"Bearer {token.key}", "Idempotency-Key": "order-1"}
    with _gunicorn(server_env) as base:
        first = requests.post(f"{base}/api/messages/", json=body, headers=headers, timeout=60)
        assert first.status_code == 201, first.text
        again = requests.post(f"{base}/api/messages/", json=body, headers=headers, timeout=60)
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    message = Message.objects.get()
    assert message.pk == first.json()["id"] and message.status == MessageStatus.PENDING
    # The wake-up was lost with the broker; the sweep (the beat's dispatch tick) sends it.
    dispatch_until_idle()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(fake_sendgrid.emails) == 1
