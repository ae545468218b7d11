"""core.setaside.rows_handle on its own: bisection finds exactly the rows that fail alone, keeps the
good rows' order, rolls back failed attempts; "each" never handles a row twice; transient errors
propagate. The handler writes real rows (tracking sources) so a rolled-back attempt is visible."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, OperationalError

from core import health, setaside
from core.models import SetAside
from tracking.models import Source

pytestmark = pytest.mark.django_db

POISON = {7, 19, 20}


@pytest.fixture
def queue():
    """A queue whose rows are the test's numbers; marking records what the helper marked."""
    marked: list[int] = []
    setaside.set_aside_queue_register(
        name="test_numbers",
        title="Test numbers",
        model="tracking.Source",
        mark=lambda label, ids: marked.extend(ids),
    )
    yield marked
    setaside._QUEUES.pop("test_numbers")
    health._GAUGES.pop("voyage_set_aside_test_numbers")


def _handler(calls: list[list[int]]):
    def handle(part: list[int]) -> list[int]:
        calls.append(list(part))
        for n in part:
            Source.objects.create(name=f"n{n}", write_key=f"wk_{n}")  # written before the failure
            if n in POISON:
                raise ValueError(f"row {n} is poison")
        return part

    return handle


def test_bisection_sets_aside_exactly_the_rows_that_fail_alone_and_keeps_the_order(queue):
    calls: list[list[int]] = []
    results = setaside.rows_handle(queue="test_numbers", items=list(range(32)), handle=_handler(calls))

    done = [n for part in results for n in part]
    assert done == [n for n in range(32) if n not in POISON]  # every good row, in order, once
    names = list(Source.objects.order_by("pk").values_list("name", flat=True))
    assert names == [f"n{n}" for n in done]  # failed attempts left nothing behind
    assert sorted(queue) == sorted(POISON)
    records = SetAside.objects.order_by("row_id")
    assert [(r.model, r.row_id, r.error_class) for r in records] == [
        ("tracking.Source", n, "builtins.ValueError") for n in sorted(POISON)
    ]
    assert records[0].error_message == "row 7 is poison"
    # Bounded: no part is tried twice, and a part whose sibling passed is known to fail (not tried).
    assert len(calls) == len({tuple(c) for c in calls}) < 2 * 32


def test_a_clean_batch_is_handled_in_one_call(queue):
    calls: list[list[int]] = []
    setaside.rows_handle(queue="test_numbers", items=[1, 2, 3], handle=_handler(calls))
    assert calls == [[1, 2, 3]] and not queue and not SetAside.objects.exists()


def test_each_handles_every_row_once_and_sets_aside_the_failing_ones(queue):
    calls: list[list[int]] = []
    setaside.rows_handle(queue="test_numbers", items=[5, 6, 7, 8], handle=_handler(calls), split="each")
    assert calls == [[5], [6], [7], [8]]
    assert queue == [7]


def test_a_row_set_aside_again_counts_its_attempts(queue):
    for _ in range(2):
        setaside.rows_handle(queue="test_numbers", items=[7], handle=_handler([]))
    assert SetAside.objects.get().attempts == 2


def test_transient_errors_propagate_and_set_nothing_aside(queue):
    def handle(part: list[int]) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        setaside.rows_handle(queue="test_numbers", items=[1, 2, 3], handle=handle)
    assert not queue and not SetAside.objects.exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda: OperationalError("deadlock detected"),
        lambda: ConnectionError("refused"),
        lambda: TimeoutError(),
        lambda: __import__("redis").exceptions.ConnectionError("redis down"),
        lambda: __import__("kombu").exceptions.OperationalError("broker down"),
    ],
)
def test_what_counts_as_transient(make):
    assert setaside.error_is_transient(make())


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("x"),
        KeyError("stage"),
        TypeError("x"),
        AttributeError("x"),
        DataError("x"),
        IntegrityError("x"),
    ],
)
def test_what_is_the_rows_fault(exc):
    assert not setaside.error_is_transient(exc)
