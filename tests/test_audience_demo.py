"""The demo's example audiences are created, valid, refreshed and safe to load twice."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.demo import demo_audiences, load_demo
from audiences.models import Audience, AudienceMembership
from audiences.rules import validate_rule
from audiences.testing import event_add, profile_add

pytestmark = pytest.mark.django_db


def test_demo_audiences_are_loaded_and_refreshed_twice_without_duplicates():
    now = timezone.now()
    buyer = profile_add(
        traits={"address": {"country": "DE"}}, first_seen_at=now - timedelta(days=200), last_seen_at=now
    )
    for days in (5, 20):
        event_add(
            profile=buyer,
            name="Order Completed",
            at=now - timedelta(days=days),
            properties={"revenue": 80, "products": [{"sku": "COF-101", "category": "Coffee"}]},
        )
    out = io.StringIO()
    load_demo(stdout=out)
    load_demo(stdout=out)
    assert Audience.objects.count() == len(demo_audiences()) == 6
    members = set(
        AudienceMembership.objects.filter(exited_at__isnull=True).values_list("audience__slug", flat=True)
    )
    assert {"repeat-buyers-us-de-quiet", "coffee-without-grinder"} <= members
    assert AudienceMembership.objects.filter(audience__slug="coffee-without-grinder").count() == 1
    assert "Repeat buyers in the US or Germany who stopped clicking: 1 members" in out.getvalue()
    for audience in Audience.objects.all():
        assert validate_rule(audience.rule, audience_slug=audience.slug, check_catalogue=False).ok
