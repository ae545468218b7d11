"""The one seam between behaviour analytics and the condition language (property, op, value).

Funnel steps, exclusions and retention events filter on event properties with the same conditions
audiences and journeys use: tracking's condition language (tracking/conditions.py — one meaning,
validated, compiled to SQL and evaluated in Python in one place). This module only adapts its
validation errors to the (path, message) pairs the analyses report.
"""

from __future__ import annotations

from typing import Any

from tracking.conditions import OPS, condition_sql, condition_validate

__all__ = ["OPS", "condition_errors", "conditions_sql"]


def condition_errors(*, cond: Any, path: str) -> list[tuple[str, str]]:
    """Every problem of one `{"property": PATH, "op": OP, "value": V}` at `path`, as (path, message)."""
    return [(e.path, e.message) for e in condition_validate(cond=cond, path=path)]


def conditions_sql(*, conds: list[dict[str, Any]], column: str) -> tuple[str, list[Any]]:
    """All (valid) conditions ANDed as SQL over the jsonb `column` (TRUE for none)."""
    parts, params = [], []
    for cond in conds:
        sql, p = condition_sql(cond=cond, column=column)
        parts.append(sql)
        params += p
    return (" AND ".join(parts) if parts else "TRUE"), params
