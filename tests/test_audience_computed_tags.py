"""Computed tags are recomputed in bulk and usable in rules like manual tags."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from audiences.compiler import profiles_matching
from audiences.models import ComputedTag
from audiences.services.computed_tags import computed_tags_recompute
from audiences.testing import event_add, profile_add
from tracking.models import Profile

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # a Monday


def tags_of(profile):
    return set(ComputedTag.objects.filter(profile=profile).values_list("name", flat=True))


def order(profile, days_ago, revenue, **props):
    event_add(
        profile=profile,
        name="Order Completed",
        at=NOW - timedelta(days=days_ago),
        properties={"revenue": revenue, **props},
    )


@pytest.fixture
def buyers():
    """Ten buyers: index 0 orders most, most recently and spends most; index 9 least."""
    people = []
    for i in range(10):
        p = profile_add(first_seen_at=NOW - timedelta(days=400), last_seen_at=NOW - timedelta(days=i * 20))
        for k in range(10 - i):
            order(p, days_ago=i * 20 + k, revenue=100 - i * 10)
        people.append(p)
    return people


def test_rfm_segments_rank_buyers(buyers):
    computed_tags_recompute(now=NOW)
    assert "rfm:champions" in tags_of(buyers[0]) and "rfm:champions" in tags_of(buyers[1])
    assert "rfm:lost" in tags_of(buyers[9])
    assert ComputedTag.objects.get(profile=buyers[0], family="rfm").value == "555"
    assert ComputedTag.objects.filter(family="rfm").count() == 10
    # Rules use them like any tag.
    # Quintiles of ten buyers: the top four score 4 or 5 on recency and frequency.
    assert set(profiles_matching({"tag": "rfm:champions"}, now=NOW).values_list("pk", flat=True)) == {
        p.pk for p in buyers[:4]
    }
    assert "rfm:potential" not in tags_of(buyers[4]) and "rfm:loyal" in tags_of(buyers[4])


@override_settings(
    AUDIENCES_LIFECYCLE_NEW_DAYS=14, AUDIENCES_LIFECYCLE_ACTIVE_DAYS=30, AUDIENCES_LIFECYCLE_AT_RISK_DAYS=90
)
def test_lifecycle_stages_follow_configured_thresholds():
    new = profile_add(first_seen_at=NOW - timedelta(days=3), last_seen_at=NOW - timedelta(days=1))
    active = profile_add(first_seen_at=NOW - timedelta(days=100), last_seen_at=NOW - timedelta(days=10))
    at_risk = profile_add(first_seen_at=NOW - timedelta(days=100), last_seen_at=NOW - timedelta(days=60))
    churned = profile_add(first_seen_at=NOW - timedelta(days=300), last_seen_at=NOW - timedelta(days=200))
    computed_tags_recompute(now=NOW)
    assert tags_of(new) == {"lifecycle:new"}
    assert tags_of(active) == {"lifecycle:active"}
    assert tags_of(at_risk) == {"lifecycle:at_risk"}
    assert tags_of(churned) == {"lifecycle:churned"}
    with override_settings(AUDIENCES_LIFECYCLE_ACTIVE_DAYS=90):
        computed_tags_recompute(now=NOW)
    assert tags_of(at_risk) == {"lifecycle:active"}


def test_active_hour_and_weekday_are_in_the_profiles_time_zone():
    tokyo = profile_add(timezone="Asia/Tokyo")
    nowhere = profile_add(timezone="Not/AZone")
    # Sunday 2025-06-01 15:00 UTC is Monday 00:00 in Tokyo.
    for days in (0, 7, 14):
        at = datetime(2025, 6, 1, 15, 0, tzinfo=UTC) - timedelta(days=days)
        event_add(profile=tokyo, name="Product Viewed", at=at)
        event_add(profile=nowhere, name="Product Viewed", at=at)
    event_add(profile=tokyo, name="Product Viewed", at=datetime(2025, 5, 28, 3, 0, tzinfo=UTC))
    computed_tags_recompute(now=NOW)
    assert {"active_hour:0", "active_weekday:mon"} <= tags_of(tokyo)
    assert {"active_hour:15", "active_weekday:sun"} <= tags_of(nowhere)


def test_favourite_category_and_coupon_sensitivity():
    p = profile_add()
    q = profile_add()
    event_add(profile=p, name="Product Viewed", at=NOW - timedelta(days=1), properties={"category": "Tea"})
    order(p, 2, 20, products=[{"category": "Coffee Beans"}, {"category": "Coffee Beans"}], coupon="SPRING")
    order(p, 3, 20, discount=2.5)
    order(p, 4, 20)
    order(q, 4, 20, discount=0)
    computed_tags_recompute(now=NOW)
    assert "favourite_category:coffee_beans" in tags_of(p)
    assert "coupon_sensitivity:high" in tags_of(p)
    assert ComputedTag.objects.get(profile=p, family="coupon_sensitivity").value == "0.67"
    assert "coupon_sensitivity:low" in tags_of(q)


def test_recompute_replaces_previous_tags():
    p = profile_add(first_seen_at=NOW - timedelta(days=3), last_seen_at=NOW)
    computed_tags_recompute(now=NOW)
    Profile.objects.filter(pk=p.pk).update(last_seen_at=None)
    computed_tags_recompute(now=NOW)
    assert tags_of(p) == set()
