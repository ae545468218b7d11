"""Rules are validated completely before they run: every error by path, warnings for unknown names."""

import pytest

from audiences.catalogue import catalogue_note
from audiences.models import Audience
from audiences.rules import validate_rule


def paths(report):
    return {str(e) for e in report.errors}


def test_every_error_is_reported_at_once_by_path():
    rule = {
        "all": [
            {"trait": "country", "op": "equals", "value": "US"},
            {"event": "Order Completed", "between": ["2024-01-01", "2024-13-45"]},
            {"event": "Order Completed", "count": {"gte": -1}},
            {"tag": ""},
        ]
    }
    report = validate_rule(rule, check_catalogue=False)
    assert not report.ok
    assert paths(report) >= {
        "all[0].trait.op: unknown operator 'equals'; use one of: "
        + ", ".join(__import__("audiences.rules", fromlist=["OPS"]).OPS),
        "all[1].event.between[1]: '2024-13-45' is not an ISO 8601 date",
        "all[2].event.count.gte: must be a non-negative integer",
        "all[3].tag: must be a tag name",
    }
    assert len(report.errors) == 4


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({}, "rule: unknown rule form"),
        ([], "rule: must be an object"),
        ({"all": []}, "all: must be a non-empty list of rules"),
        ({"trait": "a", "event": "x"}, "rule: one form per rule"),
        ({"not": {"event": ""}}, "not.event: must be an event name"),
        ({"event": "x", "count": {"most": 3}}, "event.count.most: unknown comparison"),
        ({"event": "x", "sum": {"gte": 3}}, "event.sum.property: is required"),
        ({"event": "x", "sum": {"property": "revenue", "gte": "a lot"}}, "event.sum.gte: must be a number"),
        ({"event": "x", "within_days": 0}, "event.within_days: must be a positive integer"),
        (
            {"event": "x", "within_days": 3, "between": ["2024-01-01", "2024-02-01"]},
            "event.between: give either",
        ),
        (
            {"event": "x", "where": [{"property": "p", "op": "contains", "value": "a"}]},
            "event.where[0].op: contains",
        ),
        (
            {"event": "x", "where": [{"property": "p", "op": "gt", "value": "soon"}]},
            "event.where[0].value: must be a number or an ISO",
        ),
        ({"sequence": [{"event": "a"}]}, "sequence: must be a list of at least two steps"),
        (
            {"sequence": [{"event": "a"}, {"event": "b", "where": [{"property": "x", "op": "zz"}]}]},
            "sequence[1].where[0].op: unknown operator",
        ),
        ({"last_event": "a"}, "last_event: give exactly one of older_than_days or within_days"),
        ({"consent": "pigeon"}, "consent: must be one of"),
        ({"trait": "a..b", "op": "exists"}, "trait: must be a dotted path"),
        ({"trait": "a", "op": "exists", "value": 1}, "trait.value: exists takes no value"),
        ({"trait": "a", "op": "in", "value": []}, "trait.value: must be a non-empty list"),
        ({"trait": "a", "op": "between", "value": [5, 1]}, "trait.value: the low end must not be above"),
        (
            {"trait": "a", "op": "before", "value": "2024-02-30"},
            "trait.value: '2024-02-30' is not an ISO 8601 date",
        ),
        (
            {"trait": "a", "op": "within_last_days", "value": -2},
            "trait.value: must be a non-negative integer",
        ),
        ({"trait": "a", "op": "eq", "value": "x", "colour": 1}, "colour: unknown key"),
    ],
)
def test_each_kind_of_error_names_its_path(rule, expected):
    report = validate_rule(rule, check_catalogue=False, audiences={})
    assert any(str(e).startswith(expected) for e in report.errors), [str(e) for e in report.errors]


def test_a_valid_rule_with_every_form_has_no_errors():
    rule = {
        "all": [
            {"trait": "address.country", "op": "in", "value": ["US", "DE"]},
            {"tag": "vip"},
            {
                "event": "Order Completed",
                "count": {"gte": 2},
                "sum": {"property": "revenue", "gt": 100},
                "within_days": 90,
            },
            {"not": {"event": "Email Link Clicked", "within_days": 30}},
            {"sequence": [{"event": "Product Viewed"}, {"event": "Order Completed"}], "within_days": 7},
            {"last_event": "Order Completed", "older_than_days": 60},
            {"consent": "email", "topic": "marketing"},
            {
                "any": [
                    {"trait": "birthday", "op": "within_last_days", "value": 7},
                    {"trait": "plan", "op": "exists"},
                ]
            },
        ]
    }
    report = validate_rule(rule, check_catalogue=False, audiences={})
    assert report.ok, report.errors


@pytest.mark.django_db
def test_unknown_audiences_are_errors_and_cycles_are_refused():
    Audience.objects.create(slug="a", name="A", rule={"audience": "b"})
    Audience.objects.create(slug="b", name="B", rule={"tag": "x"})
    assert "no audience with slug 'nope'" in str(
        validate_rule({"audience": "nope"}, check_catalogue=False).errors[0]
    )
    # Editing b to refer to a would close the loop a → b → a.
    report = validate_rule({"audience": "a"}, audience_slug="b", check_catalogue=False)
    assert [e.path for e in report.errors] == ["audience"]
    assert "cycle" in report.errors[0].message
    assert (
        "cannot include itself"
        in validate_rule({"audience": "b"}, audience_slug="b", check_catalogue=False).errors[0].message
    )


@pytest.mark.django_db
def test_unknown_event_names_and_traits_are_warnings_only():
    catalogue_note(kind="event", names=["Order Completed"])
    catalogue_note(kind="trait", names=["plan"])
    report = validate_rule(
        {
            "all": [
                {"event": "Order Complete"},
                {"event": "Order Completed"},
                {"trait": "plann", "op": "exists"},
                {"trait": "plan.tier", "op": "exists"},
            ]
        }
    )
    assert report.ok
    assert [w.path for w in report.warnings] == ["all[0].event", "all[2].trait"]
