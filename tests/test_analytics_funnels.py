"""Funnels and retention on named edge cases (the ones PostHog's funnel tests list), validation by path,
and the drop-off audience link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from audiences.rules import validate_rule
from audiences.testing import event_add, profile_add
from tracking.analytics.behaviour.common import AnalysisInvalid
from tracking.analytics.behaviour.funnels import funnel_compute, funnel_dropoff_rule, funnel_parse
from tracking.analytics.behaviour.retention import retention_compute, retention_parse
from tracking.analytics.models import EventNameMapping

pytestmark = pytest.mark.django_db
T = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def funnel(steps, **extra):
    raw = {
        "steps": [s if isinstance(s, dict) else {"event": s} for s in steps],
        "window_minutes": extra.pop("window_minutes", 60),
        "date_from": "2026-05-04",
        "date_to": "2026-05-10",
        **extra,
    }
    return funnel_compute(definition=funnel_parse(raw))


def counts(result):
    return [s["count"] for s in result["steps"]]


def test_same_event_in_two_steps_needs_two_events():
    one, two = profile_add(), profile_add()
    event_add(profile=one, name="Product Viewed", at=T)
    event_add(profile=two, name="Product Viewed", at=T)
    event_add(profile=two, name="Product Viewed", at=T + timedelta(minutes=5))
    assert counts(funnel(["Product Viewed", "Product Viewed"])) == [2, 1]


def test_ties_in_time_count_in_arrival_order():
    p = profile_add()
    event_add(profile=p, name="Product Added", at=T)
    event_add(profile=p, name="Checkout Started", at=T)  # same instant, arrived later: in order
    q = profile_add()
    event_add(profile=q, name="Checkout Started", at=T)  # arrived first: before the add
    event_add(profile=q, name="Product Added", at=T)
    assert counts(funnel(["Product Added", "Checkout Started"])) == [2, 1]


def test_window_boundary_is_inclusive_and_later_steps_may_leave_the_range():
    inside, outside = profile_add(), profile_add()
    start = datetime(2026, 5, 10, 23, 30, tzinfo=UTC)  # last day of the range
    event_add(profile=inside, name="A", at=start)
    event_add(profile=inside, name="B", at=start + timedelta(minutes=60))  # exactly at the edge, next day
    event_add(profile=outside, name="A", at=start)
    event_add(profile=outside, name="B", at=start + timedelta(minutes=60, seconds=1))
    assert counts(funnel(["A", "B"])) == [2, 1]


def test_a_later_attempt_can_convert_when_the_first_one_times_out():
    p = profile_add()
    event_add(profile=p, name="A", at=T)
    event_add(profile=p, name="A", at=T + timedelta(hours=5))
    event_add(profile=p, name="B", at=T + timedelta(hours=5, minutes=10))
    result = funnel(["A", "B"])
    assert counts(result) == [1, 1]
    assert result["steps"][1]["median_seconds_from_previous"] == 600


def test_breakdown_value_that_changes_between_attempts_counts_in_both_groups():
    p = profile_add(country="DE")
    event_add(profile=p, name="A", at=T, properties={"category": "shoes"})
    event_add(profile=p, name="A", at=T + timedelta(hours=3), properties={"category": "hats"})
    event_add(profile=p, name="B", at=T + timedelta(hours=3, minutes=1))
    result = funnel(["A", "B"], breakdown=[{"kind": "property", "key": "category"}, {"kind": "country"}])
    groups = {tuple(g["values"]): [s["count"] for s in g["steps"]] for g in result["breakdown"]}
    assert groups == {("hats", "DE"): [1, 1], ("shoes", "DE"): [1, 0]}
    assert counts(result) == [1, 1]  # the total counts the profile once, with its best attempt


def test_exclusion_between_steps_discards_the_attempt():
    clean, removed, removed_after = profile_add(), profile_add(), profile_add()
    for p in (clean, removed, removed_after):
        event_add(profile=p, name="Product Added", at=T)
        event_add(profile=p, name="Checkout Started", at=T + timedelta(minutes=2))
    event_add(profile=removed, name="Product Removed", at=T + timedelta(minutes=1))
    event_add(profile=removed_after, name="Product Removed", at=T + timedelta(minutes=3))
    result = funnel(
        ["Product Added", "Checkout Started"],
        exclusions=[{"event": "Product Removed", "from_step": 1, "to_step": 2}],
    )
    assert counts(result) == [2, 2]


def test_strict_order_is_broken_by_any_event_between():
    p, q = profile_add(), profile_add()
    for who in (p, q):
        event_add(profile=who, name="A", at=T)
    event_add(profile=q, name="Page", at=T + timedelta(minutes=1), type="page")
    for who in (p, q):
        event_add(profile=who, name="B", at=T + timedelta(minutes=2))
    assert counts(funnel(["A", "B"], order="strict")) == [2, 1]
    assert counts(funnel(["A", "B"], order="sequential")) == [2, 2]


def test_any_order_counts_steps_in_either_order():
    p = profile_add()
    event_add(profile=p, name="B", at=T)
    event_add(profile=p, name="A", at=T + timedelta(minutes=1))
    assert counts(funnel(["A", "B"], order="any")) == [1, 1]
    assert counts(funnel(["A", "B"])) == [1, 0]


def test_step_filters_use_the_condition_language_type_strictly():
    p, q = profile_add(), profile_add()
    event_add(profile=p, name="A", at=T, properties={"price": 30})
    event_add(profile=q, name="A", at=T, properties={"price": "30"})  # a string is not a number
    result = funnel([{"event": "A", "where": [{"property": "price", "op": "gte", "value": 20}]}, "B"])
    assert counts(result)[0] == 1


def test_workspace_names_map_onto_spec_events():
    EventNameMapping.objects.create(spec_name="Product Added", workspace_name="add_to_cart")
    p = profile_add()
    event_add(profile=p, name="Product Viewed", at=T)
    event_add(profile=p, name="add_to_cart", at=T + timedelta(minutes=1))
    assert counts(funnel(["Product Viewed", "Product Added"])) == [1, 1]


def test_local_time_puts_each_profile_in_its_own_day():
    tokyo = profile_add(timezone="Asia/Tokyo")
    # 2026-05-03 20:00 UTC is already 05:00 on the 4th in Tokyo: inside a range starting on the 4th.
    event_add(profile=tokyo, name="A", at=datetime(2026, 5, 3, 20, 0, tzinfo=UTC))
    assert counts(funnel(["A", "B"], tz="local")) == [1, 0]
    assert counts(funnel(["A", "B"], tz="utc")) == [0, 0]


def test_compare_range_is_computed_beside():
    p = profile_add()
    event_add(profile=p, name="A", at=T - timedelta(days=7))
    event_add(profile=p, name="B", at=T - timedelta(days=7) + timedelta(minutes=1))
    result = funnel(["A", "B"], compare={"date_from": "2026-04-27", "date_to": "2026-05-03"})
    assert counts(result) == [0, 0]
    assert [s["count"] for s in result["compare"]["steps"]] == [1, 1]


def test_bad_definitions_are_reported_by_path():
    with pytest.raises(AnalysisInvalid) as exc:
        funnel_parse(
            {
                "steps": [
                    {"event": "A", "where": [{"property": "x", "op": "gt", "value": "a"}]},
                    {"event": ""},
                ],
                "window_minutes": 0,
                "order": "sideways",
                "breakdown": [{"kind": "planet"}],
                "date_from": "2026-05-10",
                "date_to": "2026-05-01",
            }
        )
    paths = {e["path"] for e in exc.value.errors}
    assert {
        "steps[0].where[0].value",
        "steps[1].event",
        "window_minutes",
        "order",
        "breakdown[0].kind",
        "date_to",
    } <= paths


def test_dropoff_rule_is_a_valid_audience_rule_and_the_link_carries_it():
    defn = funnel_parse(
        {
            "steps": [
                {
                    "event": "Product Viewed",
                    "where": [{"property": "category", "op": "eq", "value": "shoes"}],
                },
                {"event": "Product Added"},
                {"event": "Order Completed"},
            ],
            "window_minutes": 60,
            "date_from": "2026-05-04",
            "date_to": "2026-05-10",
        }
    )
    for step in (1, 2):
        rule = funnel_dropoff_rule(definition=defn, step=step)
        assert validate_rule(rule, check_catalogue=False).ok, rule
    assert funnel_dropoff_rule(definition=defn, step=3) is None
    result = funnel_compute(definition=defn)
    url = result["steps"][1]["audience_url"]
    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path == "/admin/audiences/audience/add/"
    assert json.loads(query["rule"][0])["all"][1]["not"]["sequence"][2]["event"] == "Order Completed"


def test_dropoff_link_opens_the_audience_builder_with_the_rule_filled(admin_client):
    defn = funnel_parse(
        {
            "steps": [{"event": "A"}, {"event": "B"}],
            "window_minutes": 60,
            "date_from": "2026-05-04",
            "date_to": "2026-05-10",
        }
    )
    url = funnel_compute(definition=defn)["steps"][0]["audience_url"]
    page = admin_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="Dropped after A (before B)"' in body
    # The rule arrives as JSON the editor reads, not as one quoted string.
    assert 'aria-label="Rule as JSON">{&quot;all&quot;' in body


def test_retention_first_time_and_recurring():
    p, q = profile_add(country="DE"), profile_add(country="FR")
    week = timedelta(days=7)
    event_add(profile=p, name="Order Completed", at=T)
    event_add(profile=p, name="Order Completed", at=T + week)
    event_add(profile=p, name="Order Completed", at=T + 2 * week)
    event_add(profile=q, name="Order Completed", at=T - 5 * week)  # first ever: before the range
    event_add(profile=q, name="Order Completed", at=T + week)
    raw = {
        "start": {"event": "Order Completed"},
        "return": {"event": "Order Completed"},
        "period": "week",
        "periods": 3,
        "date_from": "2026-05-04",
        "date_to": "2026-05-17",
    }
    now = T + 10 * week
    first = retention_compute(definition=retention_parse({**raw, "mode": "first_time"}), now=now)
    assert [(c["period_start"], [x["count"] for x in c["cells"]]) for c in first["cohorts"]] == [
        ("2026-05-04", [1, 1, 1])
    ]
    rec = retention_compute(
        definition=retention_parse({**raw, "mode": "recurring", "breakdown": [{"kind": "country"}]}), now=now
    )
    got = {(c["period_start"], tuple(c["values"])): [x["count"] for x in c["cells"]] for c in rec["cohorts"]}
    assert got == {
        ("2026-05-04", ("DE",)): [1, 1, 1],
        ("2026-05-11", ("DE",)): [1, 1, 0],
        ("2026-05-11", ("FR",)): [1, 0, 0],
    }
    # Periods that have not begun are empty, not zero, and stay out of the curve.
    early = retention_compute(
        definition=retention_parse({**raw, "mode": "recurring"}), now=T + week + timedelta(days=1)
    )
    assert [x["count"] for x in early["cohorts"][0]["cells"]] == [1, 1, None]
    assert early["curve"][2]["rate"] is None


def test_acquisition_channel_breakdown_reads_each_profiles_first_touch():
    from tracking.analytics.models import Touch

    paid, mail, none = profile_add(), profile_add(), profile_add()
    for n, (p, channel, at) in enumerate(
        [
            (paid, "Paid Search", T - timedelta(days=3)),
            (paid, "Email", T - timedelta(days=1)),
            (mail, "Email", T),
        ]
    ):
        Touch.objects.create(event_id=900000 + n, profile=p, at=at, channel=channel)
    for p in (paid, mail, none):
        event_add(profile=p, name="Product Viewed", at=T + timedelta(minutes=1))
    event_add(profile=paid, name="Order Completed", at=T + timedelta(minutes=5))
    result = funnel(["Product Viewed", "Order Completed"], breakdown=[{"kind": "channel"}])
    got = {tuple(g["values"]): [s["count"] for s in g["steps"]] for g in result["breakdown"]}
    assert got == {("Paid Search",): [1, 1], ("Email",): [1, 0], (None,): [1, 0]}
    raw = {
        "start": {"event": "Product Viewed"},
        "return": {"event": "Order Completed"},
        "period": "week",
        "periods": 2,
        "mode": "recurring",
        "breakdown": [{"kind": "channel"}],
        "date_from": "2026-05-04",
        "date_to": "2026-05-10",
    }
    rec = retention_compute(definition=retention_parse(raw), now=T + timedelta(days=30))
    assert {tuple(c["values"]): c["size"] for c in rec["cohorts"]} == {
        ("Paid Search",): 1,
        ("Email",): 1,
        (None,): 1,
    }
