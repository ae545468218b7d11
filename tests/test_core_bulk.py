"""core.bulk: one-statement JSON inserts and updates, and the one JSON encoding they travel in."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from channels.models import Message
from core.bulk import ANY_UNIQUE, AnyOf, json_text, records_insert, records_update
from tracking.models import Profile

pytestmark = pytest.mark.django_db


def test_json_text_takes_decimals_datetimes_and_integers_beyond_64_bits():
    at = timezone.now()
    assert json.loads(json_text({"d": Decimal("1.50"), "at": at})) == {"d": "1.50", "at": at.isoformat()}
    assert json.loads(json_text([2**70])) == [2**70]


def test_insert_fills_defaults_returns_new_rows_and_leaves_out_conflicts():
    profile = Profile.objects.create()
    now = timezone.now()
    record = {
        "profile_id": profile.pk,
        "channel": "email",
        "idempotency_key": "a",
        "due_at": now,
        "created_at": now,
    }
    (first,) = records_insert(Message, [record], returning=("id", "status", "data"))
    assert first[1:] == ("pending", "{}")  # defaults from the model (raw jsonb text)
    again = records_insert(
        Message, [record, {**record, "idempotency_key": "b"}], returning=("idempotency_key",),
        conflict_ignore=("idempotency_key",),
    )  # fmt: skip
    assert again == [("b",)]
    assert records_insert(Message, [record], conflict_ignore=ANY_UNIQUE) == []
    assert records_insert(Message, []) == []


def test_update_writes_each_row_keeps_nulls_where_asked_and_reports_what_it_updated():
    profile = Profile.objects.create()
    now = timezone.now()
    a, b = (
        Message.objects.create(profile=profile, channel="email", idempotency_key=k, due_at=now, error="old")
        for k in "ab"
    )
    updated = records_update(
        Message,
        [
            {"pk": a.pk, "status": "sent", "error": None, "cost": Decimal("0.0075")},
            {"pk": b.pk, "status": "failed", "error": "boom", "cost": None},
            {"pk": 10**9, "status": "sent", "error": None, "cost": None},  # no such row
        ],
        ["status", "error", "cost"],
        keep_when_null=["error"],
    )
    assert sorted(updated) == sorted([a.pk, b.pk])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.error, a.cost) == ("sent", "old", Decimal("0.0075"))
    assert (b.status, b.error, b.cost) == ("failed", "boom", None)
    # A condition on the row (alias t): only pending rows change.
    assert (
        records_update(Message, [{"pk": a.pk, "status": "pending"}], ["status"], where="AND t.status = 'x'")
        == []
    )


def test_any_of_filters_by_one_array_and_an_empty_list_matches_nothing():
    profile = Profile.objects.create()
    ids = [
        Message.objects.create(profile=profile, channel="email", idempotency_key=k, due_at=timezone.now()).pk
        for k in "abc"
    ]
    assert sorted(Message.objects.filter(AnyOf(F("pk"), ids[:2])).values_list("pk", flat=True)) == ids[:2]
    assert not Message.objects.filter(AnyOf(F("pk"), [])).exists()
