"""Each form and operator of the rule language selects exactly the profiles it should, in SQL."""

from datetime import UTC, datetime, timedelta

import pytest

from audiences.compiler import profile_matches, profiles_matching
from audiences.models import Audience, AudienceKind, AudienceMembership, ComputedTag
from audiences.rules import RuleInvalid
from audiences.testing import event_add, profile_add
from tracking.models import Consent

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ids(rule, **kw):
    return set(profiles_matching(rule, now=NOW, **kw).values_list("pk", flat=True))


@pytest.fixture
def people():
    a = profile_add(
        traits={
            "plan": "gold",
            "age": 31,
            "vip": True,
            "address": {"country": "US", "city": "Austin"},
            "signed_up": "2025-05-30T10:00:00Z",
            "kids": [{"name": "Zoe"}, {"name": "Max"}],
        },
        tags=["vip", "newsletter"],
    )
    b = profile_add(
        traits={
            "plan": "silver",
            "age": 45.5,
            "vip": False,
            "address": {"country": "DE"},
            "signed_up": "2024-01-02",
        },
        tags=["newsletter"],
    )
    c = profile_add(traits={"plan": "free", "age": "31", "email": "c@example.com"})
    return a, b, c


@pytest.mark.parametrize(
    "trait, op, value, expected",
    [
        ("plan", "eq", "gold", "a"),
        ("plan", "neq", "gold", "bc"),
        ("age", "eq", 31, "a"),  # the string "31" is not the number 31
        ("age", "eq", "31", "c"),
        ("vip", "eq", True, "a"),
        ("plan", "in", ["gold", "free"], "ac"),
        ("plan", "not_in", ["gold", "free"], "b"),
        ("age", "gt", 31, "b"),
        ("age", "gte", 31, "ab"),
        ("age", "lt", 40, "a"),
        ("age", "lte", 45.5, "ab"),
        ("age", "between", [30, 40], "a"),
        ("address.country", "eq", "DE", "b"),
        ("address.city", "contains", "ust", "a"),
        ("address.city", "starts_with", "Aus", "a"),
        ("email", "exists", None, "c"),
        ("email", "not_exists", None, "ab"),
        ("kids.name", "eq", "Max", "a"),
        ("signed_up", "after", "2025-01-01", "a"),
        ("signed_up", "before", "2025-01-01", "b"),
        ("signed_up", "gt", "2024-01-01T23:00:00+00:00", "ab"),
        ("signed_up", "between", ["2024-01-01", "2024-01-02"], "b"),
        ("signed_up", "within_last_days", 7, "a"),
        ("signed_up", "more_than_days_ago", 7, "b"),
    ],
)
def test_trait_operators(people, trait, op, value, expected):
    names = dict(zip("abc", [p.pk for p in people], strict=True))
    cond = {"trait": trait, "op": op} | ({} if value is None else {"value": value})
    assert ids(cond) == {names[n] for n in expected}


def test_tags_match_manual_and_computed_tags(people):
    a, b, c = people
    ComputedTag.objects.create(profile=c, name="rfm:champions", family="rfm", computed_at=NOW)
    assert ids({"tag": "vip"}) == {a.pk}
    assert ids({"tag": "newsletter"}) == {a.pk, b.pk}
    assert ids({"tag": "rfm:champions"}) == {c.pk}
    assert ids({"not": {"tag": "newsletter"}}) == {c.pk}


def test_combinators(people):
    a, b, c = people
    assert ids({"all": [{"tag": "newsletter"}, {"trait": "plan", "op": "eq", "value": "silver"}]}) == {b.pk}
    assert ids({"any": [{"tag": "vip"}, {"trait": "plan", "op": "eq", "value": "free"}]}) == {a.pk, c.pk}
    assert ids({"not": {"any": [{"tag": "vip"}, {"trait": "plan", "op": "eq", "value": "free"}]}}) == {b.pk}


def test_event_count_sum_window_and_where(people):
    a, b, c = people
    for days, revenue in ((1, 60), (10, 50), (100, 500)):
        event_add(
            profile=a, name="Order Completed", at=NOW - timedelta(days=days), properties={"revenue": revenue}
        )
    event_add(
        profile=b,
        name="Order Completed",
        at=NOW - timedelta(days=2),
        properties={"revenue": 20, "products": [{"sku": "SH-1"}, {"sku": "CO-2"}]},
    )
    event_add(profile=c, name="Product Viewed", at=NOW - timedelta(days=1))
    order = {"event": "Order Completed"}
    assert ids(order) == {a.pk, b.pk}
    assert ids(order | {"count": {"gte": 2}, "within_days": 30}) == {a.pk}
    assert ids(order | {"count": {"eq": 0}}) == {c.pk}
    assert ids(order | {"count": {"lte": 1}, "within_days": 30}) == {b.pk, c.pk}
    assert ids({"not": order}) == {c.pk}
    assert ids(order | {"sum": {"property": "revenue", "gt": 100}, "within_days": 30}) == {a.pk}
    assert ids(order | {"sum": {"property": "revenue", "gte": 600}}) == {a.pk}
    assert ids(order | {"sum": {"property": "revenue", "lt": 100}, "within_days": 30}) == {b.pk}
    assert ids(order | {"between": ["2025-02-01", "2025-02-28"]}) == {a.pk}
    assert ids(order | {"where": [{"property": "products.sku", "op": "eq", "value": "SH-1"}]}) == {b.pk}
    assert ids(
        order | {"where": [{"property": "revenue", "op": "gte", "value": 50}], "count": {"gte": 3}}
    ) == {a.pk}


def test_sequence_in_order_within_the_window(people):
    a, b, c = people
    event_add(profile=a, name="Product Viewed", at=NOW - timedelta(days=3))
    event_add(profile=a, name="Order Completed", at=NOW - timedelta(days=2))
    event_add(profile=b, name="Order Completed", at=NOW - timedelta(days=3))
    event_add(profile=b, name="Product Viewed", at=NOW - timedelta(days=2))
    event_add(profile=c, name="Product Viewed", at=NOW - timedelta(days=30))
    event_add(profile=c, name="Order Completed", at=NOW - timedelta(days=1))
    seq = {"sequence": [{"event": "Product Viewed"}, {"event": "Order Completed"}]}
    assert ids(seq) == {a.pk, c.pk}
    assert ids(seq | {"within_days": 7}) == {a.pk}


def test_last_event_older_than_and_within(people):
    a, b, c = people
    event_add(profile=a, name="Order Completed", at=NOW - timedelta(days=90))
    event_add(profile=b, name="Order Completed", at=NOW - timedelta(days=90))
    event_add(profile=b, name="Order Completed", at=NOW - timedelta(days=5))
    assert ids({"last_event": "Order Completed", "older_than_days": 60}) == {a.pk}
    assert ids({"last_event": "Order Completed", "within_days": 30}) == {b.pk}


def test_consent_granted_for_channel_and_topic(people):
    a, b, c = people
    Consent.objects.create(
        profile=a, channel="email", topic="marketing", status="granted", changed_at=NOW, method="form"
    )
    Consent.objects.create(
        profile=b, channel="email", topic="marketing", status="withdrawn", changed_at=NOW, method="form"
    )
    Consent.objects.create(
        profile=c, channel="sms", topic="news", status="granted", changed_at=NOW, method="form"
    )
    assert ids({"consent": "email"}) == {a.pk}
    assert ids({"consent": "sms", "topic": "news"}) == {c.pk}


def test_audience_references_inline_rules_and_read_static_members(people):
    a, b, c = people
    Audience.objects.create(slug="gold", name="Gold", rule={"trait": "plan", "op": "eq", "value": "gold"})
    static = Audience.objects.create(slug="list", name="List", kind=AudienceKind.STATIC)
    AudienceMembership.objects.create(audience=static, profile=c, entered_at=NOW)
    assert ids({"any": [{"audience": "gold"}, {"audience": "list"}]}) == {a.pk, c.pk}
    assert ids({"not": {"audience": "gold"}}) == {b.pk, c.pk}


def test_profile_ids_restrict_the_answer_and_profile_matches(people):
    a, b, c = people
    assert ids({"tag": "newsletter"}, profile_ids=[b.pk, c.pk]) == {b.pk}
    assert profile_matches({"tag": "vip"}, profile_id=a.pk, now=NOW)
    assert not profile_matches({"tag": "vip"}, profile_id=b.pk, now=NOW)


def test_invalid_rules_raise_with_the_report():
    with pytest.raises(RuleInvalid) as info:
        profiles_matching({"all": [{"trait": "x", "op": "nope"}]})
    assert info.value.report.errors[0].path == "all[0].trait.op"


def test_the_compiled_rule_is_one_query(people, django_assert_num_queries):
    rule = {"all": [{"tag": "vip"}, {"event": "Order Completed", "count": {"lte": 3}, "within_days": 30}]}
    qs = profiles_matching(rule, now=NOW)
    with django_assert_num_queries(1):
        list(qs)
