"""The search, slot and affinity pages read rollups (plus a live tail of days not folded) and their
figures equal the raw queries over events: all live, half folded, after a late event marks a day dirty
(before and after the fold), after a profile merge and after a new event-name mapping."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from audiences.testing import profile_add, source_default
from tracking.analytics.behaviour import affinity, rollups, search, slots
from tracking.analytics.behaviour.common import DateRange
from tracking.analytics.models import EventNameMapping, RollupDay, RollupDirty, SearchSynonym
from tracking.models import Event

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 16
QUERIES = ["Red Shoes", "red  shoes", "tee", "T-Shirt", "lamp", "zzz", " socks "]
PRODUCTS = [("p1", "shoes"), ("p2", "shoes"), ("p3", "shirts"), ("p4", "lamps"), ("p5", "socks")]


def _events(seed: int, profiles: list, n: int = 600) -> list[Event]:
    rnd = random.Random(seed)
    source = source_default()
    out = []
    for _ in range(n):
        p = rnd.choice(profiles)
        # Bunch events into short sessions near midnight now and then, so windows cross day edges.
        at = START + timedelta(
            days=rnd.randrange(DAYS), minutes=rnd.choice([rnd.randrange(1440), 1430, 5, 1439])
        )
        at += timedelta(seconds=rnd.randrange(60))
        kind = rnd.random()
        if kind < 0.25:
            name, props = "Products Searched", {"query": rnd.choice(QUERIES)}
            if rnd.random() < 0.8:
                props["results_count"] = rnd.choice([0, 0, 3, 12])
        elif kind < 0.4:
            name, props = "Product Clicked", {"position": rnd.choice([1, 2, 5, "x"]), "product_id": "p1"}
        elif kind < 0.5:
            name, props = "Product Added", {"product_id": rnd.choice(PRODUCTS)[0]}
        elif kind < 0.65:
            name, props = (
                "Promotion Viewed",
                {
                    "promotion_id": rnd.choice(["spring", "sale"]),
                    "creative": "a",
                    "position": rnd.choice(["top", "side"]),
                },
            )
        elif kind < 0.75:
            name, props = (
                "Promotion Clicked",
                {
                    "promotion_id": rnd.choice(["spring", "sale"]),
                    "creative": "a",
                    "position": rnd.choice(["top", "side"]),
                },
            )
        else:
            items = rnd.sample(PRODUCTS, rnd.randint(1, 3))
            name = rnd.choice(["Order Completed", "Order Completed", "Purchase"])
            props = {
                "order_id": uuid.uuid4().hex,
                "revenue": rnd.choice([10, 25.5, "12"]),
                "currency": rnd.choice(["EUR", "USD", "", "GBP"]),
                "products": [{"product_id": i, "category": c} for i, c in items],
            }
        out.append(
            Event(
                source=source, message_id=uuid.uuid4().hex, type="track", name=name, profile=p,
                properties=props, timestamp=at, received_at=at, processed_at=at,
            )
        )  # fmt: skip
    return Event.objects.bulk_create(out)


def _rng(lo: int, hi: int) -> DateRange:
    return DateRange(date(2026, 3, 2) + timedelta(days=lo), date(2026, 3, 2) + timedelta(days=hi), "utc")


def _check(rng: DateRange) -> None:
    s_opt = search.SearchOptions(rng, search.ROLLUP_WINDOW_MINUTES)
    got, want = search.search_rows_rollup(options=s_opt), search.search_rows(options=s_opt)
    assert [r["keyword"] for r in got] == [r["keyword"] for r in want]
    for a, b in zip(got, want, strict=True):
        assert {k: v for k, v in a.items() if v != b[k]} == {k: v for k, v in b.items() if v != a[k]}, a[
            "keyword"
        ]
    sl_opt = slots.SlotOptions(rng, slots.ROLLUP_WINDOW_HOURS)
    assert slots.slots_rows_rollup(options=sl_opt) == slots.slots_rows(options=sl_opt)
    for level in affinity.LEVELS:
        a_opt = affinity.AffinityOptions(rng, level, "order", 30, 1)
        assert affinity.affinity_rows_rollup(options=a_opt) == affinity.affinity_rows(options=a_opt)


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_the_raw_recompute_folded_half_folded_and_dirty(seed):
    SearchSynonym.objects.create(term="tee", keyword="t-shirt")
    profiles = [profile_add() for _ in range(12)]
    events = _events(seed, profiles)
    ranges = [_rng(0, DAYS - 1), _rng(3, 9), _rng(5, 5)]
    for rng in ranges:  # nothing folded: every day live
        _check(rng)
    rollups.rollup_fold(kind="search", day_from=date(2026, 3, 4), day_to=date(2026, 3, 8))
    rollups.rollup_fold(kind="slots", day_from=date(2026, 3, 3), day_to=date(2026, 3, 12))
    rollups.rollup_fold(kind="affinity", day_from=date(2026, 3, 2), day_to=date(2026, 3, 6))
    for rng in ranges:  # some days folded, the rest live
        _check(rng)
    call_command("behaviour_rollups_rebuild", "--no-progress", "--chunk-days", "3")
    assert rollups.rollup_live_days(kind="search", rng=_rng(0, DAYS - 1)) == []
    for rng in ranges:
        _check(rng)
    # A late search, click and order just after midnight change the day before, too.
    p = profiles[0]
    late_at = START + timedelta(days=6, minutes=10)
    late = _events(seed + 100, [p], n=40)
    Event.objects.filter(pk__in=[e.pk for e in late]).update(timestamp=late_at)
    rollups.rollup_mark_events(event_ids=[e.pk for e in late])
    assert set(RollupDirty.objects.filter(kind="search").values_list("day", flat=True)) == {
        date(2026, 3, 7),
        date(2026, 3, 8),
    }
    for rng in ranges:  # dirty days read live
        _check(rng)
    assert rollups.rollup_fold_dirty(limit=100) > 0
    assert not RollupDirty.objects.exists()
    for rng in ranges:
        _check(rng)
    # A mapped workspace name counts from now on: every folded day is dirty until refolded.
    EventNameMapping.objects.create(spec_name="Order Completed", workspace_name="Purchase")
    folded = RollupDay.objects.filter(kind="affinity").count()
    assert folded >= DAYS and RollupDirty.objects.filter(kind="affinity").count() == folded
    _check(ranges[0])
    rollups.rollup_fold_dirty(limit=1000)
    _check(ranges[0])
    assert events


def test_merge_marks_both_profiles_days_and_the_fold_catches_up():
    from tracking.services.profiles import profile_merge

    profiles = [profile_add() for _ in range(4)]
    _events(7, profiles, n=300)
    call_command("behaviour_rollups_rebuild", "--no-progress")
    profile_merge(survivor=profiles[0], merged=profiles[1], reason="test")
    assert RollupDirty.objects.exists()
    _check(_rng(0, DAYS - 1))
    rollups.rollup_fold_dirty(limit=1000)
    _check(_rng(0, DAYS - 1))


def test_pages_say_they_read_rollups_and_fall_back_to_raw_for_other_settings():
    base = {"date_from": "2026-03-02", "date_to": "2026-03-17"}
    assert search.search_report({**base, "tz": "utc", "window_minutes": "60"})["from_rollups"] is True
    assert search.search_report({**base, "tz": "utc", "window_minutes": "30"})["from_rollups"] is False
    assert slots.slots_report({**base, "window_hours": "24"})["from_rollups"] is True
    assert slots.slots_report({**base, "window_hours": "2"})["from_rollups"] is False
    assert affinity.affinity_report({**base, "mode": "order"})["from_rollups"] is True
    assert affinity.affinity_report({**base, "mode": "days"})["from_rollups"] is False


def test_processing_signal_marks_days_and_the_beat_task_folds_them():
    from tracking import signals
    from tracking.analytics.tasks_behaviour import behaviour_rollups_fold

    p = profile_add()
    late = _events(11, [p], n=60)
    signals.events_processed.send(sender=Event, event_ids=[e.pk for e in late], profile_ids=[p.pk])
    dirty = set(RollupDirty.objects.values_list("kind", "day"))
    assert {kind for kind, _ in dirty} == {"search", "slots", "affinity"}
    assert behaviour_rollups_fold.delay().get() == len(dirty)
    assert not RollupDirty.objects.exists()
    assert dirty <= set(RollupDay.objects.values_list("kind", "day"))
    _check(_rng(0, DAYS - 1))
