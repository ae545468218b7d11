"""Results of an on-site message per arm (impressions, visitors, closes, clicks, submits, goal
conversions and revenue per currency), in its admin page and in the campaign reports' overview."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from journeys.onsite.models import Interaction, Message, Status, Variant
from journeys.onsite.selectors import message_results
from journeys.onsite.services import PageContext, interaction_record, messages_cache_clear
from tests.tracking_helpers import ingest, role_user
from tracking.models import Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(db) -> Source:
    return Source.objects.create(name="shop-web", write_key="wk_onsite_results")


def _setup(site: Source) -> Message:
    message = Message.objects.create(
        name="Spring offer", source=site, status=Status.ACTIVE, goal_event="Order Completed", goal_days=7,
        once_per_session=False,
    )  # fmt: skip
    for arm in ("A", "B"):
        Variant.objects.create(message=message, arm=arm, headline=f"Offer {arm}")
    messages_cache_clear()
    # Four browsers: two see A (one twice, then clicks and buys), two see B (one closes it).
    for anon, user in (("a1", "u1"), ("a2", "u2"), ("b1", "u3"), ("b2", "u4")):
        ingest(site, {"type": "identify", "messageId": f"i-{anon}", "anonymousId": anon, "userId": user})

    def record(anon: str, arm: str, kind: str) -> None:
        context = PageContext(anonymous_id=anon, session_id=f"s-{anon}", page_view_id=f"pv-{anon}")
        interaction_record(source=site, context=context, message_id=message.pk, arm=arm, kind=kind)

    for anon, arm, kind in (
        ("a1", "A", "view"), ("a1", "A", "view"), ("a1", "A", "click"), ("a2", "A", "view"),
        ("b1", "B", "view"), ("b1", "B", "close"), ("b2", "B", "view"),
    ):  # fmt: skip
        record(anon, arm, kind)
    ingest(
        site,
        {"type": "track", "messageId": "o-1", "anonymousId": "a1", "event": "Order Completed",
         "properties": {"revenue": 42.5, "currency": "eur"}},
        # bought before ever seeing it (10 days earlier): not a conversion
        {"type": "track", "messageId": "o-2", "anonymousId": "b1", "event": "Order Completed",
         "timestamp": (timezone.now() - timedelta(days=10)).isoformat(), "properties": {"revenue": 9}},
    )  # fmt: skip
    return message


def test_results_per_arm_count_visitors_once_and_conversions_within_the_window(site):
    message = _setup(site)
    results = message_results(message=message)
    by_arm = {a.arm: a for a in results.arms}
    assert (by_arm["A"].impressions, by_arm["A"].visitors, by_arm["A"].clicks) == (3, 2, 1)
    assert (by_arm["B"].impressions, by_arm["B"].visitors, by_arm["B"].closes) == (2, 2, 1)
    assert (by_arm["A"].conversions, by_arm["B"].conversions) == (1, 0)
    assert str(by_arm["A"].revenue["EUR"]) == "42.5" and by_arm["B"].revenue == {}
    assert results.metric == "conversion" and "conversion rate" in results.verdict.sentence
    # A range without the interactions counts nothing.
    assert message_results(message=message, end=date.today() - timedelta(days=2)).arms == []


def test_the_campaign_overview_lists_on_site_messages_for_a_marketer(site):
    message = _setup(site)
    Interaction.objects.filter(message=message, anonymous_id="b2").update(
        at=timezone.now() - timedelta(days=3)
    )
    client = Client()
    client.force_login(role_user("marketer", staff=True))
    page = client.get("/reports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="campaigns-onsite"' in html and "Spring offer" in html
    assert f"/admin/onsite/message/{message.pk}/change/#results" in html
    # The range applies: two days ago is outside, so B has one visitor.
    recent = client.get(
        "/reports/", {"start": (date.today() - timedelta(days=1)).isoformat()}
    ).content.decode()
    row_b = recent[recent.index("arm B") :].split("</tr>")[0]
    assert [c.split("</td>")[0] for c in row_b.split("<td>")[1:4]] == ["1", "1", "1"]
    # The message's own admin page shows the same table to the marketer (read only).
    admin_page = client.get(f"/admin/onsite/message/{message.pk}/change/").content.decode()
    assert 'class="onsite-results"' in admin_page and "42.50 EUR" in admin_page
    assert 'name="_save"' not in admin_page
