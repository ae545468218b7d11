"""Conds (the audience Cond language) evaluated on one event in Python.

Journeys need to know whether a single incoming event matches {"event": NAME, "where": [Cond…]}; the
audience compiler answers questions over stored history in SQL. The semantics follow the audience
rule language: dotted paths, a list anywhere on the path matches if any element does; numbers,
strings, booleans and ISO dates compare as their types.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

OPS = {
    "eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "starts_with",
    "exists", "not_exists", "before", "after", "within_last_days", "more_than_days_ago",
}  # fmt: skip
_MISSING = object()


def conds_validate(conds: Any) -> list[tuple[str, str]]:
    """(path suffix, message) for each malformed cond; used only when audiences is not installed."""
    issues: list[tuple[str, str]] = []
    if not isinstance(conds, list):
        return [("", "must be a list of conditions")]
    for i, cond in enumerate(conds):
        if not isinstance(cond, dict):
            issues.append((f"[{i}]", 'must be {"property": PATH, "op": OP, "value": V}'))
            continue
        if not isinstance(cond.get("property"), str) or not cond["property"]:
            issues.append((f"[{i}].property", "must be a dotted property path"))
        if cond.get("op") not in OPS:
            issues.append((f"[{i}].op", f"unknown operator {cond.get('op')!r}"))
        elif cond["op"] not in ("exists", "not_exists") and "value" not in cond:
            issues.append((f"[{i}].value", "is required"))
    return issues


def event_matches(*, name: str, properties: dict, match: dict, now: datetime | None = None) -> bool:
    """Whether an event (name + properties) satisfies {"event": NAME, "where": [Cond…]}."""
    if name != match.get("event"):
        return False
    return all(cond_matches(properties, cond, now=now) for cond in match.get("where", []))


def cond_matches(properties: dict, cond: dict, *, now: datetime | None = None) -> bool:
    values = _values_at(properties, cond["property"].split("."))
    op, expected = cond["op"], cond.get("value")
    if op == "exists":
        return bool(values)
    if op == "not_exists":
        return not values
    if op in ("neq", "not_in"):
        return not any(_compare(v, "eq" if op == "neq" else "in", expected, now) for v in values)
    return any(_compare(v, op, expected, now) for v in values)


def _values_at(obj: Any, parts: list[str]) -> list[Any]:
    if not parts:
        if isinstance(obj, list):
            return [v for v in obj if v is not None]
        return [] if obj is None else [obj]
    if isinstance(obj, list):
        return [v for item in obj for v in _values_at(item, parts)]
    if isinstance(obj, dict) and parts[0] in obj:
        return _values_at(obj[parts[0]], parts[1:])
    return []


def _as_date(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, str):
        try:
            d = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    return None


def _coerce(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return (actual, expected) if isinstance(actual, bool) and isinstance(expected, bool) else None
    if isinstance(expected, int | float):
        try:
            return float(actual), float(expected)
        except (TypeError, ValueError):
            return None
    if isinstance(expected, str) and isinstance(actual, str):
        da, de = _as_date(actual), _as_date(expected)
        if da and de and len(expected) >= 10 and expected[4:5] == "-":
            return da, de
        return actual, expected
    return (actual, expected) if type(actual) is type(expected) else None


def _compare(actual: Any, op: str, expected: Any, now: datetime | None) -> bool:
    if op == "in":
        return any(_compare(actual, "eq", e, now) for e in (expected or []))
    if op == "between":
        low, high = expected
        return _compare(actual, "gte", low, now) and _compare(actual, "lte", high, now)
    if op == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected.lower() in actual.lower()
        return False
    if op == "starts_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    if op in ("before", "after"):
        a, e = _as_date(actual), _as_date(expected)
        return bool(a and e and (a < e if op == "before" else a > e))
    if op in ("within_last_days", "more_than_days_ago"):
        a = _as_date(actual)
        if a is None:
            return False
        cutoff = (now or datetime.now(UTC)) - timedelta(days=float(expected))
        return a >= cutoff if op == "within_last_days" else a < cutoff
    pair = _coerce(actual, expected)
    if pair is None:
        return False
    a, e = pair
    try:
        return {
            "eq": a == e,
            "gt": a > e,
            "gte": a >= e,
            "lt": a < e,
            "lte": a <= e,
        }[op]
    except TypeError:
        return False
