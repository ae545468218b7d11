"""The condition language has one meaning: the Python evaluator journeys use on live events, the SQL
audiences (and analytics) run over stored history, and the validation all of them share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F

from audiences.compiler import profiles_matching
from audiences.rules import validate_rule
from audiences.testing import event_add, profile_add
from journeys.definition import definition_validate
from journeys.models import Run
from journeys.testing import event_emit, journey_live
from tracking.conditions import (
    Condition,
    condition_matches,
    condition_sql,
    condition_validate,
    event_matches,
)
from tracking.models import Event

pytestmark = pytest.mark.django_db
NOW = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def sql_matches(cond: dict, props: dict) -> bool:
    """The condition's SQL run by PostgreSQL on one stored event's properties."""
    event = event_add(profile=profile_add(), name="Probe", at=NOW, properties=props)
    sql, params = condition_sql(cond=cond, column="properties", now=NOW)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql} FROM tracking_event WHERE id = %s", [*params, event.pk])
        return cursor.fetchone()[0]


CASES = [
    # (condition, properties, expected): the documented semantics, pinned.
    ({"property": "title", "op": "contains", "value": "Shoes"}, {"title": "red shoes"}, False),
    ({"property": "title", "op": "contains", "value": "shoes"}, {"title": "red shoes"}, True),
    ({"property": "title", "op": "starts_with", "value": "Red"}, {"title": "red shoes"}, False),
    ({"property": "total", "op": "eq", "value": 42}, {"total": "42"}, False),
    ({"property": "total", "op": "eq", "value": 42}, {"total": 42.0}, True),
    ({"property": "total", "op": "eq", "value": "42"}, {"total": 42}, False),
    ({"property": "total", "op": "gt", "value": 10}, {"total": "42"}, False),
    ({"property": "total", "op": "neq", "value": 42}, {"total": "42"}, True),
    ({"property": "total", "op": "neq", "value": 42}, {}, True),
    ({"property": "flag", "op": "eq", "value": True}, {"flag": 1}, False),
    ({"property": "products.sku", "op": "in", "value": ["B2"]}, {"products": [{"sku": "A1"}, {"sku": "B2"}]}, True),
    ({"property": "plan", "op": "exists", "value": None}, {"plan": "pro"}, True),
    ({"property": "plan", "op": "exists", "value": None}, {"plan": None}, False),
    ({"property": "plan", "op": "not_exists"}, {}, True),
    ({"property": "when", "op": "after", "value": "2031-04-30"}, {"when": "2031-04-30T08:00:00Z"}, True),
    ({"property": "when", "op": "within_last_days", "value": 3}, {"when": "2031-04-29T12:00:00+02:00"}, True),
    ({"property": "when", "op": "within_last_days", "value": 3}, {"when": "2031-04-20"}, False),
    ({"property": "when", "op": "between", "value": ["2031-04-01", "2031-04-30"]}, {"when": "2031-04-30T23:00:00Z"}, True),
]  # fmt: skip


@pytest.mark.parametrize(("cond", "props", "expected"), CASES)
def test_python_and_sql_give_the_documented_answer(cond, props, expected):
    assert condition_validate(cond=cond, path="c") == []
    assert condition_matches(cond=cond, props=props, now=NOW) is expected
    assert sql_matches(cond, props) is expected


def test_a_journey_entry_uses_the_same_meaning_as_an_audience():
    # journeys/conds.py used to lower-case contains and coerce "42" to 42; audiences never did.
    journey_live(
        {
            "slug": "shoes",
            "name": "Shoes",
            "entry": {
                "event": "Viewed",
                "where": [
                    {"property": "title", "op": "contains", "value": "Shoes"},
                    {"property": "size", "op": "eq", "value": 42},
                ],
            },
            "stages": [{"key": "done", "exit": True}],
        }
    )
    lower, text, right = profile_add(), profile_add(), profile_add()
    event_emit(profile=lower, name="Viewed", at=NOW, properties={"title": "red shoes", "size": 42})
    event_emit(profile=text, name="Viewed", at=NOW, properties={"title": "Red Shoes", "size": "42"})
    event_emit(profile=right, name="Viewed", at=NOW, properties={"title": "Red Shoes", "size": 42})
    assert set(Run.objects.values_list("profile_id", flat=True)) == {right.pk}
    rule = {
        "event": "Viewed",
        "within_days": 1,
        "where": [
            {"property": "title", "op": "contains", "value": "Shoes"},
            {"property": "size", "op": "eq", "value": 42},
        ],
    }
    assert set(profiles_matching(rule, now=NOW + timedelta(hours=1)).values_list("pk", flat=True)) == {
        right.pk
    }


def test_exists_with_a_null_value_is_the_same_as_no_value():
    assert validate_rule({"trait": "plan", "op": "exists", "value": None}, check_catalogue=False).ok
    assert validate_rule({"trait": "plan", "op": "not_exists", "value": None}, check_catalogue=False).ok
    report = validate_rule({"trait": "plan", "op": "exists", "value": "pro"}, check_catalogue=False)
    assert [str(e) for e in report.errors] == ["trait.value: exists takes no value"]
    with_plan, without = profile_add(traits={"plan": "pro"}), profile_add(traits={"plan": None})
    rule = {"trait": "plan", "op": "exists", "value": None}
    assert list(profiles_matching(rule).values_list("pk", flat=True)) == [with_plan.pk]
    rule = {"trait": "plan", "op": "not_exists", "value": None}
    assert list(profiles_matching(rule).values_list("pk", flat=True)) == [without.pk]
    where = [{"property": "coupon", "op": "exists", "value": None}]
    report = definition_validate(
        {
            "slug": "j",
            "name": "J",
            "entry": {"event": "Signed Up", "where": where},
            "stages": [{"key": "done", "exit": True}],
        },
        check_references=False,
    )
    assert report.ok, report.errors


def test_validation_names_each_problem_by_its_path():
    errors = condition_validate(
        cond={"property": "a..b", "op": "between", "value": [5, "x"], "extra": 1}, path="steps[1].where[0]"
    )
    assert [str(e) for e in errors] == [
        "steps[1].where[0].extra: unknown key",
        "steps[1].where[0].property: must be a dotted path such as address.country",
        "steps[1].where[0].value[1]: 'x' is not a number or an ISO 8601 date",
    ]
    assert [str(e) for e in condition_validate(cond={"op": "eq", "value": 1}, path="w")] == [
        "w.property: is required"
    ]
    assert [str(e) for e in condition_validate(cond="plan", path="w")] == [
        "w: must be an object with property, op and value"
    ]
    errors = condition_validate(cond={"trait": "plan", "op": "equals", "value": 1}, path="t", subject="trait")
    assert len(errors) == 1 and str(errors[0]).startswith("t.op: unknown operator 'equals'; use one of: eq")


def test_the_orm_expression_and_event_matches_agree_with_the_evaluator():
    profile = profile_add()
    props = [{"total": 30, "tags": ["sale", "new"]}, {"total": "30"}, {"total": 5, "tags": "sale"}]
    events = [event_add(profile=profile, name="Order", at=NOW, properties=p) for p in props]
    cond = {"property": "tags", "op": "eq", "value": "sale"}
    got = set(
        Event.objects.filter(Condition(F("properties"), cond=cond, now=NOW)).values_list("pk", flat=True)
    )
    assert got == {events[0].pk, events[2].pk}
    match = {"event": "Order", "where": [cond, {"property": "total", "op": "gte", "value": 10}]}
    assert [event_matches(name="Order", properties=p, match=match, now=NOW) for p in props] == [
        True,
        False,
        False,
    ]
    assert not event_matches(name="Refund", properties=props[0], match=match, now=NOW)
