"""core.claim: workers take disjoint batches of due rows, lease them, and give back what they hold."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from channels.models import Message
from core.claim import rows_claim, rows_give_back, rows_lock
from tracking.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def _due(n: int) -> list[int]:
    profile = Profile.objects.create()
    now = timezone.now()
    return [
        Message.objects.create(
            profile=profile, channel="email", idempotency_key=f"m{i}", due_at=now - timedelta(minutes=n - i)
        ).pk
        for i in range(n)
    ]


def _claim(limit: int, owner: str) -> list[tuple]:
    until = timezone.now() + timedelta(seconds=60)
    return rows_claim(
        queryset=Message.objects.filter(status="pending", lease_owner=""),
        limit=limit,
        order_by=["due_at", "id"],
        lease={"lease_owner": owner, "lease_until": until},
        returning=("id", "lease_owner"),
    )


def test_a_claim_leases_the_oldest_due_rows_up_to_the_limit_and_returns_them():
    ids = _due(5)
    rows = _claim(3, "w1")
    assert sorted(rows) == [(pk, "w1") for pk in ids[:3]]
    assert set(Message.objects.filter(lease_owner="w1").values_list("pk", flat=True)) == set(ids[:3])
    assert Message.objects.get(pk=ids[0]).lease_until is not None
    # Leased rows are no longer due for this queryset: the next claim takes the rest.
    assert sorted(pk for pk, _ in _claim(10, "w2")) == ids[3:]
    assert _claim(10, "w3") == []


def test_rows_locked_by_another_transaction_are_skipped_not_waited_for():
    ids = _due(6)
    locked, release = threading.Event(), threading.Event()

    def hold_first_two() -> None:
        try:
            with transaction.atomic():
                list(Message.objects.select_for_update().filter(pk__in=ids[:2]))
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first_two)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        assert sorted(pk for pk, _ in _claim(10, "w1")) == ids[2:]
    finally:
        release.set()
        holder.join()
    assert sorted(pk for pk, _ in _claim(10, "w2")) == ids[:2]


def test_rows_lock_needs_the_callers_transaction_and_holds_the_rows_until_it_ends():
    ids = _due(3)
    with pytest.raises(RuntimeError, match="inside one"):
        rows_lock(queryset=Message.objects.all(), limit=2, order_by=["id"], fields=["id"])
    with transaction.atomic():
        assert rows_lock(
            queryset=Message.objects.all(), limit=2, order_by=["id"], fields=["id", "channel"]
        ) == [
            (ids[0], "email"),
            (ids[1], "email"),
        ]
        # Another worker's claim, meanwhile, skips the two locked rows.
        seen: list = []
        worker = threading.Thread(target=lambda: (seen.extend(_claim(10, "other")), connection.close()))
        worker.start()
        worker.join()
        assert [pk for pk, _ in seen] == [ids[2]]


def test_give_back_releases_only_the_rows_still_leased_to_us():
    ids = _due(4)
    _claim(4, "me")
    Message.objects.filter(pk=ids[3]).update(lease_owner="someone-else")
    released = rows_give_back(
        model=Message, ids=ids, owner={"lease_owner": "me"}, release={"lease_owner": "", "lease_until": None}
    )
    assert released == 3
    assert list(Message.objects.filter(lease_owner="").order_by("pk").values_list("pk", flat=True)) == ids[:3]
    assert Message.objects.get(pk=ids[3]).lease_owner == "someone-else"
    assert (
        rows_give_back(model=Message, ids=[], owner={"lease_owner": "me"}, release={"lease_owner": ""}) == 0
    )
