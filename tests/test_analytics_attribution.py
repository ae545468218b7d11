"""Touches, the channel taxonomy and attribution against hand-computed small cases."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.tracking_helpers import ingest
from tracking.analytics.acquisition.attribution import attribution_refresh
from tracking.analytics.acquisition.touches import touches_extract
from tracking.analytics.models import ChannelRule, OrderCredit, OrderFact, Partner, Touch
from tracking.models import Profile, Source

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
DAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def page(
    user: str, at: datetime, *, query: str = "", referrer: str = "", campaign: dict | None = None
) -> dict:
    context: dict = {"page": {"url": f"{SHOP}/landing{query}", "path": "/landing", "referrer": referrer}}
    if campaign:
        context["campaign"] = campaign
    return {
        "type": "page",
        "name": "Landing",
        "userId": user,
        "timestamp": at.isoformat(),
        "context": context,
    }


def order(user: str, at: datetime, amount: float, currency: str, **extra) -> dict:
    properties = {"order_id": f"{user}-{at:%d%H}", "revenue": amount, "currency": currency, **extra}
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "timestamp": at.isoformat(),
        "properties": properties,
    }


def credits(user: str, model: str) -> list[tuple[str, str, Decimal]]:
    profile = Profile.objects.get(identities__value=user)
    rows = OrderCredit.objects.filter(order__profile=profile, model=model).order_by("touch__at", "id")
    return [(c.channel, c.campaign, c.weight) for c in rows]


@pytest.fixture
def journey(source):
    Partner.objects.create(name="Mia Cooks", kind="kol", coupon_code="MIA10", commission_percent=10)
    ingest(
        source,
        # u1: paid search ad, then an organic Facebook visit, then a direct visit, then an order.
        page(
            "u1", DAY, query="?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_content=ad-a&gclid=Cj0"
        ),
        page("u1", DAY + timedelta(days=2), referrer="https://l.facebook.com/"),
        page("u1", DAY + timedelta(days=3, hours=1), referrer=f"{SHOP}/landing"),  # navigation: no touch
        page("u1", DAY + timedelta(days=4)),
        order("u1", DAY + timedelta(days=5), 100.0, "USD"),
        # u2: an email click 40 days before the order: outside the 30-day lookback.
        page(
            "u2",
            DAY - timedelta(days=35),
            campaign={"source": "newsletter", "medium": "email", "name": "march"},
        ),
        order("u2", DAY + timedelta(days=5), 50.0, "EUR"),
        # u3: a TikTok ad click, then an order with a KOL's coupon.
        page("u3", DAY, query="?ttclid=E.C.P&utm_source=tiktok&utm_campaign=launch"),
        order("u3", DAY + timedelta(days=1), 2000, "JPY", coupon="mia10"),
    )
    touches_extract(since=DAY - timedelta(days=60), until=DAY + timedelta(days=60))
    attribution_refresh(lookback_days=30)


def test_touches_are_read_and_classified(journey):
    by_user = {
        user: list(
            Touch.objects.filter(profile__identities__value=user)
            .order_by("at")
            .values_list(
                "channel", "source", "medium", "campaign", "content", "click_id_kind", "referrer_host"
            )
        )
        for user in ("u1", "u2", "u3")
    }
    assert by_user["u1"] == [
        ("Paid Search", "google", "cpc", "brand", "ad-a", "gclid", ""),
        ("Organic Social", "", "", "", "", "", "l.facebook.com"),
        ("Direct", "", "", "", "", "", ""),
    ]
    assert by_user["u2"] == [("Email", "newsletter", "email", "march", "", "", "")]
    assert by_user["u3"] == [("Paid Social", "tiktok", "", "launch", "", "ttclid", "")]
    assert OrderFact.objects.count() == 3


def test_first_last_linear_and_position_credit(journey):
    third = Decimal(1) / 3
    assert credits("u1", "first") == [("Paid Search", "brand", 1)]
    assert credits("u1", "last") == [("Direct", "", 1)]
    linear = credits("u1", "linear")
    assert [c[0] for c in linear] == ["Paid Search", "Organic Social", "Direct"]
    assert all(abs(c[2] - third) < Decimal("1e-9") for c in linear)
    assert [c[2] for c in credits("u1", "position")] == [Decimal("0.4"), Decimal("0.2"), Decimal("0.4")]


def test_order_without_touch_in_lookback_is_direct(journey):
    for model in ("first", "last", "linear", "position"):
        assert credits("u2", model) == [("Direct", "", 1)]


def test_partner_coupon_takes_the_whole_order(journey):
    for model in ("first", "last", "linear", "position"):
        assert credits("u3", model) == [("Affiliate/KOL", "Mia Cooks", 1)]


def test_operator_rule_changes_classification(source):
    ChannelRule.objects.create(priority=1, channel="Affiliate/KOL", source_pattern="^partnerhub$")
    ingest(source, page("u9", DAY, query="?utm_source=partnerhub&utm_medium=cpc"))
    touches_extract(since=DAY - timedelta(days=1), until=DAY + timedelta(days=1))
    assert Touch.objects.get().channel == "Affiliate/KOL"


def test_touches_are_extracted_when_events_are_processed(source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(source, page("u7", DAY, query="?utm_source=google&utm_medium=organic"))
    assert Touch.objects.get().channel == "Organic Search"


def test_imported_amazon_order_is_a_marketplace_touch(db):
    from tracking.imports.messages import order_messages
    from tracking.imports.types import Buyer, OrderItem, ParsedOrder

    amazon = Source.objects.create(name="amazon", write_key="wk_amz")
    parsed = ParsedOrder(
        order_id="114-1",
        line=2,
        purchased_at=DAY,
        currency="GBP",
        buyer=Buyer(email="buyer@example.com"),
        items=[OrderItem(sku="MUG", name="Mug", price=Decimal("12.50"), quantity=2)],
    )
    ingest(amazon, *order_messages(parsed, source_name="amazon"))
    touches_extract(since=DAY - timedelta(days=1), until=DAY + timedelta(days=1))
    attribution_refresh()
    fact = OrderFact.objects.get()
    assert (fact.revenue, fact.currency) == (Decimal("25"), "GBP")
    assert list(OrderCredit.objects.filter(model="last").values_list("channel", flat=True)) == ["Marketplace"]


def test_pages_of_one_visit_are_one_touch_and_a_second_pass_changes_nothing(source):
    landing = "?utm_source=google&utm_medium=cpc&utm_campaign=brand"
    ingest(
        source,
        # A single-page app repeats the landing URL's tags on every page view of the visit.
        page("s1", DAY, query=landing),
        page("s1", DAY + timedelta(minutes=5), query=landing),
        page("s1", DAY + timedelta(minutes=20), query=landing),
        # An hour later: a new visit from the same ad; then a direct visit.
        page("s1", DAY + timedelta(minutes=80), query=landing),
        page("s1", DAY + timedelta(hours=5)),
        page("s1", DAY + timedelta(hours=5, minutes=3)),
    )
    window = {"since": DAY - timedelta(days=1), "until": DAY + timedelta(days=1)}
    touches_extract(**window)
    expected = [
        (DAY, "Paid Search"),
        (DAY + timedelta(minutes=80), "Paid Search"),
        (DAY + timedelta(hours=5), "Direct"),
    ]
    assert list(Touch.objects.order_by("at").values_list("at", "channel")) == expected
    touches_extract(**window)
    assert list(Touch.objects.order_by("at").values_list("at", "channel")) == expected
