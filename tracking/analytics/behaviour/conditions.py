"""The one seam between behaviour analytics and the condition language (property, op, value).

Funnel steps, exclusions and retention events filter on event properties with the same conditions
audiences and journeys use. Until tracking's own module (tracking/conditions.py) lands, this is a
small interim implementation of the documented semantics (docs/audiences.md: case-sensitive,
type-strict, dotted paths through lists match any element) for the operators analytics offers;
switching to tracking's module is a change to these two functions only.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

OPS = (
    "eq",
    "neq",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "exists",
    "not_exists",
)
NEGATED = {"neq": "eq", "not_in": "in", "not_exists": "exists"}
COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
PATH_SEGMENT_RE = re.compile(r"^[^.\s][^.]*$")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def condition_errors(*, cond: Any, path: str) -> list[tuple[str, str]]:
    """Every problem of one `{"property": PATH, "op": OP, "value": V}` at `path`, as (path, message)."""
    if not isinstance(cond, dict):
        return [(path, "must be an object with property, op and value")]
    errors = [(f"{path}.{k}", "unknown key") for k in cond if k not in ("property", "op", "value")]
    prop = cond.get("property")
    if not isinstance(prop, str) or not prop or not all(PATH_SEGMENT_RE.match(s) for s in prop.split(".")):
        errors.append((f"{path}.property", "must be a dotted path such as address.country"))
    op, value = cond.get("op"), cond.get("value")
    if op not in OPS:
        errors.append((f"{path}.op", f"unknown operator {op!r}; use one of: " + ", ".join(OPS)))
        return errors
    vpath = f"{path}.value"
    if op in ("exists", "not_exists"):
        if "value" in cond:
            errors.append((vpath, f"{op} takes no value"))
    elif "value" not in cond:
        errors.append((vpath, "is required"))
    elif op in ("eq", "neq") and not _is_scalar(value):
        errors.append((vpath, "must be a string, number or boolean"))
    elif op in ("in", "not_in") and (
        not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value)
    ):
        errors.append((vpath, "must be a non-empty list of strings, numbers or booleans"))
    elif op in COMPARE and not _is_number(value):
        errors.append((vpath, "must be a number"))
    elif op == "between" and (
        not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value)
    ):
        errors.append((vpath, "must be a list of two numbers [low, high]"))
    elif op == "between" and value[0] > value[1]:
        errors.append((vpath, "the low end must not be above the high end"))
    elif op in ("contains", "starts_with") and (not isinstance(value, str) or not value):
        errors.append((vpath, "must be a non-empty string"))
    return errors


def condition_sql(*, cond: dict[str, Any], column: str) -> tuple[str, list[Any]]:
    """A valid condition as a boolean SQL expression over the jsonb `column` (never NULL).

    Lax jsonpath gives the language's semantics: numbers compare as numbers, strings as strings,
    booleans as booleans, and a list along the path stands for its elements.
    """
    op, value = cond["op"], cond.get("value")
    positive = NEGATED.get(op, op)
    base = "$" + "".join(
        '."' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in cond["property"].split(".")
    )
    variables: dict[str, Any] = {}
    if positive == "eq":
        flt, variables = "@ == $v", {"v": value}
    elif positive == "in":
        flt, variables = "@ == $v[*]", {"v": value}
    elif positive in COMPARE:
        flt, variables = f"@ {COMPARE[positive]} $v", {"v": value}
    elif positive == "between":
        flt, variables = "@ >= $lo && @ <= $hi", {"lo": value[0], "hi": value[1]}
    elif positive == "contains":
        # like_regex takes a literal only: escape punctuation so the text matches as itself.
        escaped = "".join("\\" + c if (c.isascii() and not c.isalnum()) else c for c in value)
        flt = "@ like_regex " + '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif positive == "starts_with":
        flt, variables = "@ starts with $v", {"v": value}
    else:  # exists
        flt = '@.type() != "null"'
    sql = f"COALESCE(jsonb_path_exists({column}, %s::jsonpath, %s::jsonb, true), false)"
    params: list[Any] = [f"{base} ? ({flt})", json.dumps(variables, default=str)]
    return (f"(NOT {sql})" if op in NEGATED else sql), params


def conditions_sql(*, conds: list[dict[str, Any]], column: str) -> tuple[str, list[Any]]:
    """All conditions ANDed (TRUE for none)."""
    parts, params = [], []
    for cond in conds:
        sql, p = condition_sql(cond=cond, column=column)
        parts.append(sql)
        params += p
    return (" AND ".join(parts) if parts else "TRUE"), params
